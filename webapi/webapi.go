// Package webapi is the wire format of leasectl's gateway: the JSON shapes
// that `leasectl serve` (package gateway) answers with and that the
// browser's console (package webclient) sends and reads, and the paths they
// live at. Both sides convert through this package only, so that they
// cannot disagree; docs/gateway.md describes the API as a whole.
//
// Store data crosses as it is stored: a key or value that is valid UTF-8
// travels as a JSON string, any other as base64 of its exact bytes in a
// *_b64 field (JSON strings cannot carry invalid UTF-8 without losing it).
package webapi

import (
	"encoding/base64"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/leasectl/leasectl/audit"
	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores"
)

// Paths of the API. Store-scoped paths take the configured store name (a
// path-safe name: letters, digits, '.', '_', '-') in place of {store}, and a
// key, where one is needed, as the query parameter "key" (URL-encoded, any
// bytes).
const (
	// PathPrefix is the root of every API path; everything under it needs
	// a session.
	PathPrefix = "/api/v1/"
	// PathLogin (POST, Login) exchanges a token for a session cookie. It is
	// the only API path that answers without a session.
	PathLogin = "/api/v1/login"
	// PathSession (GET) answers Session.
	PathSession = "/api/v1/session"
	// PathStores (GET) answers Stores: every store and its health.
	PathStores = "/api/v1/stores"
	// PathLeases (GET) answers Listing: every key in the store's scope.
	PathLeases = "/api/v1/stores/{store}/leases"
	// PathKey (GET ?key=) answers Key: one key, found or not.
	PathKey = "/api/v1/stores/{store}/key"
	// PathHistory (GET ?key=) answers History.
	PathHistory = "/api/v1/stores/{store}/history"
	// PathEvents (GET) is the store's watch as Server-Sent Events: every
	// message's data is a JSON array of Event, in order.
	PathEvents = "/api/v1/stores/{store}/events"
	// PathActions (POST, Action) runs an operator action; answers
	// ActionAnswer.
	PathActions = "/api/v1/stores/{store}/actions"
	// PathAudit (GET) answers the server's audit log: a JSON array of
	// AuditEntry, oldest first, of the stores the server serves.
	PathAudit = "/api/v1/audit"
)

// RequestHeader must be set (to "1") on every API request: an HTML form
// or a simple cross-site request cannot set it, so a POST without it is
// refused as cross-site.
const RequestHeader = "X-Leasectl"

// SessionCookie is the name of the HttpOnly, SameSite=Strict cookie that
// carries a session.
const SessionCookie = "leasectl_session"

// Login is the body of a POST to PathLogin.
type Login struct {
	// Token is the one-time token printed by `leasectl serve`, or an
	// operator's token.
	Token string `json:"token"`
}

// Session is who the page acts as and what it may do, as the server
// decided: the page never names its operator.
type Session struct {
	// Operator is the authenticated operator's name, as audited.
	Operator string `json:"operator"`
	// Holder is the holder id acquire and takeover write for them.
	Holder string `json:"holder"`
	// ReadOnly is set when this operator, or the whole server, may not
	// write.
	ReadOnly bool `json:"read_only"`
	// Stores are the configured stores, in configuration order.
	Stores []Store `json:"stores"`
}

// Store is one configured store as the page sees it.
type Store struct {
	// Name is the configured name.
	Name string `json:"name"`
	// Kind is the driver: "etcd", "consul", "nats" or "memory".
	Kind string `json:"kind"`
	// Prefix is the scope of the store's keys.
	Prefix string `json:"prefix"`
	// ReadOnly is set when this session may not write to the store.
	ReadOnly bool `json:"read_only"`
	// Watch and History say which optional capabilities the store has.
	Watch   bool `json:"watch"`
	History bool `json:"history"`
	// Color is the store's colour in the console, as configured: a Lip
	// Gloss colour, "#rrggbb" or an ANSI colour number; "" for none.
	Color string `json:"color,omitempty"`
	// Production marks a store configured as production: the console
	// shows a banner in every action dialog on it.
	Production bool `json:"production"`
	// Error is why the store is unreachable now; empty when it is healthy
	// (or its health was not asked).
	Error string `json:"error,omitempty"`
}

// Stores is the answer of PathStores.
type Stores struct {
	Stores []Store `json:"stores"`
}

// Entry is a stores.Entry on the wire.
type Entry struct {
	// Key is the key when it is valid UTF-8; otherwise it is a display
	// form and KeyB64 has the exact bytes.
	Key    string `json:"key"`
	KeyB64 string `json:"key_b64,omitempty"`
	// Value is the value when it is valid UTF-8 (empty for a tombstone);
	// otherwise ValueB64 has the exact bytes.
	Value    string `json:"value"`
	ValueB64 string `json:"value_b64,omitempty"`
	// Revision is the store's revision of the value.
	Revision uint64 `json:"revision"`
}

// FromEntry converts e for the wire.
func FromEntry(e stores.Entry) Entry {
	w := Entry{Revision: e.Revision}
	w.Key, w.KeyB64 = encodeText(e.Key)
	w.Value, w.ValueB64 = encodeText(string(e.Value))
	return w
}

// ToEntry converts w back; an invalid base64 field is an error.
func (w Entry) ToEntry() (stores.Entry, error) {
	key, err := decodeText(w.Key, w.KeyB64)
	if err != nil {
		return stores.Entry{}, fmt.Errorf("webapi: key: %w", err)
	}
	value, err := decodeText(w.Value, w.ValueB64)
	if err != nil {
		return stores.Entry{}, fmt.Errorf("webapi: value of %q: %w", key, err)
	}
	return stores.Entry{Key: key, Value: []byte(value), Revision: w.Revision}, nil
}

// encodeText is s as a JSON-safe string, or "" and base64 when s is not
// valid UTF-8 (then the string is s with invalid bytes replaced, for a
// reader that ignores the base64 field).
func encodeText(s string) (text, b64 string) {
	if utf8.ValidString(s) {
		return s, ""
	}
	return "", base64.StdEncoding.EncodeToString([]byte(s))
}

func decodeText(text, b64 string) (string, error) {
	if b64 == "" {
		return text, nil
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	return string(b), err
}

// Listing is the answer of PathLeases: every key in scope, sorted by key,
// tombstones included.
type Listing struct {
	Entries []Entry `json:"entries"`
}

// Key is the answer of PathKey.
type Key struct {
	Found bool  `json:"found"`
	Entry Entry `json:"entry"`
}

// History is the answer of PathHistory: the values the store keeps,
// oldest first, ending with the current one.
type History struct {
	Entries []Entry `json:"entries"`
}

// Event kinds on the wire.
const (
	EventPut    = "put"
	EventDelete = "delete"
	EventSynced = "synced"
	EventReset  = "reset"
	EventError  = "error"
)

// Event is a stores.Event on the wire.
type Event struct {
	Kind  string `json:"kind"`
	Entry *Entry `json:"entry,omitempty"`
	// Error is the message of an EventError.
	Error string `json:"error,omitempty"`
}

var eventKinds = map[stores.EventKind]string{
	stores.EventPut: EventPut, stores.EventDelete: EventDelete, stores.EventSynced: EventSynced,
	stores.EventReset: EventReset, stores.EventError: EventError,
}

// FromEvent converts ev for the wire.
func FromEvent(ev stores.Event) Event {
	w := Event{Kind: eventKinds[ev.Kind]}
	switch ev.Kind {
	case stores.EventPut, stores.EventDelete:
		e := FromEntry(ev.Entry)
		w.Entry = &e
	case stores.EventError:
		if ev.Err != nil {
			w.Error = ev.Err.Error()
		}
	}
	return w
}

// ToEvent converts w back.
func (w Event) ToEvent() (stores.Event, error) {
	for k, name := range eventKinds {
		if name != w.Kind {
			continue
		}
		ev := stores.Event{Kind: k}
		switch k {
		case stores.EventPut, stores.EventDelete:
			if w.Entry == nil {
				return stores.Event{}, fmt.Errorf("webapi: %s event without an entry", w.Kind)
			}
			e, err := w.Entry.ToEntry()
			if err != nil {
				return stores.Event{}, err
			}
			ev.Entry = e
		case stores.EventError:
			ev.Err = errors.New(w.Error)
		}
		return ev, nil
	}
	return stores.Event{}, fmt.Errorf("webapi: unknown event kind %q", w.Kind)
}

// Action is the body of a POST to PathActions: what the operator saw and
// typed. It names no operator and no holder: the server knows who asks.
// A revert carries no value either: the server finds the entry it reverts
// in its own audit log and writes back the value that log holds.
type Action struct {
	// Action is "acquire", "takeover", "release" or "revert".
	Action lease.Action `json:"action"`
	// Key, or KeyB64 for a key that is not valid UTF-8.
	Key    string `json:"key"`
	KeyB64 string `json:"key_b64,omitempty"`
	// Seen is the revision the operator was shown, 0 for an absent key:
	// the action is a compare-and-swap against it.
	Seen uint64 `json:"seen"`
	// TTLSeconds is the lease acquire and takeover write.
	TTLSeconds int64 `json:"ttl_seconds,omitempty"`
	// Reason goes to the audit trail.
	Reason string `json:"reason,omitempty"`
	// Reverts is, for a revert, the id of the audit entry it reverts.
	Reverts string `json:"reverts,omitempty"`
}

// FromRequest converts an operator request for the wire. Holder,
// AnyRevision and a revert's Value do not cross: the gateway always acts
// as the session's operator, against the revision seen, and writes back
// what its own audit log holds.
func FromRequest(req lease.Request) Action {
	a := Action{Action: req.Action, Seen: req.Seen, TTLSeconds: int64(req.TTL / time.Second), Reason: req.Reason, Reverts: req.Reverts}
	a.Key, a.KeyB64 = encodeText(req.Key)
	return a
}

// ToRequest converts a back into an operator request.
func (a Action) ToRequest() (lease.Request, error) {
	key, err := decodeText(a.Key, a.KeyB64)
	if err != nil {
		return lease.Request{}, fmt.Errorf("webapi: key: %w", err)
	}
	return lease.Request{Action: a.Action, Key: key, Seen: a.Seen, TTL: time.Duration(a.TTLSeconds) * time.Second, Reason: a.Reason,
		Reverts: a.Reverts}, nil
}

// AuditEntry is an audit.Entry on the wire, with the field names of
// `leasectl audit -o json`. Time is RFC 3339 in UTC. Values are base64 of
// their exact bytes: null for none (absent, never read, nothing written),
// "" for a tombstone.
type AuditEntry struct {
	ID             string    `json:"id"`
	Time           time.Time `json:"time"`
	Operator       string    `json:"operator"`
	Host           string    `json:"host"`
	Store          string    `json:"store"`
	Key            string    `json:"key"`
	Action         string    `json:"action"`
	Reason         string    `json:"reason"`
	Reverts        string    `json:"reverts,omitempty"`
	Seen           uint64    `json:"seen,omitempty"`
	RevisionBefore uint64    `json:"revision_before"`
	ValueBefore    []byte    `json:"value_before"`
	ValueAfter     []byte    `json:"value_after"`
	RevisionAfter  uint64    `json:"revision_after"`
	Outcome        string    `json:"outcome"`
	Error          string    `json:"error,omitempty"`
}

// FromAuditEntry converts e for the wire.
func FromAuditEntry(e audit.Entry) AuditEntry {
	return AuditEntry{ID: e.ID, Time: e.Time.UTC(), Operator: e.Operator, Host: e.Host, Store: e.Store, Key: e.Key,
		Action: e.Action.String(), Reason: e.Reason, Reverts: e.Reverts, Seen: e.Seen, RevisionBefore: e.RevisionBefore,
		ValueBefore: e.ValueBefore, ValueAfter: e.ValueAfter, RevisionAfter: e.RevisionAfter,
		Outcome: e.Outcome.String(), Error: e.Error}
}

// ToAuditEntry converts w back. An action or outcome this side does not
// know stays zero, so that a newer server's entries still show.
func (w AuditEntry) ToAuditEntry() audit.Entry {
	e := audit.Entry{ID: w.ID, Time: w.Time, Operator: w.Operator, Host: w.Host, Store: w.Store, Key: w.Key,
		Reason: w.Reason, Reverts: w.Reverts, Seen: w.Seen, RevisionBefore: w.RevisionBefore, ValueBefore: w.ValueBefore,
		ValueAfter: w.ValueAfter, RevisionAfter: w.RevisionAfter, Error: w.Error}
	_ = e.Action.UnmarshalText([]byte(w.Action))
	_ = e.Outcome.UnmarshalText([]byte(w.Outcome))
	return e
}

// Observed is a lease.Observation on the wire: the page classifies the
// entry itself, at its own clock, as it does every row.
type Observed struct {
	Found bool  `json:"found"`
	Entry Entry `json:"entry"`
}

// FromObservation converts o for the wire.
func FromObservation(o lease.Observation) Observed {
	return Observed{Found: o.Found, Entry: FromEntry(o.Entry)}
}

// Result is a lease.Result on the wire.
type Result struct {
	Action  lease.Action  `json:"action"`
	Outcome lease.Outcome `json:"outcome,omitzero"`
	Before  Observed      `json:"before"`
	After   Observed      `json:"after"`
	// Written is what the action wrote; Wrote says whether it wrote at
	// all (a release writes an empty value).
	Wrote      bool   `json:"wrote"`
	Written    string `json:"written,omitempty"`
	WrittenB64 string `json:"written_b64,omitempty"`
	Revision   uint64 `json:"revision,omitempty"`
}

// Error codes of an ActionAnswer, each the wire form of one error of
// lease.Operator.Do.
const (
	// CodeChanged: a *lease.ChangedError; Current is the key now.
	CodeChanged = "changed"
	// CodeHeld: an error matching lease.ErrHeld.
	CodeHeld = "held"
	// CodeInvalid: a *lease.RequestError (a rule refused the request
	// before anything was audited or written).
	CodeInvalid = "invalid"
	// CodeReadOnly: the session, the server or the store is read-only.
	CodeReadOnly = "read_only"
	// CodeAudit: a *lease.AuditError; Ran and Outcome say how far the
	// action went.
	CodeAudit = "audit"
	// CodeStore: any other failure (the store's, a time-out).
	CodeStore = "store"
	// CodeUnauthorized: no valid session (HTTP 401).
	CodeUnauthorized = "unauthorized"
	// CodeForbidden: a cross-site request (HTTP 403).
	CodeForbidden = "forbidden"
	// CodeNotFound: no such store or path (HTTP 404).
	CodeNotFound = "not_found"
	// CodeTooLarge: the body is over the limit (HTTP 413).
	CodeTooLarge = "too_large"
	// CodeBadRequest: a body or parameter that does not parse (HTTP 400).
	CodeBadRequest = "bad_request"
	// CodeUnsupported: the store lacks the capability (watch, history).
	CodeUnsupported = "unsupported"
)

// Error is the body of every answer that is not a success, and the error
// of an ActionAnswer.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// For CodeChanged.
	Seen    uint64    `json:"seen,omitempty"`
	Current *Observed `json:"current,omitempty"`
	// For CodeAudit.
	Ran     bool          `json:"ran,omitempty"`
	Outcome lease.Outcome `json:"outcome,omitzero"`
}

// ErrorAnswer is the body of a failed request other than an action.
type ErrorAnswer struct {
	Error Error `json:"error"`
}

// ActionAnswer is the answer of PathActions: the result (zero when refused
// before anything was audited) and, when the action did not win, why.
type ActionAnswer struct {
	Result Result `json:"result"`
	Error  *Error `json:"error,omitempty"`
}

// FromResult converts r for the wire.
func FromResult(r lease.Result) Result {
	w := Result{Action: r.Action, Outcome: r.Outcome, Before: FromObservation(r.Before), After: FromObservation(r.After),
		Wrote: r.Written != nil, Revision: r.Revision}
	w.Written, w.WrittenB64 = encodeText(string(r.Written))
	return w
}

// ToResult converts w back, classifying Before and After as the store
// named store at now.
func (w Result) ToResult(store string, now time.Time, th lease.Thresholds) (lease.Result, error) {
	r := lease.Result{Action: w.Action, Outcome: w.Outcome, Revision: w.Revision}
	var err error
	if r.Before, err = w.Before.ToObservation(store, now, th); err != nil {
		return lease.Result{}, err
	}
	if r.After, err = w.After.ToObservation(store, now, th); err != nil {
		return lease.Result{}, err
	}
	if w.Wrote {
		written, err := decodeText(w.Written, w.WrittenB64)
		if err != nil {
			return lease.Result{}, fmt.Errorf("webapi: written: %w", err)
		}
		r.Written = []byte(written)
	}
	return r, nil
}

// ToObservation classifies o as the store named store at now. An
// observation of nothing (no key: the action could not read it) stays zero.
func (o Observed) ToObservation(store string, now time.Time, th lease.Thresholds) (lease.Observation, error) {
	if !o.Found && o.Entry == (Entry{}) {
		return lease.Observation{}, nil
	}
	e, err := o.Entry.ToEntry()
	if err != nil {
		return lease.Observation{}, err
	}
	return lease.Observe(store, e, o.Found, now, th), nil
}

// FromError is the wire form of an error of lease.Operator.Do (nil for
// nil).
func FromError(err error) *Error {
	if err == nil {
		return nil
	}
	w := &Error{Code: CodeStore, Message: err.Error()}
	var changed *lease.ChangedError
	var audit *lease.AuditError
	switch {
	case errors.As(err, &changed):
		cur := FromObservation(changed.Current)
		w.Code, w.Seen, w.Current = CodeChanged, changed.Seen, &cur
	case errors.As(err, &audit):
		// The auditor's own error: ToError wraps it in an AuditError again.
		w.Code, w.Ran, w.Outcome, w.Message = CodeAudit, audit.Ran, audit.Outcome, audit.Err.Error()
	case errors.Is(err, stores.ErrReadOnly):
		w.Code = CodeReadOnly
	case errors.Is(err, lease.ErrInvalidRequest):
		w.Code = CodeInvalid
	case errors.Is(err, lease.ErrHeld):
		w.Code = CodeHeld
	}
	return w
}

// remoteError is an error the gateway reported: its message, matching
// the sentinel of its code.
type remoteError struct {
	msg      string
	sentinel error
}

func (e *remoteError) Error() string { return e.msg }

func (e *remoteError) Unwrap() error { return e.sentinel }

// ToError converts w back into an error that matches what the server's
// error matched: a *lease.ChangedError (Current classified as the store
// named store at now), a *lease.AuditError, a *lease.RequestError (matching
// stores.ErrReadOnly for CodeReadOnly), an error matching lease.ErrHeld or
// errors.ErrUnsupported; any other code is an error with the server's
// message.
func (w *Error) ToError(store string, now time.Time, th lease.Thresholds) error {
	if w == nil {
		return nil
	}
	msg := errors.New(w.Message)
	switch w.Code {
	case CodeChanged:
		var cur lease.Observation
		if w.Current != nil {
			var err error
			if cur, err = w.Current.ToObservation(store, now, th); err != nil {
				return err
			}
		}
		return &lease.ChangedError{Seen: w.Seen, Current: cur}
	case CodeAudit:
		return &lease.AuditError{Ran: w.Ran, Outcome: w.Outcome, Err: msg}
	case CodeInvalid:
		return &lease.RequestError{Err: msg}
	case CodeReadOnly:
		return &lease.RequestError{Err: &remoteError{w.Message, stores.ErrReadOnly}}
	case CodeHeld:
		return &remoteError{w.Message, lease.ErrHeld}
	case CodeUnsupported:
		return &remoteError{w.Message, errors.ErrUnsupported}
	}
	return msg
}
