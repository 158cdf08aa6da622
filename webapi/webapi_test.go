package webapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores"
)

// roundTrip sends v through JSON, as the gateway and the page do.
func roundTrip[T any](t *testing.T, v T) T {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return out
}

func TestEntryExactBytes(t *testing.T) {
	for _, e := range []stores.Entry{
		{Key: "exports/orders", Value: []byte(`{"holder_id":"a"}`), Revision: 7},
		{Key: "exports/\xff\xfe", Value: []byte("\x00\x1b[31m\xc3"), Revision: 1<<63 + 5},
		{Key: "exports/tomb", Value: []byte{}, Revision: 2},
		{Key: "exports/<&>\u202e", Value: []byte("<script>"), Revision: 3},
	} {
		got, err := roundTrip(t, FromEntry(e)).ToEntry()
		if err != nil || got.Key != e.Key || string(got.Value) != string(e.Value) || got.Revision != e.Revision || got.Value == nil {
			t.Errorf("entry %q through the wire = %+v, %v", e.Key, got, err)
		}
	}
	if _, err := (Entry{Key: "x", KeyB64: "!!"}).ToEntry(); err == nil {
		t.Error("an entry with invalid base64 converted without an error")
	}
}

func TestEvents(t *testing.T) {
	for _, ev := range []stores.Event{
		{Kind: stores.EventPut, Entry: stores.Entry{Key: "k\xff", Value: []byte("v"), Revision: 4}},
		{Kind: stores.EventDelete, Entry: stores.Entry{Key: "k", Revision: 5}},
		{Kind: stores.EventSynced},
		{Kind: stores.EventReset},
		{Kind: stores.EventError, Err: errors.New("etcd: connection refused")},
	} {
		got, err := roundTrip(t, FromEvent(ev)).ToEvent()
		if err != nil || got.Kind != ev.Kind || got.Entry.Key != ev.Entry.Key || string(got.Entry.Value) != string(ev.Entry.Value) ||
			got.Entry.Revision != ev.Entry.Revision || (ev.Err == nil) != (got.Err == nil) || ev.Err != nil && got.Err.Error() != ev.Err.Error() {
			t.Errorf("event %+v through the wire = %+v, %v", ev, got, err)
		}
	}
	if _, err := (Event{Kind: "bogus"}).ToEvent(); err == nil {
		t.Error("an unknown event kind converted without an error")
	}
	if _, err := (Event{Kind: EventPut}).ToEvent(); err == nil {
		t.Error("a put without an entry converted without an error")
	}
}

func TestRequest(t *testing.T) {
	req := lease.Request{Action: lease.ActionTakeover, Key: "exports/\xffx", Seen: 42, TTL: 5 * time.Minute, Reason: "stuck",
		Holder: "someone-else", AnyRevision: true}
	got, err := roundTrip(t, FromRequest(req)).ToRequest()
	want := req
	want.Holder, want.AnyRevision = "", false        // never cross
	if err != nil || !reflect.DeepEqual(got, want) { // lease.Request holds a []byte: not comparable
		t.Errorf("request through the wire = %+v, %v; want %+v", got, err, want)
	}
}

func TestResult(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	th := lease.DefaultThresholds()
	before := lease.Observe("prod", stores.Entry{Key: "exports/a", Value: []byte("corrupt"), Revision: 9}, true, now, th)
	rec := fmt.Appendf(nil, `{"holder_id":"operator:ann","acquired_at_unix":%d,"expires_at_unix":%d}`, now.Unix(), now.Unix()+300)
	after := lease.Observe("prod", stores.Entry{Key: "exports/a", Value: rec, Revision: 10}, true, now, th)
	for _, r := range []lease.Result{
		{Action: lease.ActionTakeover, Outcome: lease.OutcomeWon, Before: before, After: after, Written: rec, Revision: 10},
		{Action: lease.ActionRelease, Outcome: lease.OutcomeWon, Before: after, After: after, Written: []byte{}, Revision: 11},
		{Action: lease.ActionAcquire, Outcome: lease.OutcomeLost, Before: after, After: after},
		{Action: lease.ActionAcquire},
	} {
		got, err := roundTrip(t, FromResult(r)).ToResult("prod", now, th)
		if err != nil || got.Action != r.Action || got.Outcome != r.Outcome || got.Revision != r.Revision ||
			(got.Written == nil) != (r.Written == nil) || string(got.Written) != string(r.Written) ||
			got.Before.Status.State != r.Before.Status.State || got.After.Entry.Revision != r.After.Entry.Revision ||
			got.Before.Key != r.Before.Key || got.Before.Store != r.Before.Store {
			t.Errorf("result %+v through the wire = %+v, %v", r, got, err)
		}
	}
}

func TestErrors(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	th := lease.DefaultThresholds()
	cur := lease.Observe("prod", stores.Entry{Key: "exports/a", Value: []byte("x"), Revision: 12}, true, now, th)
	auditErr := errors.New("audit log: no space left on device")
	cases := []struct {
		err   error
		code  string
		match func(error) bool
	}{
		{&lease.ChangedError{Seen: 11, Current: cur}, CodeChanged, func(e error) bool {
			var c *lease.ChangedError
			return errors.As(e, &c) && c.Seen == 11 && c.Current.Entry.Revision == 12 && c.Current.Status.State == cur.Status.State
		}},
		{&lease.AuditError{Ran: true, Outcome: lease.OutcomeWon, Err: auditErr}, CodeAudit, func(e error) bool {
			var a *lease.AuditError
			return errors.As(e, &a) && a.Ran && a.Outcome == lease.OutcomeWon && a.Err.Error() == auditErr.Error()
		}},
		{&lease.RequestError{Err: fmt.Errorf("%w: store %q", stores.ErrReadOnly, "prod")}, CodeReadOnly, func(e error) bool {
			return errors.Is(e, stores.ErrReadOnly) && errors.Is(e, lease.ErrInvalidRequest)
		}},
		{&lease.RequestError{Err: errors.New("a reason is required")}, CodeInvalid, func(e error) bool {
			return errors.Is(e, lease.ErrInvalidRequest) && !errors.Is(e, stores.ErrReadOnly)
		}},
		{fmt.Errorf("%w: %q by %q until %d", lease.ErrHeld, "exports/a", "node-b", 1), CodeHeld, func(e error) bool { return errors.Is(e, lease.ErrHeld) }},
		{errors.New("etcd: deadline exceeded"), CodeStore, func(e error) bool {
			return !errors.Is(e, lease.ErrHeld) && !errors.Is(e, lease.ErrInvalidRequest)
		}},
	}
	for _, c := range cases {
		w := roundTrip(t, FromError(c.err))
		if w.Code != c.code {
			t.Errorf("%v: code %q, want %q", c.err, w.Code, c.code)
		}
		got := w.ToError("prod", now, th)
		if !c.match(got) || got.Error() != c.err.Error() {
			t.Errorf("%v through the wire = %v (%T): does not match as the original", c.err, got, got)
		}
	}
	if FromError(nil) != nil || (*Error)(nil).ToError("", now, th) != nil {
		t.Error("nil did not stay nil")
	}
}
