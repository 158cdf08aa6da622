// Package webclient is the browser console's client of leasectl's gateway
// (`leasectl serve`): it speaks the wire format of package webapi over
// net/http — in a browser, built for GOOS=js, through the fetch API — and
// gives the console (package tui) one Backend per store, so that the
// console cannot tell a store behind the gateway from one opened in its
// own process.
//
// Everything the gateway sends is converted through webapi's conversions,
// and the errors of an operator action are rebuilt with webapi.Error.ToError,
// so that the console sees lease.Operator.Do's own errors. The client never
// names the operator it writes as: the gateway acts as the session's.
package webclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/leasectl/leasectl/audit"
	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/webapi"
)

// HTTP statuses the client tells apart (net/http's values; the package
// does not import net/http in a browser, see transport_js.go).
const (
	statusOK           = 200
	statusUnauthorized = 401
	statusNotFound     = 404
)

// ErrUnauthorized matches the error of a request the gateway refused for
// want of a valid session (HTTP 401): log in, then ask again.
var ErrUnauthorized = errors.New("webclient: not logged in")

// ErrNoGateway matches the error of a session request answered 404: the
// page is served by a plain static server, not by `leasectl serve`.
var ErrNoGateway = errors.New("webclient: no gateway")

// maxErrorBody bounds how much of a failed answer is read for its message.
const maxErrorBody = 64 << 10

// StatusError is a request the gateway answered with an HTTP error status
// and, when it said why, its webapi.Error.
type StatusError struct {
	// Status is the HTTP status code.
	Status int
	// Err is the gateway's error; its Code is empty when the answer had
	// none (a proxy's page, say).
	Err webapi.Error
}

// Error implements error.
func (e *StatusError) Error() string {
	msg := fmt.Sprintf("webclient: HTTP %d", e.Status)
	switch {
	case e.Err.Message != "":
		msg += ": " + e.Err.Message
	case e.Err.Code != "":
		msg += ": " + e.Err.Code
	}
	return msg
}

// Is matches ErrUnauthorized for a 401, and errors.ErrUnsupported for the
// code webapi.CodeUnsupported.
func (e *StatusError) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.Status == statusUnauthorized
	case errors.ErrUnsupported:
		return e.Err.Code == webapi.CodeUnsupported
	}
	return false
}

// Client talks to one gateway. It is safe for concurrent use.
type Client struct {
	base *url.URL
	t    transport
	now  func() time.Time
	th   lease.Thresholds
}

// response is an answer of the gateway: its status, and its body as it
// arrives.
type response struct {
	status int
	body   io.ReadCloser
}

// Option configures a Client.
type Option func(*Client) error

// WithClock sets the clock the results of actions are classified at, as
// the console's rows are (tui.Options.Now); default time.Now.
func WithClock(now func() time.Time) Option {
	return func(c *Client) error {
		if now == nil {
			return errors.New("webclient: nil clock")
		}
		c.now = now
		return nil
	}
}

// WithThresholds sets the thresholds the results of actions are
// classified with (tui.Options.Thresholds); default
// lease.DefaultThresholds().
func WithThresholds(th lease.Thresholds) Option {
	return func(c *Client) error {
		c.th = th
		return nil
	}
}

// New returns a client of the gateway at baseURL (scheme and host, e.g.
// the page's own origin); it sends nothing yet.
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("webclient: base URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("webclient: base URL %q: want http(s)://host[:port]", baseURL)
	}
	c := &Client{base: &url.URL{Scheme: u.Scheme, Host: u.Host}, t: defaultTransport(), now: time.Now, th: lease.DefaultThresholds()}
	for _, opt := range opts {
		if err := opt(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Dial returns a client of the gateway at baseURL and the session it is
// in. The error matches ErrUnauthorized when there is no valid session
// yet (Login, then Session), and ErrNoGateway when baseURL does not serve
// the API at all.
func Dial(ctx context.Context, baseURL string, opts ...Option) (*Client, webapi.Session, error) {
	c, err := New(baseURL, opts...)
	if err != nil {
		return nil, webapi.Session{}, err
	}
	s, err := c.Session(ctx)
	if err != nil {
		return nil, webapi.Session{}, err
	}
	return c, s, nil
}

// Session returns who the client acts as and the stores it may see
// (webapi.PathSession). Its error matches ErrUnauthorized or ErrNoGateway
// as Dial's does.
func (c *Client) Session(ctx context.Context) (webapi.Session, error) {
	var s webapi.Session
	err := c.getJSON(ctx, webapi.PathSession, nil, &s)
	var se *StatusError
	if errors.As(err, &se) && se.Status == statusNotFound {
		return s, fmt.Errorf("%w: %w", ErrNoGateway, err)
	}
	return s, err
}

// Login exchanges token for a session (webapi.PathLogin): the gateway
// sets the session's cookie and answers the session. A refused token is
// an error matching ErrUnauthorized.
func (c *Client) Login(ctx context.Context, token string) (webapi.Session, error) {
	body, err := json.Marshal(webapi.Login{Token: token})
	if err != nil {
		return webapi.Session{}, err
	}
	resp, err := c.do(ctx, methodPost, webapi.PathLogin, nil, body)
	if err != nil {
		return webapi.Session{}, err
	}
	defer resp.body.Close()
	if resp.status != statusOK {
		return webapi.Session{}, statusError(resp)
	}
	var s webapi.Session
	if err := json.NewDecoder(resp.body).Decode(&s); err != nil {
		return webapi.Session{}, fmt.Errorf("webclient: login: %w", err)
	}
	return s, nil
}

// Stores returns every store and its health (webapi.PathStores).
func (c *Client) Stores(ctx context.Context) ([]webapi.Store, error) {
	var s webapi.Stores
	if err := c.getJSON(ctx, webapi.PathStores, nil, &s); err != nil {
		return nil, err
	}
	return s.Stores, nil
}

// Entries implements tui.AuditSource: the server's audit log
// (webapi.PathAudit), oldest first, as the console's audit view shows it.
func (c *Client) Entries(ctx context.Context) ([]audit.Entry, error) {
	var ws []webapi.AuditEntry
	if err := c.getJSON(ctx, webapi.PathAudit, nil, &ws); err != nil {
		return nil, err
	}
	entries := make([]audit.Entry, len(ws))
	for i, w := range ws {
		entries[i] = w.ToAuditEntry()
	}
	return entries, nil
}

// storePath is pattern (one of webapi's store-scoped paths) for store.
func storePath(pattern, store string) string {
	return strings.Replace(pattern, "{store}", url.PathEscape(store), 1)
}

// Methods the client sends.
const (
	methodGet  = "GET"
	methodPost = "POST"
)

// do sends one request to the gateway: every request carries
// webapi.RequestHeader, and a POST its JSON body (and, outside a browser,
// which sets it itself, the Origin header the gateway checks). The
// answer's body is read as it arrives and must be closed.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body []byte) (*response, error) {
	u := *c.base
	u.Path = path
	u.RawQuery = query.Encode()
	header := map[string]string{webapi.RequestHeader: "1"}
	if body != nil {
		header["Content-Type"] = "application/json"
	}
	resp, err := c.t.roundTrip(ctx, method, u.String(), c.base.String(), header, body)
	if err != nil {
		return nil, fmt.Errorf("webclient: %s %s: %w", method, path, err)
	}
	return resp, nil
}

// getJSON GETs path and decodes its JSON answer into v.
func (c *Client) getJSON(ctx context.Context, path string, query url.Values, v any) error {
	resp, err := c.do(ctx, methodGet, path, query, nil)
	if err != nil {
		return err
	}
	defer resp.body.Close()
	if resp.status != statusOK {
		return statusError(resp)
	}
	if err := json.NewDecoder(resp.body).Decode(v); err != nil {
		return fmt.Errorf("webclient: GET %s: %w", path, err)
	}
	return nil
}

// statusError reads the error of a failed answer (webapi.ErrorAnswer).
func statusError(resp *response) error {
	e := &StatusError{Status: resp.status}
	var a webapi.ErrorAnswer
	if json.NewDecoder(io.LimitReader(resp.body, maxErrorBody)).Decode(&a) == nil {
		e.Err = a.Error
	}
	return e
}
