//go:build !js

package webclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/leasectl/leasectl/audit"
	"github.com/leasectl/leasectl/gateway"
	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/webapi"
)

// hidden is a store without its optional capabilities (no watch, no
// history): what a driver without them looks like.
type hidden struct{ stores.Store }

func TestDialLogsIn(t *testing.T) {
	g := newTestGateway(t, memStore("a", newMemory(t)), gateway.Store{Name: "b", Kind: "memory", ReadOnly: true, Open: opened(newMemory(t))})
	ctx := t.Context()
	hc := jarClient(t)

	if _, _, err := Dial(ctx, g.srv.URL, WithHTTPClient(hc)); !errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrNoGateway) {
		t.Fatalf("Dial before login = %v, want ErrUnauthorized", err)
	}
	c, err := New(g.srv.URL, WithHTTPClient(hc))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Login(ctx, "wrong"); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("Login(wrong) = %v, want ErrUnauthorized", err)
	}
	if _, _, err := Dial(ctx, g.srv.URL, WithHTTPClient(hc)); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("Dial after a refused login = %v, want ErrUnauthorized", err)
	}
	ls, err := c.Login(ctx, testToken)
	if err != nil {
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
	if !reflect.DeepEqual(ls, want) {
		t.Errorf("Login answered %+v, want %+v", ls, want)
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

	// A read-only operator: the session says so, and every store is
	// read-only to it.
	_, rs := g.clientAs(t, readerToken)
	if rs.Operator != readerOperator || !rs.ReadOnly || !rs.Stores[0].ReadOnly {
		t.Errorf("reader's session = %+v, want bob, read-only", rs)
	}
}

// TestLoginOneTimeToken: with no operators configured, the token printed at
// start logs in once.
func TestLoginOneTimeToken(t *testing.T) {
	g := startGateway(t, func(c *gateway.Config) {
		c.Operators, c.Operator = nil, "carol"
	}, false, memStore("m", newMemory(t)))
	token := g.gw.OneTimeToken()
	if token == "" {
		t.Fatal("no one-time token")
	}
	_, s := g.clientAs(t, token)
	if s.Operator != "carol" || s.Holder != lease.OperatorHolder("carol") {
		t.Errorf("session = %+v, want carol's", s)
	}
	c, err := New(g.srv.URL, WithHTTPClient(jarClient(t)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Login(t.Context(), token); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("second Login with the one-time token = %v, want ErrUnauthorized", err)
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

// TestOrigin: the Origin the client sends outside a browser is the one the
// gateway accepts, whatever form the base URL takes, over TLS too.
func TestOrigin(t *testing.T) {
	plain := newTestGateway(t, memStore("m", newMemory(t)))
	secure := startGateway(t, nil, true, memStore("m", newMemory(t)))
	_, port, err := net.SplitHostPort(plain.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, base string
		g          *testGateway
	}{
		{"127.0.0.1", plain.srv.URL, plain},
		{"localhost", "http://localhost:" + port, plain},
		{"upper case", "http://LocalHost:" + port, plain},
		{"with a path", plain.srv.URL + "/console/index.html?x=1#token=y", plain},
		{"https", secure.srv.URL, secure},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hc := jarClient(t)
			if tt.g == secure {
				hc = secure.srv.Client()
				hc.Jar = jarClient(t).Jar
			}
			c, err := New(tt.base, WithHTTPClient(hc))
			if err != nil {
				t.Fatal(err)
			}
			s, err := c.Login(t.Context(), testToken)
			if err != nil {
				t.Fatalf("Login = %v", err)
			}
			b, err := c.Backend(s, "m")
			if err != nil {
				t.Fatal(err)
			}
			key := fmt.Sprintf("k%d", i)
			if res, err := b.Do(t.Context(), lease.Request{Action: lease.ActionAcquire, Key: key, TTL: time.Minute}); err != nil || res.Outcome != lease.OutcomeWon {
				t.Fatalf("Do = %+v, %v; want won", res, err)
			}
			if _, err := b.List(t.Context()); err != nil {
				t.Fatalf("List after Do = %v", err)
			}
		})
	}
}

func TestNewRefusesABadURL(t *testing.T) {
	for _, u := range []string{"", "file:///x", "localhost:8080", "http://"} {
		if _, err := New(u); err == nil {
			t.Errorf("New(%q) = nil error, want one", u)
		}
	}
}

// keyStore is a store of the tests and the prefix its keys live under.
type keyStore struct {
	name   string
	store  stores.Store
	prefix string
	served gateway.Store
}

// bothStores are a memory store and a prefix of the shared etcd, served
// as "memory" and "etcd".
func bothStores(t *testing.T) []keyStore {
	m := newMemory(t)
	e := newEtcd(t)
	return []keyStore{
		{name: "memory", store: m, served: memStore("memory", m)},
		{name: "etcd", store: e.store, prefix: e.prefix, served: e.served("etcd", false)},
	}
}

func TestList(t *testing.T) {
	for _, ks := range bothStores(t) {
		t.Run(ks.name, func(t *testing.T) {
			ctx := t.Context()
			for key, value := range map[string]string{
				"jobs/a":                      `{"holder_id":"x"}`,
				"jobs/\xffbin":                "\x00\xfe raw",
				"jobs/empty":                  "",
				"jobs/unicode✓":               "välue",
				"jobs/ctl\x1b[31m\u2028<>&\"": "\x1b]0;title\x07",
			} {
				if _, err := ks.store.Create(ctx, ks.prefix+key, []byte(value)); err != nil {
					t.Fatal(err)
				}
			}
			g := newTestGateway(t, ks.served)
			got, err := g.backend(t, ks.name).List(ctx)
			if err != nil {
				t.Fatalf("List = %v", err)
			}
			want, err := ks.store.List(ctx, ks.prefix)
			if err != nil {
				t.Fatal(err)
			}
			if len(want) != 5 || !reflect.DeepEqual(got, want) {
				t.Errorf("List = %+v, want %+v", got, want)
			}
		})
	}
}

func TestListEmpty(t *testing.T) {
	for _, ks := range bothStores(t) {
		t.Run(ks.name, func(t *testing.T) {
			g := newTestGateway(t, ks.served)
			got, err := g.backend(t, ks.name).List(t.Context())
			if err != nil || got == nil || len(got) != 0 {
				t.Fatalf("List = %#v, %v; want no entries", got, err)
			}
		})
	}
}

func TestListUnauthorized(t *testing.T) {
	g := newTestGateway(t, memStore("m", newMemory(t)))
	_, s := g.client(t)
	// Another browser, that has the session's description but not its
	// cookie.
	c, err := New(g.srv.URL, WithHTTPClient(jarClient(t)))
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Backend(s, "m")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.List(t.Context()); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("List without a session = %v, want ErrUnauthorized", err)
	}
	if _, err := b.History(t.Context(), "k"); !errors.Is(err, ErrUnauthorized) || errors.Is(err, stores.ErrNotFound) {
		t.Fatalf("History without a session = %v, want ErrUnauthorized", err)
	}
	if _, err := b.Watch(t.Context()); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("Watch without a session = %v, want ErrUnauthorized", err)
	}
}

func TestHistory(t *testing.T) {
	ctx := t.Context()
	e := newEtcd(t)
	g := newTestGateway(t, e.served("fleet", false))
	b := g.backend(t, "fleet")
	key := "jobs/\xff-orders" // not UTF-8: it crosses as base64, both ways
	for i := range 3 {
		e.put(t, key, fmt.Appendf(nil, "v%d\xfe", i))
	}
	got, err := b.History(ctx, e.prefix+key)
	if err != nil {
		t.Fatalf("History = %v", err)
	}
	want, err := e.store.History(ctx, e.prefix+key)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 3 || !reflect.DeepEqual(got, want) {
		t.Errorf("History = %+v, want %+v", got, want)
	}

	// The gateway's 404 not_found for a key without history is the
	// store's own stores.ErrNotFound.
	_, err = b.History(ctx, e.prefix+"absent")
	var se *StatusError
	if !errors.Is(err, stores.ErrNotFound) || !errors.As(err, &se) || se.Status != http.StatusNotFound || se.Err.Code != webapi.CodeNotFound {
		t.Errorf("History(absent) = %v, want stores.ErrNotFound from a 404 not_found", err)
	}
	// Outside the store's prefix: a bad request, not a key that is absent.
	_, err = b.History(ctx, "elsewhere/"+key)
	if !errors.As(err, &se) || se.Status != http.StatusBadRequest || errors.Is(err, stores.ErrNotFound) {
		t.Errorf("History(outside the prefix) = %v, want a 400 *StatusError", err)
	}
}

func TestHistoryUnsupported(t *testing.T) {
	g := newTestGateway(t, memStore("m", newMemory(t)))
	if _, err := g.backend(t, "m").History(t.Context(), "k"); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("History on a store without = %v, want errors.ErrUnsupported", err)
	}
}

func TestWatchUnsupported(t *testing.T) {
	g := newTestGateway(t, memStore("m", hidden{newMemory(t)}))
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
	g := newTestGateway(t, memStore("m", st))
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

// TestWatchReconnects drops the connection under a stream over etcd: the
// client reports it, reconnects, resets, and the new snapshot has what was
// written and deleted while it was away.
func TestWatchReconnects(t *testing.T) {
	e := newEtcd(t)
	e.put(t, "a", []byte("1"))
	e.put(t, "gone", []byte("1"))
	g := newTestGateway(t, e.served("fleet", false))
	ch, err := g.backend(t, "fleet").Watch(t.Context())
	if err != nil {
		t.Fatalf("Watch = %v", err)
	}
	if got := snapshot(t, ch); len(got) != 2 {
		t.Fatalf("first snapshot = %v, want a and gone", got)
	}

	for round := range 2 { // twice: the second drop follows a reconnection
		// The stream may not come back before the test has written: what
		// is written while the client is away must be in the new snapshot.
		release := g.holdEvents()
		g.drop()
		if ev := next(t, ch); ev.Kind != stores.EventError || ev.Err == nil || !strings.Contains(ev.Err.Error(), "fleet: events") {
			t.Fatalf("round %d: after the drop: %+v, want an EventError naming the store", round, ev)
		}
		key := []string{"b", "c"}[round]
		rev := e.put(t, key, []byte(key))
		if round == 0 {
			if _, err := e.cli.Delete(t.Context(), e.prefix+"gone"); err != nil {
				t.Fatal(err)
			}
		}
		release()
		if ev := next(t, ch); ev.Kind != stores.EventReset {
			t.Fatalf("round %d: after the error: %+v, want EventReset", round, ev)
		}
		got := snapshot(t, ch)
		if en, ok := got[e.prefix+key]; !ok || en.Revision != rev {
			t.Fatalf("round %d: snapshot after reconnecting = %v, want %s at revision %d", round, got, key, rev)
		}
		if _, ok := got[e.prefix+"gone"]; ok {
			t.Fatalf("round %d: snapshot after reconnecting = %v, still has the key deleted while away", round, got)
		}
		if len(got) != 2+round {
			t.Fatalf("round %d: snapshot after reconnecting = %v, want %d keys", round, got, 2+round)
		}
	}
	// And the stream follows the store again.
	rev := e.put(t, "a", []byte("2"))
	if ev := next(t, ch); ev.Kind != stores.EventPut || ev.Entry.Key != e.prefix+"a" || ev.Entry.Revision != rev {
		t.Fatalf("after reconnecting, a write: %+v, want a put of a at %d", ev, rev)
	}
}

// TestWatchRetriesAGatewayThatIsDown: a stream whose gateway is gone
// reports errors, one per attempt; when the gateway is back the client
// resets and the new snapshot has what was written while it was down;
// once ctx ends, the channel closes.
func TestWatchRetriesAGatewayThatIsDown(t *testing.T) {
	e := newEtcd(t)
	e.put(t, "a", []byte("1"))
	g := newTestGateway(t, e.served("fleet", false))
	ctx, cancel := context.WithCancel(t.Context())
	ch, err := g.backend(t, "fleet").Watch(ctx)
	if err != nil {
		t.Fatalf("Watch = %v", err)
	}
	snapshot(t, ch)
	addr := g.stop()
	for i := range 2 {
		if ev := next(t, ch); ev.Kind != stores.EventError {
			t.Fatalf("event %d with the gateway down: %+v, want EventError", i, ev)
		}
	}
	rev := e.put(t, "b", []byte("written while the gateway was down"))
	g.restart(t, addr)
	for {
		ev := next(t, ch)
		if ev.Kind == stores.EventReset {
			break
		}
		if ev.Kind != stores.EventError {
			t.Fatalf("while the gateway comes back: %+v, want errors then EventReset", ev)
		}
	}
	if got := snapshot(t, ch); got[e.prefix+"b"].Revision != rev || len(got) != 2 {
		t.Fatalf("snapshot after the gateway came back = %v, want a, and b at %d", got, rev)
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

// TestDo runs every kind of answer of an action through the real gateway,
// over etcd, and checks what reached the store and the audit log.
func TestDo(t *testing.T) {
	ctx := t.Context()
	e := newEtcd(t)
	heldRev := e.put(t, "held", liveRecord("replica-1"))
	down := gateway.Store{Name: "down", Kind: "etcd", Open: func(ctx context.Context) (stores.Store, func() error, error) {
		// Nothing listens there: what an etcd that is down answers.
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", "127.0.0.1:1")
		if err == nil {
			c.Close()
			return nil, nil, errors.New("127.0.0.1:1 answered")
		}
		return nil, nil, fmt.Errorf("etcd: %w", err)
	}}
	g := newTestGateway(t, e.served("fleet", false), e.served("fleet-ro", true), down)
	m, ro, dn := g.backend(t, "fleet"), g.backend(t, "fleet-ro"), g.backend(t, "down")
	rc, rs := g.clientAs(t, readerToken)
	reader, err := rc.Backend(rs, "fleet")
	if err != nil {
		t.Fatal(err)
	}
	// A second gateway over the same keys whose audit log cannot be
	// written (its directory is a file).
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	badLog, err := audit.NewFile(filepath.Join(blocker, "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	noaudit := startGateway(t, func(c *gateway.Config) { c.Auditor = badLog }, false, e.served("fleet", false)).backend(t, "fleet")
	// revision is etcd's revision now: it moves with every write anywhere.
	revision := func() int64 {
		t.Helper()
		resp, err := e.cli.Get(ctx, "webclient-test-revision-probe")
		if err != nil {
			t.Fatal(err)
		}
		return resp.Header.Revision
	}
	// nothingWritten fails the test if etcd or the audit log moved since
	// before.
	nothingWritten := func(t *testing.T, before int64, lines int) {
		t.Helper()
		if after := revision(); after != before {
			t.Errorf("etcd revision %d → %d: something was written", before, after)
		}
		if got := len(g.auditLines(t)); got != lines {
			t.Errorf("audit log has %d lines, want %d", got, lines)
		}
	}

	t.Run("acquire an absent key", func(t *testing.T) {
		res, err := m.Do(ctx, lease.Request{Action: lease.ActionAcquire, Key: e.prefix + "free", TTL: time.Minute, Seen: 0})
		if err != nil {
			t.Fatalf("Do = %v", err)
		}
		got, err := e.store.Get(ctx, e.prefix+"free")
		if err != nil {
			t.Fatalf("the store after acquire: %v", err)
		}
		if res.Outcome != lease.OutcomeWon || res.Revision != got.Revision || string(res.Written) != string(got.Value) {
			t.Errorf("Do = %+v; store has %q at %d", res, got.Value, got.Revision)
		}
		if !res.After.Found || res.After.Entry.Revision != got.Revision || res.After.Entry.Key != e.prefix+"free" {
			t.Errorf("Result.After = %+v, want the new record at %d", res.After, got.Revision)
		}
		r, err := lease.Decode(got.Value)
		if err != nil || r.HolderID != lease.OperatorHolder(testOperator) {
			t.Errorf("written record = %+v, %v; want holder %q (the session's)", r, err, lease.OperatorHolder(testOperator))
		}
		lines := g.auditLines(t)
		if len(lines) != 2 || !strings.Contains(lines[0], `"operator":"alice"`) || !strings.Contains(lines[1], `"outcome":"won"`) {
			t.Errorf("audit log = %q, want alice's intent and won", lines)
		}
	})
	t.Run("stale revision", func(t *testing.T) {
		before, lines := revision(), len(g.auditLines(t))
		_, err := m.Do(ctx, lease.Request{Action: lease.ActionTakeover, Key: e.prefix + "held", TTL: time.Minute, Seen: heldRev - 1, Reason: "stuck"})
		var changed *lease.ChangedError
		if !errors.As(err, &changed) {
			t.Fatalf("Do(stale) = %v, want *lease.ChangedError", err)
		}
		if changed.Seen != heldRev-1 || !changed.Current.Found || changed.Current.Entry.Revision != heldRev || changed.Current.Status.State != lease.Held || changed.Current.Status.Record.HolderID != "replica-1" {
			t.Errorf("ChangedError = %+v, want seen %d, current replica-1 at %d", changed, heldRev-1, heldRev)
		}
		nothingWritten(t, before, lines+2) // audited: intent, changed
	})
	t.Run("acquire a held key", func(t *testing.T) {
		before, lines := revision(), len(g.auditLines(t))
		_, err := m.Do(ctx, lease.Request{Action: lease.ActionAcquire, Key: e.prefix + "held", TTL: time.Minute, Seen: heldRev})
		if !errors.Is(err, lease.ErrHeld) {
			t.Fatalf("Do(acquire held) = %v, want lease.ErrHeld", err)
		}
		nothingWritten(t, before, lines+2) // audited: intent, held
	})
	t.Run("invalid", func(t *testing.T) {
		before, lines := revision(), len(g.auditLines(t))
		for _, req := range []lease.Request{
			{Action: lease.ActionTakeover, Key: e.prefix + "held", TTL: time.Minute, Seen: heldRev}, // no reason
			{Action: lease.ActionAcquire, Key: "elsewhere/x", TTL: time.Minute},                     // out of scope
		} {
			_, err := m.Do(ctx, req)
			var re *lease.RequestError
			if !errors.As(err, &re) || !errors.Is(err, lease.ErrInvalidRequest) {
				t.Errorf("Do(%+v) = %v, want *lease.RequestError", req, err)
			}
		}
		nothingWritten(t, before, lines)
	})
	t.Run("read-only", func(t *testing.T) {
		for name, b := range map[string]*Backend{"store": ro, "operator": reader} {
			before, lines := revision(), len(g.auditLines(t))
			_, err := b.Do(ctx, lease.Request{Action: lease.ActionTakeover, Key: e.prefix + "held", TTL: time.Minute, Seen: heldRev, Reason: "r"})
			var re *lease.RequestError
			if !errors.Is(err, stores.ErrReadOnly) || !errors.As(err, &re) {
				t.Errorf("Do on a read-only %s = %v, want a *lease.RequestError matching stores.ErrReadOnly", name, err)
			}
			nothingWritten(t, before, lines)
		}
	})
	t.Run("audit fails", func(t *testing.T) {
		before, lines := revision(), len(g.auditLines(t))
		_, err := noaudit.Do(ctx, lease.Request{Action: lease.ActionAcquire, Key: e.prefix + "x", TTL: time.Minute})
		var ae *lease.AuditError
		if !errors.As(err, &ae) || ae.Ran || !strings.Contains(ae.Error(), "not a directory") {
			t.Fatalf("Do with an unwritable audit log = %v, want *lease.AuditError (not ran) saying why", err)
		}
		nothingWritten(t, before, lines)
	})
	t.Run("store down", func(t *testing.T) {
		_, err := dn.Do(ctx, lease.Request{Action: lease.ActionAcquire, Key: "x", TTL: time.Minute})
		if err == nil || !strings.Contains(err.Error(), "connection refused") {
			t.Fatalf("Do on a store that is down = %v, want its error", err)
		}
		for _, target := range []error{lease.ErrHeld, lease.ErrInvalidRequest, stores.ErrReadOnly, ErrUnauthorized} {
			if errors.Is(err, target) {
				t.Errorf("Do on a store that is down = %v, matches %v", err, target)
			}
		}
	})
	t.Run("holder or any revision", func(t *testing.T) {
		before, lines := revision(), len(g.auditLines(t))
		for _, req := range []lease.Request{
			{Action: lease.ActionAcquire, Key: e.prefix + "y", TTL: time.Minute, Holder: "someone"},
			{Action: lease.ActionAcquire, Key: e.prefix + "y", TTL: time.Minute, AnyRevision: true},
		} {
			if _, err := m.Do(ctx, req); !errors.Is(err, lease.ErrInvalidRequest) {
				t.Errorf("Do(%+v) = %v, want *lease.RequestError", req, err)
			}
		}
		nothingWritten(t, before, lines)
	})
	t.Run("release", func(t *testing.T) {
		cur, err := e.store.Get(ctx, e.prefix+"free")
		if err != nil {
			t.Fatal(err)
		}
		res, err := m.Do(ctx, lease.Request{Action: lease.ActionRelease, Key: e.prefix + "free", Seen: cur.Revision, Reason: "done"})
		if err != nil || res.Outcome != lease.OutcomeWon {
			t.Fatalf("Do(release) = %+v, %v; want won", res, err)
		}
		if got, err := e.store.Get(ctx, e.prefix+"free"); err != nil || len(got.Value) != 0 || got.Revision != res.Revision {
			t.Errorf("free after release = %+v, %v; want empty at %d", got, err, res.Revision)
		}
	})
	t.Run("no session", func(t *testing.T) {
		before, lines := revision(), len(g.auditLines(t))
		_, s := g.client(t)
		c, err := New(g.srv.URL, WithHTTPClient(jarClient(t)))
		if err != nil {
			t.Fatal(err)
		}
		b, err := c.Backend(s, "fleet")
		if err != nil {
			t.Fatal(err)
		}
		_, err = b.Do(ctx, lease.Request{Action: lease.ActionAcquire, Key: e.prefix + "z", TTL: time.Minute})
		var se *StatusError
		if !errors.As(err, &se) || !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("Do without a session = %v, want a 401 *StatusError", err)
		}
		nothingWritten(t, before, lines)
	})
}
