//go:build !js

package webclient

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/webapi"
)

// hidden is a store without its optional capabilities (no watch, no
// history): what a driver without them looks like.
type hidden struct{ stores.Store }

func TestDialLogsIn(t *testing.T) {
	g := newTestGateway(t, testStore{name: "a", store: newMemory(t)}, testStore{name: "b", store: newMemory(t), readOnly: true})
	ctx := t.Context()
	hc := jarClient(t)

	if _, _, err := Dial(ctx, g.srv.URL, WithHTTPClient(hc)); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("Dial before login = %v, want ErrUnauthorized", err)
	}
	c, err := New(g.srv.URL, WithHTTPClient(hc))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Login(ctx, "wrong"); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("Login(wrong) = %v, want ErrUnauthorized", err)
	}
	if _, err := c.Login(ctx, testToken); err != nil {
		t.Fatalf("Login = %v", err)
	}
	_, s, err := Dial(ctx, g.srv.URL, WithHTTPClient(hc))
	if err != nil {
		t.Fatalf("Dial after login = %v", err)
	}
	want := webapi.Session{Operator: testOperator, Holder: lease.OperatorHolder(testOperator), Stores: []webapi.Store{
		{Name: "a", Kind: "memory", Watch: true},
		{Name: "b", Kind: "memory", ReadOnly: true, Watch: true},
	}}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("Session = %+v, want %+v", s, want)
	}
	b, err := c.Backend(s, "b")
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Holder(); got != want.Holder {
		t.Errorf("Holder() = %q, want %q", got, want.Holder)
	}
	if _, err := c.Backend(s, "nope"); err == nil {
		t.Error("Backend(nope) = nil error, want one")
	}
}

func TestDialNoGateway(t *testing.T) {
	// A static file server: no API at all.
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	if _, _, err := Dial(t.Context(), srv.URL); !errors.Is(err, ErrNoGateway) {
		t.Fatalf("Dial(static server) = %v, want ErrNoGateway", err)
	}
	srv.Close()
	if _, _, err := Dial(t.Context(), srv.URL); err == nil || errors.Is(err, ErrNoGateway) || errors.Is(err, ErrUnauthorized) {
		t.Fatalf("Dial(closed server) = %v, want a network error", err)
	}
}

func TestNewRefusesABadURL(t *testing.T) {
	for _, u := range []string{"", "file:///x", "localhost:8080", "http://"} {
		if _, err := New(u); err == nil {
			t.Errorf("New(%q) = nil error, want one", u)
		}
	}
}

func TestList(t *testing.T) {
	st := newMemory(t)
	ctx := t.Context()
	for key, value := range map[string]string{
		"jobs/a":        `{"holder_id":"x"}`,
		"jobs/\xffbin":  "\x00\xfe raw",
		"jobs/empty":    "",
		"jobs/unicode✓": "välue",
	} {
		if _, err := st.Create(ctx, key, []byte(value)); err != nil {
			t.Fatal(err)
		}
	}
	g := newTestGateway(t, testStore{name: "m", store: st})
	b := g.backend(t, "m")
	got, err := b.List(ctx)
	if err != nil {
		t.Fatalf("List = %v", err)
	}
	want, err := st.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("List = %v, want %v", got, want)
	}
}

func TestListEmpty(t *testing.T) {
	g := newTestGateway(t, testStore{name: "m", store: newMemory(t)})
	got, err := g.backend(t, "m").List(t.Context())
	if err != nil || len(got) != 0 {
		t.Fatalf("List = %v, %v; want no entries", got, err)
	}
}

func TestListUnauthorized(t *testing.T) {
	g := newTestGateway(t, testStore{name: "m", store: newMemory(t)})
	c, err := New(g.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Backend(g.sessionValue(), "m")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.List(t.Context()); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("List without a session = %v, want ErrUnauthorized", err)
	}
}

func TestHistoryUnsupported(t *testing.T) {
	g := newTestGateway(t, testStore{name: "m", store: newMemory(t)})
	if _, err := g.backend(t, "m").History(t.Context(), "k"); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("History on a store without = %v, want errors.ErrUnsupported", err)
	}
}

func TestWatchUnsupported(t *testing.T) {
	g := newTestGateway(t, testStore{name: "m", store: hidden{newMemory(t)}})
	if _, err := g.backend(t, "m").Watch(t.Context()); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("Watch on a store without = %v, want errors.ErrUnsupported", err)
	}
}

// next returns the next event of ch, failing the test if none comes in
// time or ch is closed.
func next(t *testing.T, ch <-chan stores.Event) stores.Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("the watch channel closed")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event in 10s")
	}
	panic("unreachable")
}

// snapshot reads puts until EventSynced and returns them by key.
func snapshot(t *testing.T, ch <-chan stores.Event) map[string]stores.Entry {
	t.Helper()
	got := map[string]stores.Entry{}
	for {
		ev := next(t, ch)
		switch ev.Kind {
		case stores.EventSynced:
			return got
		case stores.EventPut:
			got[ev.Entry.Key] = ev.Entry
		default:
			t.Fatalf("snapshot: event %v (%v), want puts then synced", ev.Kind, ev.Err)
		}
	}
}

func TestWatchFollowsTheStore(t *testing.T) {
	st := newMemory(t)
	ctx := t.Context()
	rev, err := st.Create(ctx, "a", []byte("1"))
	if err != nil {
		t.Fatal(err)
	}
	g := newTestGateway(t, testStore{name: "m", store: st})
	wctx, cancel := context.WithCancel(ctx)
	ch, err := g.backend(t, "m").Watch(wctx)
	if err != nil {
		t.Fatalf("Watch = %v", err)
	}
	if got, want := snapshot(t, ch), map[string]stores.Entry{"a": {Key: "a", Value: []byte("1"), Revision: rev}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("snapshot = %v, want %v", got, want)
	}

	rev2, err := st.Update(ctx, "a", []byte("\xff2"), rev)
	if err != nil {
		t.Fatal(err)
	}
	if ev, want := next(t, ch), (stores.Event{Kind: stores.EventPut, Entry: stores.Entry{Key: "a", Value: []byte("\xff2"), Revision: rev2}}); !reflect.DeepEqual(ev, want) {
		t.Fatalf("after Update: %+v, want %+v", ev, want)
	}
	if err := st.Delete(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, ch); ev.Kind != stores.EventDelete || ev.Entry.Key != "a" {
		t.Fatalf("after Delete: %+v, want a delete of a", ev)
	}

	cancel()
	for range ch { // must close
	}
}

// TestWatchReconnects drops the stream: the client reports it, reconnects,
// resets, and the new snapshot has what was written while it was away.
func TestWatchReconnects(t *testing.T) {
	st := newMemory(t)
	ctx := t.Context()
	if _, err := st.Create(ctx, "a", []byte("1")); err != nil {
		t.Fatal(err)
	}
	g := newTestGateway(t, testStore{name: "m", store: st})
	ch, err := g.backend(t, "m").Watch(ctx)
	if err != nil {
		t.Fatalf("Watch = %v", err)
	}
	snapshot(t, ch)

	for round := range 2 { // twice: the second drop follows a reconnection
		g.drop("m")
		if ev := next(t, ch); ev.Kind != stores.EventError || ev.Err == nil || !strings.Contains(ev.Err.Error(), "m: events") {
			t.Fatalf("round %d: after the drop: %+v, want an EventError naming the store", round, ev)
		}
		// Written while the client is away (or reconnecting): the new
		// snapshot must have it.
		key := []string{"b", "c"}[round]
		rev, err := st.Create(ctx, key, []byte(key))
		if err != nil {
			t.Fatal(err)
		}
		if ev := next(t, ch); ev.Kind != stores.EventReset {
			t.Fatalf("round %d: after the error: %+v, want EventReset", round, ev)
		}
		got := snapshot(t, ch)
		if e, ok := got[key]; !ok || e.Revision != rev {
			t.Fatalf("round %d: snapshot after reconnecting = %v, want %s at revision %d", round, got, key, rev)
		}
	}
}

// TestWatchRetriesAGatewayThatIsDown: a stream whose gateway is gone
// reports errors, one per attempt, until ctx ends; then the channel
// closes.
func TestWatchRetriesAGatewayThatIsDown(t *testing.T) {
	g := newTestGateway(t, testStore{name: "m", store: newMemory(t)})
	ctx, cancel := context.WithCancel(t.Context())
	ch, err := g.backend(t, "m").Watch(ctx)
	if err != nil {
		t.Fatalf("Watch = %v", err)
	}
	snapshot(t, ch)
	g.srv.CloseClientConnections()
	g.srv.Close()
	for i := range 2 {
		if ev := next(t, ch); ev.Kind != stores.EventError {
			t.Fatalf("event %d with the gateway down: %+v, want EventError", i, ev)
		}
	}
	cancel()
	for ev := range ch {
		if ev.Kind != stores.EventError {
			t.Errorf("after cancel: %+v, want nothing but errors before the close", ev)
		}
	}
}

func TestReadEvents(t *testing.T) {
	put := func(key string) stores.Event {
		return stores.Event{Kind: stores.EventPut, Entry: stores.Entry{Key: key, Value: []byte("v"), Revision: 1}}
	}
	tests := []struct {
		name    string
		in      string
		want    []stores.Event
		wantErr string
	}{
		{name: "one message, two events",
			in:   "data: [{\"kind\":\"put\",\"entry\":{\"key\":\"a\",\"value\":\"v\",\"revision\":1}},{\"kind\":\"synced\"}]\n\n",
			want: []stores.Event{put("a"), {Kind: stores.EventSynced}}, wantErr: errStreamEnded.Error()},
		{name: "crlf, comments, other fields, no space",
			in:   ": ping\r\nevent: x\r\nid: 7\r\ndata:[{\"kind\":\"reset\"}]\r\n\r\n:\n\n",
			want: []stores.Event{{Kind: stores.EventReset}}, wantErr: errStreamEnded.Error()},
		{name: "data over two lines",
			in:   "data: [{\"kind\":\"put\",\ndata: \"entry\":{\"key\":\"b\",\"value\":\"v\",\"revision\":1}}]\n\n",
			want: []stores.Event{put("b")}, wantErr: errStreamEnded.Error()},
		{name: "base64 key",
			in:   "data: [{\"kind\":\"delete\",\"entry\":{\"key\":\"\",\"key_b64\":\"/w==\",\"value\":\"\",\"revision\":2}}]\n\n",
			want: []stores.Event{{Kind: stores.EventDelete, Entry: stores.Entry{Key: "\xff", Value: []byte{}, Revision: 2}}}, wantErr: errStreamEnded.Error()},
		{name: "error event",
			in:   "data: [{\"kind\":\"error\",\"error\":\"etcd: down\"}]\n\n",
			want: []stores.Event{{Kind: stores.EventError, Err: errors.New("etcd: down")}}, wantErr: errStreamEnded.Error()},
		{name: "a message cut short is dropped",
			in:      "data: [{\"kind\":\"synced\"}]\n\ndata: [{\"kind\":\"reset\"}]\n",
			want:    []stores.Event{{Kind: stores.EventSynced}},
			wantErr: errStreamEnded.Error()},
		{name: "not JSON", in: "data: {oops\n\n", wantErr: "a message"},
		{name: "unknown kind", in: "data: [{\"kind\":\"frob\"}]\n\n", wantErr: "unknown event kind"},
		{name: "a put without its entry", in: "data: [{\"kind\":\"put\"}]\n\n", wantErr: "without an entry"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []stores.Event
			_, err := readEvents(strings.NewReader(tt.in), func(ev stores.Event) bool {
				got = append(got, ev)
				return true
			})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("readEvents(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("readEvents(%q) sent %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestReadEventsLongLine(t *testing.T) {
	// One message far longer than the reader's buffer, as a large
	// snapshot batch is.
	var sb strings.Builder
	sb.WriteString("data: [")
	const n = 5000
	for i := range n {
		if i > 0 {
			sb.WriteString(",")
		}
		sb.WriteString(`{"kind":"put","entry":{"key":"jobs/a-rather-long-key-name-to-fill-the-line","value":"v","revision":1}}`)
	}
	sb.WriteString("]\n\n")
	count := 0
	if _, err := readEvents(strings.NewReader(sb.String()), func(stores.Event) bool { count++; return true }); !errors.Is(err, errStreamEnded) {
		t.Fatalf("readEvents = %v, want errStreamEnded", err)
	}
	if count != n {
		t.Fatalf("readEvents sent %d events, want %d", count, n)
	}
}

// liveRecord is a record of holder that is live for an hour.
func liveRecord(holder string) []byte {
	return lease.NewRecord(holder, time.Now(), time.Hour).Encode()
}

func TestDo(t *testing.T) {
	ctx := t.Context()
	st := newMemory(t)
	heldRev, err := st.Create(ctx, "held", liveRecord("replica-1"))
	if err != nil {
		t.Fatal(err)
	}
	roStore := newMemory(t)
	roRev, err := roStore.Create(ctx, "k", liveRecord("replica-1"))
	if err != nil {
		t.Fatal(err)
	}
	badAudit := newMemory(t)
	g := newTestGateway(t,
		testStore{name: "m", store: st},
		testStore{name: "ro", store: roStore, readOnly: true},
		testStore{name: "noaudit", store: badAudit, auditor: failAuditor{}},
	)
	m, ro, noaudit := g.backend(t, "m"), g.backend(t, "ro"), g.backend(t, "noaudit")

	t.Run("acquire an absent key", func(t *testing.T) {
		res, err := m.Do(ctx, lease.Request{Action: lease.ActionAcquire, Key: "free", TTL: time.Minute, Seen: 0})
		if err != nil {
			t.Fatalf("Do = %v", err)
		}
		e, err := st.Get(ctx, "free")
		if err != nil {
			t.Fatalf("the store after acquire: %v", err)
		}
		if res.Outcome != lease.OutcomeWon || res.Revision != e.Revision || string(res.Written) != string(e.Value) {
			t.Errorf("Do = %+v; store has %q at %d", res, e.Value, e.Revision)
		}
		if !res.After.Found || res.After.Entry.Revision != e.Revision {
			t.Errorf("Result.After = %+v, want the new record at %d", res.After, e.Revision)
		}
		r, err := lease.Decode(e.Value)
		if err != nil || r.HolderID != lease.OperatorHolder(testOperator) {
			t.Errorf("written record = %+v, %v; want holder %q (the session's)", r, err, lease.OperatorHolder(testOperator))
		}
	})
	t.Run("stale revision", func(t *testing.T) {
		_, err := m.Do(ctx, lease.Request{Action: lease.ActionTakeover, Key: "held", TTL: time.Minute, Seen: heldRev + 100, Reason: "stuck"})
		var changed *lease.ChangedError
		if !errors.As(err, &changed) {
			t.Fatalf("Do(stale) = %v, want *lease.ChangedError", err)
		}
		if changed.Seen != heldRev+100 || !changed.Current.Found || changed.Current.Entry.Revision != heldRev {
			t.Errorf("ChangedError = %+v, want seen %d, current at %d", changed, heldRev+100, heldRev)
		}
		if e, _ := st.Get(ctx, "held"); e.Revision != heldRev {
			t.Errorf("held is at %d after a stale takeover, want %d (nothing written)", e.Revision, heldRev)
		}
	})
	t.Run("acquire a held key", func(t *testing.T) {
		_, err := m.Do(ctx, lease.Request{Action: lease.ActionAcquire, Key: "held", TTL: time.Minute, Seen: heldRev})
		if !errors.Is(err, lease.ErrHeld) {
			t.Fatalf("Do(acquire held) = %v, want lease.ErrHeld", err)
		}
	})
	t.Run("invalid", func(t *testing.T) {
		_, err := m.Do(ctx, lease.Request{Action: lease.ActionTakeover, Key: "held", TTL: time.Minute, Seen: heldRev})
		var re *lease.RequestError
		if !errors.As(err, &re) || !errors.Is(err, lease.ErrInvalidRequest) {
			t.Fatalf("Do(takeover without a reason) = %v, want *lease.RequestError", err)
		}
	})
	t.Run("read-only store", func(t *testing.T) {
		_, err := ro.Do(ctx, lease.Request{Action: lease.ActionTakeover, Key: "k", TTL: time.Minute, Seen: roRev, Reason: "r"})
		if !errors.Is(err, stores.ErrReadOnly) {
			t.Fatalf("Do on a read-only store = %v, want stores.ErrReadOnly", err)
		}
		if e, _ := roStore.Get(ctx, "k"); e.Revision != roRev {
			t.Errorf("k is at %d, want %d (nothing written)", e.Revision, roRev)
		}
	})
	t.Run("audit fails", func(t *testing.T) {
		_, err := noaudit.Do(ctx, lease.Request{Action: lease.ActionAcquire, Key: "x", TTL: time.Minute})
		var ae *lease.AuditError
		if !errors.As(err, &ae) || ae.Ran || !strings.Contains(ae.Error(), errDiskFull.Error()) {
			t.Fatalf("Do with a failing audit = %v, want *lease.AuditError (not ran) saying %q", err, errDiskFull)
		}
		if _, err := badAudit.Get(ctx, "x"); !errors.Is(err, stores.ErrNotFound) {
			t.Errorf("x after a refused audit: %v, want ErrNotFound (nothing written)", err)
		}
	})
	t.Run("holder or any revision", func(t *testing.T) {
		for _, req := range []lease.Request{
			{Action: lease.ActionAcquire, Key: "y", TTL: time.Minute, Holder: "someone"},
			{Action: lease.ActionAcquire, Key: "y", TTL: time.Minute, AnyRevision: true},
		} {
			if _, err := m.Do(ctx, req); !errors.Is(err, lease.ErrInvalidRequest) {
				t.Errorf("Do(%+v) = %v, want *lease.RequestError", req, err)
			}
		}
		if _, err := st.Get(ctx, "y"); !errors.Is(err, stores.ErrNotFound) {
			t.Errorf("y: %v, want ErrNotFound (nothing sent)", err)
		}
	})
	t.Run("no session", func(t *testing.T) {
		c, err := New(g.srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		b, err := c.Backend(g.sessionValue(), "m")
		if err != nil {
			t.Fatal(err)
		}
		_, err = b.Do(ctx, lease.Request{Action: lease.ActionAcquire, Key: "z", TTL: time.Minute})
		var se *StatusError
		if !errors.As(err, &se) || !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("Do without a session = %v, want a 401 *StatusError", err)
		}
	})
}
