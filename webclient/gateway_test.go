//go:build !js

// The tests need a real HTTP server: they run natively.

package webclient

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/memory"
	"github.com/leasectl/leasectl/webapi"
)

// This file is a small gateway for the client's tests: the webapi shapes,
// produced by webapi's own conversions, over a real memory store and a
// real lease.Operator. It stands in for package gateway (`leasectl serve`)
// until the client's tests run against it; it holds no belief about any
// store beyond what the memory store does.

// testToken is the token testGateway's login accepts.
const testToken = "s3cret"

// testStore configures one store of testGateway.
type testStore struct {
	name     string
	store    stores.Store
	readOnly bool
	auditor  lease.Auditor // nil: one that keeps every record
}

// testGateway serves the API for stores, as operator "alice".
type testGateway struct {
	t      *testing.T
	srv    *httptest.Server
	stores map[string]testStore
	order  []string
	ops    map[string]*lease.Operator

	mu       sync.Mutex
	sessions map[string]bool
	drops    map[string]chan struct{} // per store: closing it drops its event streams
	noHeader int                      // requests that came without webapi.RequestHeader
}

const testOperator = "alice"

func newTestGateway(t *testing.T, sts ...testStore) *testGateway {
	t.Helper()
	g := &testGateway{t: t, stores: map[string]testStore{}, ops: map[string]*lease.Operator{},
		sessions: map[string]bool{}, drops: map[string]chan struct{}{}}
	for _, s := range sts {
		st := s.store
		if s.readOnly {
			st = stores.ReadOnly(st)
		}
		a := s.auditor
		if a == nil {
			a = &keepAuditor{}
		}
		op, err := lease.NewOperator(st, s.name, testOperator, lease.WithAuditor(a))
		if err != nil {
			t.Fatal(err)
		}
		g.stores[s.name], g.ops[s.name] = testStore{name: s.name, store: st, readOnly: s.readOnly}, op
		g.order = append(g.order, s.name)
		g.drops[s.name] = make(chan struct{})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+webapi.PathLogin, g.login)
	mux.HandleFunc("GET "+webapi.PathSession, g.authed(g.session))
	mux.HandleFunc("GET "+webapi.PathLeases, g.authed(g.leases))
	mux.HandleFunc("GET "+webapi.PathHistory, g.authed(g.history))
	mux.HandleFunc("GET "+webapi.PathEvents, g.authed(g.events))
	mux.HandleFunc("POST "+webapi.PathActions, g.authed(g.action))
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(webapi.RequestHeader) != "1" {
			g.mu.Lock()
			g.noHeader++
			g.mu.Unlock()
			writeJSON(w, http.StatusForbidden, webapi.ErrorAnswer{Error: webapi.Error{Code: webapi.CodeForbidden}})
			return
		}
		if r.Method == http.MethodPost && r.Header.Get("Origin") != g.srv.URL {
			writeJSON(w, http.StatusForbidden, webapi.ErrorAnswer{Error: webapi.Error{Code: webapi.CodeForbidden}})
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(g.srv.Close)
	t.Cleanup(func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.noHeader > 0 {
			t.Errorf("%d requests came without %s", g.noHeader, webapi.RequestHeader)
		}
	})
	return g
}

// client returns a logged-in client of g and its session.
func (g *testGateway) client(t *testing.T) (*Client, webapi.Session) {
	t.Helper()
	c, err := New(g.srv.URL, WithHTTPClient(jarClient(t)))
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.Login(t.Context(), testToken)
	if err != nil {
		t.Fatalf("Login = %v", err)
	}
	return c, s
}

// backend returns a logged-in client's Backend of store.
func (g *testGateway) backend(t *testing.T, store string) *Backend {
	t.Helper()
	c, s := g.client(t)
	b, err := c.Backend(s, store)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// drop ends every event stream of store now open.
func (g *testGateway) drop(store string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	close(g.drops[store])
	g.drops[store] = make(chan struct{})
}

func jarClient(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code string, err error) {
	e := webapi.Error{Code: code}
	if err != nil {
		e.Message = err.Error()
	}
	writeJSON(w, status, webapi.ErrorAnswer{Error: e})
}

func (g *testGateway) login(w http.ResponseWriter, r *http.Request) {
	var l webapi.Login
	if err := json.NewDecoder(r.Body).Decode(&l); err != nil || l.Token != testToken {
		writeError(w, http.StatusUnauthorized, webapi.CodeUnauthorized, nil)
		return
	}
	id := "session-" + r.RemoteAddr
	g.mu.Lock()
	g.sessions[id] = true
	g.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: webapi.SessionCookie, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
	writeJSON(w, http.StatusOK, g.sessionValue())
}

func (g *testGateway) authed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(webapi.SessionCookie)
		g.mu.Lock()
		ok := err == nil && g.sessions[c.Value]
		g.mu.Unlock()
		if !ok {
			writeError(w, http.StatusUnauthorized, webapi.CodeUnauthorized, nil)
			return
		}
		h(w, r)
	}
}

func (g *testGateway) sessionValue() webapi.Session {
	s := webapi.Session{Operator: testOperator, Holder: lease.OperatorHolder(testOperator)}
	for _, name := range g.order {
		st := g.stores[name]
		_, watch := stores.AsWatcher(st.store)
		_, hist := stores.AsHistorian(st.store)
		s.Stores = append(s.Stores, webapi.Store{Name: name, Kind: "memory", ReadOnly: st.readOnly, Watch: watch, History: hist})
	}
	return s
}

func (g *testGateway) session(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, g.sessionValue())
}

// store is the store the request's path names, or false after answering
// 404.
func (g *testGateway) store(w http.ResponseWriter, r *http.Request) (testStore, bool) {
	st, ok := g.stores[r.PathValue("store")]
	if !ok {
		writeError(w, http.StatusNotFound, webapi.CodeNotFound, nil)
	}
	return st, ok
}

func (g *testGateway) leases(w http.ResponseWriter, r *http.Request) {
	st, ok := g.store(w, r)
	if !ok {
		return
	}
	es, err := st.store.List(r.Context(), "")
	if err != nil {
		writeError(w, http.StatusBadGateway, webapi.CodeStore, err)
		return
	}
	l := webapi.Listing{Entries: make([]webapi.Entry, len(es))}
	for i, e := range es {
		l.Entries[i] = webapi.FromEntry(e)
	}
	writeJSON(w, http.StatusOK, l)
}

func (g *testGateway) history(w http.ResponseWriter, r *http.Request) {
	st, ok := g.store(w, r)
	if !ok {
		return
	}
	h, ok := stores.AsHistorian(st.store)
	if !ok {
		writeError(w, http.StatusNotImplemented, webapi.CodeUnsupported, errors.New("no history"))
		return
	}
	es, err := h.History(r.Context(), r.URL.Query().Get("key"))
	if err != nil {
		writeError(w, http.StatusBadGateway, webapi.CodeStore, err)
		return
	}
	a := webapi.History{Entries: make([]webapi.Entry, len(es))}
	for i, e := range es {
		a.Entries[i] = webapi.FromEntry(e)
	}
	writeJSON(w, http.StatusOK, a)
}

// events streams the store's watch, one event per message, until the
// client leaves or the test drops the stream.
func (g *testGateway) events(w http.ResponseWriter, r *http.Request) {
	st, ok := g.store(w, r)
	if !ok {
		return
	}
	wa, ok := stores.AsWatcher(st.store)
	if !ok {
		writeError(w, http.StatusNotImplemented, webapi.CodeUnsupported, errors.New("no watch"))
		return
	}
	g.mu.Lock()
	drop := g.drops[st.name]
	g.mu.Unlock()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	evs, err := wa.Watch(ctx, "")
	if err != nil {
		writeError(w, http.StatusBadGateway, webapi.CodeStore, err)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	fl := w.(http.Flusher)
	w.Write([]byte(": hello\n\n"))
	fl.Flush()
	for {
		select {
		case <-drop:
			return
		case ev, ok := <-evs:
			if !ok {
				return
			}
			b, err := json.Marshal([]webapi.Event{webapi.FromEvent(ev)})
			if err != nil {
				g.t.Error(err)
				return
			}
			w.Write([]byte("data: "))
			w.Write(b)
			w.Write([]byte("\n\n"))
			fl.Flush()
		}
	}
}

// actionStatus is the HTTP status of an action's answer by its error code.
var actionStatus = map[string]int{
	"": http.StatusOK, webapi.CodeChanged: http.StatusConflict, webapi.CodeHeld: http.StatusConflict,
	webapi.CodeInvalid: http.StatusBadRequest, webapi.CodeReadOnly: http.StatusForbidden,
	webapi.CodeAudit: http.StatusServiceUnavailable, webapi.CodeStore: http.StatusBadGateway,
}

func (g *testGateway) action(w http.ResponseWriter, r *http.Request) {
	st, ok := g.store(w, r)
	if !ok {
		return
	}
	var a webapi.Action
	if err := json.NewDecoder(r.Body).Decode(&a); err != nil {
		writeError(w, http.StatusBadRequest, webapi.CodeBadRequest, err)
		return
	}
	req, err := a.ToRequest()
	if err != nil {
		writeError(w, http.StatusBadRequest, webapi.CodeBadRequest, err)
		return
	}
	res, err := g.ops[st.name].Do(r.Context(), req)
	ans := webapi.ActionAnswer{Result: webapi.FromResult(res), Error: webapi.FromError(err)}
	code := ""
	if ans.Error != nil {
		code = ans.Error.Code
	}
	status := actionStatus[code]
	if ans.Error != nil && ans.Error.Code == webapi.CodeAudit && ans.Error.Ran {
		status = http.StatusOK // it ran: the answer says how far
	}
	writeJSON(w, status, ans)
}

// keepAuditor keeps the records in memory.
type keepAuditor struct {
	mu      sync.Mutex
	records []lease.AuditRecord
}

func (a *keepAuditor) Audit(_ context.Context, r lease.AuditRecord) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.records = append(a.records, r)
	return nil
}

// failAuditor refuses every record, as a full disk would.
type failAuditor struct{}

var errDiskFull = errors.New("disk full")

func (failAuditor) Audit(context.Context, lease.AuditRecord) error { return errDiskFull }

// newMemory returns a memory store closed at the end of the test.
func newMemory(t *testing.T) *memory.Store {
	t.Helper()
	s := memory.New()
	t.Cleanup(func() { s.Close() })
	return s
}
