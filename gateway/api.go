package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/leasectl/leasectl/audit"
	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/webapi"
)

// routes sets up the API behind the session check.
func (g *Gateway) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET "+webapi.PathSession, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, g.sessionAnswer(sessionOf(r)))
	})
	m.HandleFunc("GET "+webapi.PathStores, g.storesHealth)
	m.HandleFunc("GET "+webapi.PathLeases, g.withStore(g.leases))
	m.HandleFunc("GET "+webapi.PathKey, g.withStore(g.key))
	m.HandleFunc("GET "+webapi.PathHistory, g.withStore(g.history))
	m.HandleFunc("GET "+webapi.PathEvents, g.withStore(g.events))
	m.HandleFunc("POST "+webapi.PathActions, g.withStore(g.action))
	m.HandleFunc("GET "+webapi.PathAudit, g.auditLog)
	m.HandleFunc(webapi.PathPrefix, func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, webapi.CodeNotFound, "no such path or method")
	})
	g.mux = m
}

// storeState is one served store, opened when first needed.
type storeState struct {
	conf     Store
	readOnly bool          // the store's or the server's
	sem      chan struct{} // one Open at a time

	mu      sync.Mutex
	st      stores.Store
	closeFn func() error
	hub     *hub // the shared watch of st, once a page follows it
}

// get returns the store, opening it if it is not open yet. A failed open
// is retried by the next call.
func (s *storeState) get(ctx context.Context) (stores.Store, error) {
	if st := s.opened(); st != nil {
		return st, nil
	}
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("store %s: %w", s.conf.Name, context.Cause(ctx))
	}
	defer func() { <-s.sem }()
	if st := s.opened(); st != nil {
		return st, nil
	}
	st, closeFn, err := s.conf.Open(ctx)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", s.conf.Name, err)
	}
	if s.readOnly {
		// The store itself refuses writes, not only the gateway's checks.
		st = stores.ReadOnly(st)
	}
	s.mu.Lock()
	s.st, s.closeFn = st, closeFn
	s.mu.Unlock()
	return st, nil
}

func (s *storeState) opened() stores.Store {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st
}

// watchHub returns the hub that shares w, the watch of the open store,
// among the pages.
func (s *storeState) watchHub(w stores.Watcher) *hub {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hub == nil {
		s.hub = newHub(w, s.conf.Prefix)
	}
	return s.hub
}

func (s *storeState) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hub != nil {
		s.hub.close()
	}
	if s.closeFn == nil {
		return nil
	}
	err := s.closeFn()
	s.closeFn = nil
	return err
}

// kindCapabilities are the capabilities of each driver, for a store not
// opened yet: watch, history.
var kindCapabilities = map[string][2]bool{
	"etcd": {true, true}, "nats": {true, true}, "consul": {true, false}, "memory": {true, false},
}

// view is the store as the session sees it.
func (s *storeState) view(sess *session) webapi.Store {
	v := webapi.Store{Name: s.conf.Name, Kind: s.conf.Kind, Prefix: s.conf.Prefix, ReadOnly: s.readOnly || sess.readOnly,
		Color: s.conf.Color, Production: s.conf.Production}
	if st := s.opened(); st != nil {
		_, v.Watch = stores.AsWatcher(st)
		_, v.History = stores.AsHistorian(st)
	} else {
		c := kindCapabilities[s.conf.Kind]
		v.Watch, v.History = c[0], c[1]
	}
	return v
}

func (g *Gateway) sessionAnswer(s *session) webapi.Session {
	a := webapi.Session{Operator: s.operator, Holder: lease.OperatorHolder(s.operator), ReadOnly: s.readOnly || g.cfg.ReadOnly,
		Stores: make([]webapi.Store, len(g.order))}
	for i, st := range g.order {
		a.Stores[i] = st.view(s)
	}
	return a
}

// healthKey is the key a health check reads under a store's prefix: a Get
// is the cheapest round trip every store has, and absent is healthy.
const healthKey = "leasectl-health-check"

// storesHealth answers every store with its health, checked in parallel.
func (g *Gateway) storesHealth(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	ans := webapi.Stores{Stores: make([]webapi.Store, len(g.order))}
	var wg sync.WaitGroup
	for i, st := range g.order {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
			defer cancel()
			err := st.health(ctx)
			ans.Stores[i] = st.view(sess)
			if err != nil {
				ans.Stores[i].Error = err.Error()
			}
		})
	}
	wg.Wait()
	writeJSON(w, http.StatusOK, ans)
}

func (s *storeState) health(ctx context.Context) error {
	st, err := s.get(ctx)
	if err != nil {
		return err
	}
	key := s.conf.Prefix + healthKey
	if stores.CheckKey(st, key) != nil {
		key = healthKey
	}
	if _, err := st.Get(ctx, key); err != nil && !errors.Is(err, stores.ErrNotFound) && !errors.Is(err, stores.ErrInvalidKey) {
		return fmt.Errorf("store %s: %w", s.conf.Name, err)
	}
	return nil
}

// withStore resolves the {store} of the path and opens it.
func (g *Gateway) withStore(h func(w http.ResponseWriter, r *http.Request, st *storeState, store stores.Store)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		st := g.stores[r.PathValue("store")]
		if st == nil {
			writeError(w, http.StatusNotFound, webapi.CodeNotFound, "no such store")
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), g.timeout)
		store, err := st.get(ctx)
		cancel()
		if err != nil {
			writeError(w, http.StatusBadGateway, webapi.CodeStore, err.Error())
			return
		}
		h(w, r, st, store)
	}
}

// keyParam is the key query parameter, which must be in the store's scope.
func keyParam(w http.ResponseWriter, r *http.Request, st *storeState) (string, bool) {
	key := r.URL.Query().Get("key")
	if key == "" {
		writeError(w, http.StatusBadRequest, webapi.CodeBadRequest, "missing key")
		return "", false
	}
	if err := lease.CheckScope(key, st.conf.Prefix); err != nil {
		writeError(w, http.StatusBadRequest, webapi.CodeBadRequest, err.Error())
		return "", false
	}
	return key, true
}

func (g *Gateway) key(w http.ResponseWriter, r *http.Request, st *storeState, store stores.Store) {
	key, ok := keyParam(w, r, st)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), g.timeout)
	defer cancel()
	e, err := store.Get(ctx, key)
	switch {
	case errors.Is(err, stores.ErrNotFound):
		// Through FromEntry: a key that is not valid UTF-8 travels as key_b64.
		writeJSON(w, http.StatusOK, webapi.Key{Entry: webapi.FromEntry(stores.Entry{Key: key})})
	case err != nil:
		writeError(w, http.StatusBadGateway, webapi.CodeStore, fmt.Sprintf("store %s: %v", st.conf.Name, err))
	default:
		e.Key = key
		writeJSON(w, http.StatusOK, webapi.Key{Found: true, Entry: webapi.FromEntry(e)})
	}
}

func (g *Gateway) history(w http.ResponseWriter, r *http.Request, st *storeState, store stores.Store) {
	key, ok := keyParam(w, r, st)
	if !ok {
		return
	}
	h, ok := stores.AsHistorian(store)
	if !ok {
		writeError(w, http.StatusNotImplemented, webapi.CodeUnsupported, fmt.Sprintf("store %s keeps no history", st.conf.Name))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), g.timeout)
	defer cancel()
	list, err := h.History(ctx, key)
	switch {
	case errors.Is(err, stores.ErrNotFound):
		writeError(w, http.StatusNotFound, webapi.CodeNotFound, err.Error())
	case err != nil:
		writeError(w, http.StatusBadGateway, webapi.CodeStore, fmt.Sprintf("store %s: %v", st.conf.Name, err))
	default:
		ans := webapi.History{Entries: make([]webapi.Entry, len(list))}
		for i, e := range list {
			ans.Entries[i] = webapi.FromEntry(e)
		}
		writeJSON(w, http.StatusOK, ans)
	}
}

// action runs an operator action as the session's operator.
func (g *Gateway) action(w http.ResponseWriter, r *http.Request, st *storeState, store stores.Store) {
	sess := sessionOf(r)
	var a webapi.Action
	if !readJSON(w, r, &a) {
		return
	}
	req, err := a.ToRequest()
	if err != nil {
		writeError(w, http.StatusBadRequest, webapi.CodeBadRequest, err.Error())
		return
	}
	if req.Action == 0 {
		writeError(w, http.StatusBadRequest, webapi.CodeInvalid, "missing action: acquire, takeover, release or revert")
		return
	}
	if req.Action == lease.ActionRevert {
		var status int
		if req, status, err = g.revertRequest(st, req); err != nil {
			code := webapi.CodeInvalid
			if status == http.StatusNotFound {
				code = webapi.CodeNotFound
			}
			// An ErrorAnswer reads as an ActionAnswer without a result.
			writeError(w, status, code, err.Error())
			return
		}
	}
	if sess.readOnly {
		store = stores.ReadOnly(store)
	}
	opts := []lease.OperatorOption{lease.WithScope(st.conf.Prefix), lease.WithCallTimeout(g.timeout),
		lease.WithHost(g.host), lease.WithOperatorClock(g.now)}
	if g.cfg.Auditor != nil {
		// Without one the operator refuses every action: fail closed.
		opts = append(opts, lease.WithAuditor(g.cfg.Auditor))
	}
	op, err := lease.NewOperator(store, st.conf.Name, sess.operator, opts...)
	if err != nil {
		writeError(w, http.StatusInternalServerError, webapi.CodeStore, err.Error())
		return
	}
	// The action outlives the connection: once it has begun, the audit log
	// must say how it ended even if the page went away. It gives up as a
	// whole after the call timeout, as the console's does.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), g.timeout)
	defer cancel()
	res, err := op.Do(ctx, req)
	ans := webapi.ActionAnswer{Result: webapi.FromResult(res), Error: webapi.FromError(err)}
	writeJSON(w, actionStatus(ans.Error), ans)
}

// entries reads the server's audit log: the entries of the stores it
// serves, within their scopes, oldest first. ok is false, and the answer
// written, when there is no log to read or it cannot be read.
func (g *Gateway) entries(w http.ResponseWriter) ([]audit.Entry, bool) {
	if g.cfg.AuditLog == "" {
		writeError(w, http.StatusNotFound, webapi.CodeNotFound, "this server reads no audit log")
		return nil, false
	}
	all, err := audit.ReadFile(g.cfg.AuditLog)
	if err != nil {
		writeError(w, http.StatusInternalServerError, webapi.CodeStore, err.Error())
		return nil, false
	}
	out := all[:0]
	for _, e := range all {
		if st := g.stores[e.Store]; st != nil && lease.CheckScope(e.Key, st.conf.Prefix) == nil {
			out = append(out, e)
		}
	}
	return out, true
}

// auditLog answers the server's audit log (webapi.PathAudit).
func (g *Gateway) auditLog(w http.ResponseWriter, r *http.Request) {
	entries, ok := g.entries(w)
	if !ok {
		return
	}
	ans := make([]webapi.AuditEntry, len(entries))
	for i, e := range entries {
		ans[i] = webapi.FromAuditEntry(e)
	}
	writeJSON(w, http.StatusOK, ans)
}

// revertRequest is the request of a revert the page asked for: built
// from the entry req.Reverts names in the server's own audit log (an
// exact id or a unique prefix), which must be of this store and of the
// key the page named, with the page's reason — nothing else of the page's
// request is used. On failure it returns the HTTP status to answer.
func (g *Gateway) revertRequest(st *storeState, req lease.Request) (lease.Request, int, error) {
	if g.cfg.AuditLog == "" {
		return req, http.StatusNotFound, errors.New("this server reads no audit log: nothing to revert from")
	}
	all, err := audit.ReadFile(g.cfg.AuditLog)
	if err != nil {
		return req, http.StatusInternalServerError, err
	}
	e, err := audit.Find(all, req.Reverts)
	switch {
	case errors.Is(err, audit.ErrNoEntry):
		return req, http.StatusNotFound, err
	case err != nil:
		return req, http.StatusBadRequest, err
	case e.Store != st.conf.Name || e.Key != req.Key:
		return req, http.StatusBadRequest, fmt.Errorf("audit entry %s acted on %s/%q, not on %s/%q", e.ID, e.Store, e.Key, st.conf.Name, req.Key)
	}
	rev, err := audit.RevertRequest(e, req.Reason)
	if err != nil {
		return req, http.StatusBadRequest, err
	}
	return rev, 0, nil
}

// actionStatus is the HTTP status of an action's answer.
func actionStatus(e *webapi.Error) int {
	if e == nil {
		return http.StatusOK
	}
	switch e.Code {
	case webapi.CodeChanged, webapi.CodeHeld:
		return http.StatusConflict
	case webapi.CodeInvalid:
		return http.StatusBadRequest
	case webapi.CodeReadOnly:
		return http.StatusForbidden
	case webapi.CodeAudit:
		return http.StatusServiceUnavailable
	}
	return http.StatusBadGateway
}

// readJSON decodes the request body into v, answering 413 or 400 itself
// when it cannot.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, webapi.CodeTooLarge, fmt.Sprintf("request body over %d bytes", tooLarge.Limit))
		return false
	case err != nil:
		writeError(w, http.StatusBadRequest, webapi.CodeBadRequest, "body: "+err.Error())
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"store","message":"gateway: encoding the answer failed"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, webapi.ErrorAnswer{Error: webapi.Error{Code: code, Message: msg}})
}
