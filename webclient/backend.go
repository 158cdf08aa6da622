package webclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/tui"
	"github.com/leasectl/leasectl/webapi"
)

// Backend is the console's Backend (tui.Backend) of one store behind the
// gateway. It is safe for concurrent use.
type Backend struct {
	c      *Client
	store  webapi.Store
	holder string
}

var _ tui.Backend = (*Backend)(nil)

// The console reads the server's audit log through the client.
var _ tui.AuditSource = (*Client)(nil)

// Backend returns the Backend of the store named name in session s (as
// Session or Login answered it); the error says when s has no such store.
func (c *Client) Backend(s webapi.Session, name string) (*Backend, error) {
	for _, st := range s.Stores {
		if st.Name == name {
			return &Backend{c: c, store: st, holder: s.Holder}, nil
		}
	}
	return nil, fmt.Errorf("webclient: the session has no store %q", name)
}

// Store returns the store as the session described it.
func (b *Backend) Store() webapi.Store { return b.store }

// Holder implements tui.Backend: the session's holder id, as the gateway
// writes it.
func (b *Backend) Holder() string { return b.holder }

// List implements tui.Backend with one request (webapi.PathLeases), read
// as it arrives: a listing of many keys is never held twice.
func (b *Backend) List(ctx context.Context) ([]stores.Entry, error) {
	path := storePath(webapi.PathLeases, b.store.Name)
	resp, err := b.c.do(ctx, methodGet, path, nil, nil)
	if err != nil {
		return nil, err
	}
	defer resp.body.Close()
	if resp.status != statusOK {
		return nil, statusError(resp)
	}
	entries, err := decodeEntries(json.NewDecoder(resp.body))
	if err != nil {
		return nil, fmt.Errorf("webclient: GET %s: %w", path, err)
	}
	return entries, nil
}

// History implements tui.Backend (webapi.PathHistory). Its error matches
// errors.ErrUnsupported when the store keeps no history, and
// stores.ErrNotFound when the gateway answers that it has none of key.
func (b *Backend) History(ctx context.Context, key string) ([]stores.Entry, error) {
	path := storePath(webapi.PathHistory, b.store.Name)
	resp, err := b.c.do(ctx, methodGet, path, url.Values{"key": {key}}, nil)
	if err != nil {
		return nil, err
	}
	defer resp.body.Close()
	if resp.status != statusOK {
		err := statusError(resp)
		var se *StatusError
		if errors.As(err, &se) && se.Status == statusNotFound && se.Err.Code == webapi.CodeNotFound {
			return nil, fmt.Errorf("%w: %w", stores.ErrNotFound, err)
		}
		return nil, err
	}
	entries, err := decodeEntries(json.NewDecoder(resp.body))
	if err != nil {
		return nil, fmt.Errorf("webclient: GET %s: %w", path, err)
	}
	return entries, nil
}

// decodeEntries reads a JSON object whose "entries" member is an array of
// webapi.Entry (webapi.Listing, webapi.History) one entry at a time,
// converting each as it comes; other members are skipped.
func decodeEntries(d *json.Decoder) ([]stores.Entry, error) {
	if err := expectDelim(d, '{'); err != nil {
		return nil, err
	}
	entries := []stores.Entry{}
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		if name, _ := tok.(string); name != "entries" {
			var skip json.RawMessage
			if err := d.Decode(&skip); err != nil {
				return nil, err
			}
			continue
		}
		if tok, err := d.Token(); err != nil {
			return nil, err
		} else if tok == nil {
			continue // "entries": null
		} else if tok != json.Delim('[') {
			return nil, fmt.Errorf("entries: got %v, want an array", tok)
		}
		for d.More() {
			var w webapi.Entry
			if err := d.Decode(&w); err != nil {
				return nil, err
			}
			e, err := w.ToEntry()
			if err != nil {
				return nil, err
			}
			entries = append(entries, e)
		}
		if err := expectDelim(d, ']'); err != nil {
			return nil, err
		}
	}
	if err := expectDelim(d, '}'); err != nil {
		return nil, err
	}
	return entries, nil
}

func expectDelim(d *json.Decoder, want json.Delim) error {
	tok, err := d.Token()
	if err != nil {
		return err
	}
	if tok != want {
		return fmt.Errorf("got %v, want %v", tok, want)
	}
	return nil
}

// Do implements tui.Backend: it POSTs the action (webapi.PathActions) and
// rebuilds the gateway's answer, so that its Result and error are those
// lease.Operator.Do gave on the server — *lease.ChangedError,
// *lease.AuditError, *lease.RequestError (matching stores.ErrReadOnly on
// a read-only store), lease.ErrHeld — classified at the client's clock. A
// refusal of the request itself (no session, cross-site, too large) is a
// *StatusError.
//
// The gateway always acts as the session's operator against the revision
// seen: a request with Holder or AnyRevision set is refused here, as a
// *lease.RequestError, rather than run as something else. A revert sends
// the id it reverts and the reason, never a value: the gateway writes
// back what its own audit log holds for that id.
func (b *Backend) Do(ctx context.Context, req lease.Request) (lease.Result, error) {
	if req.Holder != "" || req.AnyRevision {
		return lease.Result{}, &lease.RequestError{Err: errors.New("webclient: the gateway acts as the session's holder, against the revision seen")}
	}
	body, err := json.Marshal(webapi.FromRequest(req))
	if err != nil {
		return lease.Result{}, fmt.Errorf("webclient: %w", err)
	}
	path := storePath(webapi.PathActions, b.store.Name)
	resp, err := b.c.do(ctx, methodPost, path, nil, body)
	if err != nil {
		return lease.Result{}, err
	}
	defer resp.body.Close()
	var a webapi.ActionAnswer
	if err := json.NewDecoder(resp.body).Decode(&a); err != nil {
		if resp.status != statusOK {
			return lease.Result{}, &StatusError{Status: resp.status}
		}
		return lease.Result{}, fmt.Errorf("webclient: POST %s: %w", path, err)
	}
	now := b.c.now()
	res, err := a.Result.ToResult(b.store.Name, now, b.c.th)
	if err != nil {
		return lease.Result{}, fmt.Errorf("webclient: POST %s: %w", path, err)
	}
	switch {
	case a.Error == nil && resp.status == statusOK:
		return res, nil
	case a.Error == nil:
		return res, &StatusError{Status: resp.status}
	}
	switch a.Error.Code {
	case webapi.CodeChanged, webapi.CodeHeld, webapi.CodeInvalid, webapi.CodeReadOnly,
		webapi.CodeAudit, webapi.CodeStore, webapi.CodeUnsupported:
		return res, a.Error.ToError(b.store.Name, now, b.c.th)
	}
	return res, &StatusError{Status: resp.status, Err: *a.Error}
}
