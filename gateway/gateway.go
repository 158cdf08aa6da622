// Package gateway is the server side of the browser console: the HTTP
// handler `leasectl serve` runs. It answers the API of package webapi under
// webapi.PathPrefix on the configured stores, and the embedded site
// everywhere else, on one origin.
//
// The server decides everything that matters for safety; the page is never
// trusted. Every API path needs a session (401 otherwise, whatever the
// path), obtained by exchanging a token: the one-time token printed at start
// when no operators are configured, or an operator's own token. Sessions
// are random ids held in memory, carried by an HttpOnly, SameSite=Strict
// cookie. Outside the API, /metrics answers without a session, and only
// when Config.Metrics is set (serve --metrics). Every POST must carry webapi.RequestHeader and an Origin equal to
// the server's own (403 otherwise), and a body of at most MaxBody bytes
// (413). Writes are operator actions only — acquire, takeover, release,
// and revert of an entry of the server's own audit log — run through
// lease.Operator as the session's operator, with the server's audit log,
// fail closed; read-only (the server's, the store's, the
// operator's) is enforced here, by wrapping the store, so a refused action
// writes nothing and audits nothing, as the lease core refuses any request
// that breaks a rule. docs/gateway.md describes the API and the model.
package gateway

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/metrics"
	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/webapi"
)

// MaxBody is the largest request body accepted: an action or a login is a
// few hundred bytes, so anything near this is not the page's.
const MaxBody = 64 << 10

// SessionIdle is how long a session lives without being used: a working
// day and then some, so that an on-call engineer is not logged out mid
// incident, yet a forgotten tab does not hold a session for ever.
const SessionIdle = 12 * time.Hour

// DefaultCallTimeout bounds each store call when Config.CallTimeout is 0,
// as the command line's --timeout does.
const DefaultCallTimeout = 15 * time.Second

// healthTimeout bounds the health check of one store: a healthy store
// answers a Get in milliseconds, and the page is waiting for the row.
const healthTimeout = 3 * time.Second

// CSP is the Content-Security-Policy of every answer: the site's own
// scripts and WebAssembly only, no inline script, no framing, no forms.
const CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; " +
	"connect-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'"

// Store is one store the gateway serves.
type Store struct {
	// Name is the configured name (path-safe), Kind the driver and Prefix
	// the scope of its keys: the gateway lists, reads and writes nothing
	// outside it.
	Name, Kind, Prefix string
	// ReadOnly makes the store refuse every write.
	ReadOnly bool
	// Color and Production are how the browser console marks the store
	// (config: color, production), passed to the page as they are.
	Color      string
	Production bool
	// Open opens the store. It is called when the store is first needed
	// and again after a failure, never concurrently; the function it
	// returns closes the store (nil: nothing to close).
	Open func(ctx context.Context) (stores.Store, func() error, error)
}

// Credential is an operator who may log in with a token, any number of
// times.
type Credential struct {
	// Name is audited as the operator of the session's actions.
	Name string
	// Token is the secret; only its SHA-256 is kept.
	Token string
	// ReadOnly refuses every write of the operator.
	ReadOnly bool
}

// Config configures a Gateway.
type Config struct {
	// Stores are served in this order.
	Stores []Store
	// Operators may log in with their tokens. With none, the gateway makes
	// a one-time token (OneTimeToken) for Operator.
	Operators []Credential
	// Operator is the one-time token's operator (the process's own
	// operator name).
	Operator string
	// Auditor is the audit trail of every action; without one every
	// action is refused.
	Auditor lease.Auditor
	// AuditLog is the file Auditor appends to (audit.File.Path): GET
	// webapi.PathAudit reads it, and a revert finds the entry it reverts
	// in it, never in what the page sends. Empty: the audit path answers
	// 404 and every revert is refused.
	AuditLog string
	// ReadOnly refuses every write on every store.
	ReadOnly bool
	// CallTimeout bounds each store call, and an action as a whole
	// (DefaultCallTimeout when 0).
	CallTimeout time.Duration
	// Host is the host name audited (os.Hostname when empty).
	Host string
	// Now is the clock of the operators (time.Now when nil).
	Now func() time.Time
	// Log receives one line per request: time, method, path, status and
	// duration — never a query, a header, a cookie or a body. Nil
	// discards.
	Log io.Writer
	// Site serves every path outside the API; nil serves a page saying
	// that the console was not built into this binary.
	Site http.Handler
	// Secure marks the session cookie Secure (serving over TLS).
	Secure bool
	// Hosts are the Host headers accepted (e.g. "127.0.0.1:8080",
	// "localhost:8080"), against DNS rebinding; empty accepts any.
	Hosts []string
	// Metrics, when set, answers GET metrics.Path without a session, for
	// Prometheus, which cannot log in; it must expose nothing a session
	// guards (package metrics exports counts, times and key names, never
	// values, and writes nothing). Nil leaves the path to the site.
	Metrics http.Handler
}

// Gateway is the http.Handler of `leasectl serve`. It is safe for
// concurrent use.
type Gateway struct {
	cfg     Config
	stores  map[string]*storeState
	order   []*storeState
	creds   []credential
	once    string // the one-time token; "" once used or when unused
	onceMu  sync.Mutex
	hosts   map[string]bool
	mux     *http.ServeMux
	host    string
	timeout time.Duration
	now     func() time.Time

	mu       sync.Mutex
	sessions map[[sha256.Size]byte]*session
}

type credential struct {
	name     string
	hash     [sha256.Size]byte
	readOnly bool
}

// session is one logged-in page.
type session struct {
	operator string
	readOnly bool
	lastUsed time.Time // guarded by Gateway.mu
}

// New returns a Gateway serving cfg.
func New(cfg Config) (*Gateway, error) {
	g := &Gateway{cfg: cfg, stores: map[string]*storeState{}, sessions: map[[sha256.Size]byte]*session{},
		timeout: cfg.CallTimeout, now: cfg.Now, host: cfg.Host}
	if g.timeout <= 0 {
		g.timeout = DefaultCallTimeout
	}
	if g.now == nil {
		g.now = time.Now
	}
	if g.host == "" {
		if h, err := os.Hostname(); err == nil && h != "" {
			g.host = h
		} else {
			g.host = "unknown"
		}
	}
	for _, s := range cfg.Stores {
		switch {
		case s.Name == "" || strings.ContainsAny(s.Name, "/?#%"):
			return nil, fmt.Errorf("gateway: store name %q is not path-safe", s.Name)
		case s.Open == nil:
			return nil, fmt.Errorf("gateway: store %q: nil Open", s.Name)
		case g.stores[s.Name] != nil:
			return nil, fmt.Errorf("gateway: store %q configured twice", s.Name)
		}
		st := &storeState{conf: s, readOnly: s.ReadOnly || cfg.ReadOnly, sem: make(chan struct{}, 1)}
		g.stores[s.Name] = st
		g.order = append(g.order, st)
	}
	for _, c := range cfg.Operators {
		if c.Name == "" || c.Token == "" {
			return nil, errors.New("gateway: an operator needs a name and a token")
		}
		h := sha256.Sum256([]byte(c.Token))
		for _, o := range g.creds {
			if o.hash == h {
				return nil, fmt.Errorf("gateway: operators %q and %q have the same token", o.name, c.Name)
			}
		}
		g.creds = append(g.creds, credential{name: c.Name, hash: h, readOnly: c.ReadOnly})
	}
	if len(g.creds) == 0 {
		if cfg.Operator == "" {
			return nil, errors.New("gateway: no operators and no operator name for the one-time token")
		}
		g.once = randomToken()
	}
	if len(cfg.Hosts) > 0 {
		g.hosts = map[string]bool{}
		for _, h := range cfg.Hosts {
			g.hosts[strings.ToLower(h)] = true
		}
	}
	g.routes()
	return g, nil
}

// OneTimeToken returns the token that logs in once as Config.Operator, ""
// when operators are configured. It is meant for the start-up line only.
func (g *Gateway) OneTimeToken() string {
	g.onceMu.Lock()
	defer g.onceMu.Unlock()
	return g.once
}

// Close closes the stores the gateway opened.
func (g *Gateway) Close() error {
	var errs []error
	for _, st := range g.order {
		errs = append(errs, st.close())
	}
	return errors.Join(errs...)
}

// randomToken is 32 random bytes, URL-safe.
func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// ServeHTTP implements http.Handler: the security headers and the request
// log on everything, the API behind its checks, the site elsewhere.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w}
	defer func() {
		if g.cfg.Log != nil {
			// The path only: a query may carry store keys, and nothing of
			// a request's headers (cookies) or body (tokens) is logged.
			fmt.Fprintf(g.cfg.Log, "%s %s %q %d %s\n", start.UTC().Format(time.RFC3339), r.Method, r.URL.Path, rec.status(), time.Since(start).Round(time.Microsecond))
		}
	}()
	h := rec.Header()
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	if g.hosts != nil && !g.hosts[strings.ToLower(r.Host)] {
		// A name that is not ours pointing at us: DNS rebinding.
		writeError(rec, http.StatusMisdirectedRequest, webapi.CodeForbidden, "unknown host")
		return
	}
	if g.cfg.Metrics != nil && r.URL.Path == metrics.Path {
		h.Set("Cache-Control", "no-store")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(rec, "metrics: GET only", http.StatusMethodNotAllowed)
			return
		}
		g.cfg.Metrics.ServeHTTP(rec, r)
		return
	}
	if !strings.HasPrefix(r.URL.Path, webapi.PathPrefix) {
		g.site(rec, r)
		return
	}
	h.Set("Cache-Control", "no-store")
	g.api(rec, r)
}

// api checks a request to the API — session, cross-site, body size — and
// routes it.
func (g *Gateway) api(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		if r.Header.Get(webapi.RequestHeader) == "" || !g.sameOrigin(r) {
			writeError(w, http.StatusForbidden, webapi.CodeForbidden, "cross-site request refused")
			return
		}
		if r.ContentLength > MaxBody {
			writeError(w, http.StatusRequestEntityTooLarge, webapi.CodeTooLarge, fmt.Sprintf("request body over %d bytes", MaxBody))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
	}
	if r.URL.Path == webapi.PathLogin {
		if r.Method != http.MethodPost {
			writeError(w, http.StatusMethodNotAllowed, webapi.CodeBadRequest, "login is a POST")
			return
		}
		g.login(w, r)
		return
	}
	s := g.session(r)
	if s == nil {
		writeError(w, http.StatusUnauthorized, webapi.CodeUnauthorized, "log in first")
		return
	}
	g.mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, s)))
}

type sessionKey struct{}

func sessionOf(r *http.Request) *session { return r.Context().Value(sessionKey{}).(*session) }

// sameOrigin reports whether the request's Origin is the server's own:
// the scheme it is served with and the Host asked for.
func (g *Gateway) sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	scheme := "http://"
	if r.TLS != nil {
		scheme = "https://"
	}
	return strings.EqualFold(origin, scheme+r.Host)
}

// login exchanges a token for a session.
func (g *Gateway) login(w http.ResponseWriter, r *http.Request) {
	var body webapi.Login
	if !readJSON(w, r, &body) {
		return
	}
	s := g.authenticate(body.Token)
	if s == nil {
		writeError(w, http.StatusUnauthorized, webapi.CodeUnauthorized, "wrong or used token")
		return
	}
	id := randomToken()
	g.mu.Lock()
	g.pruneLocked()
	s.lastUsed = g.now()
	g.sessions[sha256.Sum256([]byte(id))] = s
	g.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: webapi.SessionCookie, Value: id, Path: "/", HttpOnly: true,
		Secure: g.cfg.Secure, SameSite: http.SameSiteStrictMode})
	writeJSON(w, http.StatusOK, g.sessionAnswer(s))
}

// authenticate returns the session a token opens, nil for none. Every
// configured token is compared, in constant time, whatever matches.
func (g *Gateway) authenticate(token string) *session {
	if token == "" {
		return nil
	}
	h := sha256.Sum256([]byte(token))
	var found *session
	for _, c := range g.creds {
		if subtle.ConstantTimeCompare(h[:], c.hash[:]) == 1 {
			found = &session{operator: c.name, readOnly: c.readOnly}
		}
	}
	if found != nil {
		return found
	}
	g.onceMu.Lock()
	defer g.onceMu.Unlock()
	if g.once != "" && subtle.ConstantTimeCompare([]byte(token), []byte(g.once)) == 1 {
		g.once = "" // once
		return &session{operator: g.cfg.Operator}
	}
	return nil
}

// session returns the request's live session, nil for none.
func (g *Gateway) session(r *http.Request) *session {
	c, err := r.Cookie(webapi.SessionCookie)
	if err != nil || c.Value == "" {
		return nil
	}
	key := sha256.Sum256([]byte(c.Value))
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.sessions[key]
	if s == nil {
		return nil
	}
	if now.Sub(s.lastUsed) > SessionIdle {
		delete(g.sessions, key)
		return nil
	}
	s.lastUsed = now
	return s
}

// pruneLocked forgets the expired sessions.
func (g *Gateway) pruneLocked() {
	now := g.now()
	for k, s := range g.sessions {
		if now.Sub(s.lastUsed) > SessionIdle {
			delete(g.sessions, k)
		}
	}
}

// site serves the embedded site, or says it is not built in.
func (g *Gateway) site(w http.ResponseWriter, r *http.Request) {
	if g.cfg.Site != nil {
		g.cfg.Site.ServeHTTP(w, r)
		return
	}
	if r.URL.Path != "/" && r.URL.Path != "/index.html" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	io.WriteString(w, notBuiltPage)
}

// notBuiltPage is / of a binary built without the site (a plain go build).
const notBuiltPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>leasectl serve</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>leasectl serve</h1>
<p>The browser console was not built into this binary: it was built with a plain
<code>go build</code> or <code>go install</code>, which does not build the WebAssembly console.</p>
<p>Build it from a checkout with <code>make build</code> (which runs <code>scripts/build-wasm.sh</code>
first; it needs Node 20 and npm), then run <code>bin/leasectl serve</code> again.</p>
<p>The API under <code>/api/v1/</code> works without it.</p>
</body></html>
`

// recorder remembers the status of an answer, for the log.
type recorder struct {
	http.ResponseWriter
	code int
}

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *recorder) status() int {
	if r.code == 0 {
		return http.StatusOK
	}
	return r.code
}

// LoopbackHosts are the Host headers a server listening on the loopback
// address addr (host:port) accepts: its own host, and localhost, 127.0.0.1
// and [::1] at its port.
func LoopbackHosts(addr string) []string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil
	}
	hosts := []string{net.JoinHostPort(host, port)}
	for _, h := range []string{"localhost", "127.0.0.1", "::1"} {
		hosts = append(hosts, net.JoinHostPort(h, port))
	}
	slices.Sort(hosts)
	return slices.Compact(hosts)
}
