package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/leasectl/leasectl/audit"
	"github.com/leasectl/leasectl/gateway"
	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/etcd"
	"github.com/leasectl/leasectl/stores/etcd/etcdtest"
	"github.com/leasectl/leasectl/stores/memory"
	"github.com/leasectl/leasectl/webapi"
)

// server is the real etcd every test shares, each under a prefix of its
// own.
var server etcdtest.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	server.Close()
	os.Exit(code)
}

var prefixes atomic.Int64

// syncBuffer is a log the server and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fixture is a gateway over real etcd behind a real HTTP server: the store
// "fleet" (writable) and "fleet-ro" (read-only) over the same prefix.
type fixture struct {
	t      *testing.T
	gw     *gateway.Gateway
	srv    *httptest.Server
	cli    *clientv3.Client
	store  stores.Store
	prefix string
	audit  string
	log    *syncBuffer // the request log and the server's error log
}

// newFixture starts it; edit adjusts the configuration first.
func newFixture(t *testing.T, edit func(*gateway.Config)) *fixture {
	t.Helper()
	cli := server.Get(t).Client(t)
	st, err := etcd.New(cli)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, cli: cli, store: st, prefix: fmt.Sprintf("gw%d/", prefixes.Add(1)),
		audit: filepath.Join(t.TempDir(), "audit.jsonl"), log: &syncBuffer{}}
	open := func(context.Context) (stores.Store, func() error, error) { return st, nil, nil }
	cfg := gateway.Config{
		Stores: []gateway.Store{
			{Name: "fleet", Kind: "etcd", Prefix: f.prefix, Open: open},
			{Name: "fleet-ro", Kind: "etcd", Prefix: f.prefix, ReadOnly: true, Open: open},
		},
		Operator:    "alice",
		CallTimeout: 10 * time.Second,
		Host:        "gateway-test",
		Log:         f.log,
	}
	if edit != nil {
		edit(&cfg)
	}
	if cfg.Auditor == nil {
		a, err := audit.NewFile(f.audit)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Auditor, cfg.AuditLog = a, f.audit
	}
	f.gw, err = gateway.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewUnstartedServer(f.gw)
	f.srv.Config.ErrorLog = log.New(f.log, "http: ", 0)
	f.srv.Start()
	t.Cleanup(func() {
		f.srv.Close()
		f.gw.Close()
	})
	return f
}

// revision is etcd's revision now: it moves with every write anywhere.
func (f *fixture) revision() int64 {
	f.t.Helper()
	resp, err := f.cli.Get(f.t.Context(), "gateway-test-revision-probe")
	if err != nil {
		f.t.Fatal(err)
	}
	return resp.Header.Revision
}

// put writes key (under the prefix) directly to etcd and returns its revision.
func (f *fixture) put(key string, value []byte) uint64 {
	f.t.Helper()
	resp, err := f.cli.Put(f.t.Context(), f.prefix+key, string(value))
	if err != nil {
		f.t.Fatal(err)
	}
	return uint64(resp.Header.Revision)
}

// auditLines is the audit log's records.
func (f *fixture) auditLines() []map[string]any {
	f.t.Helper()
	b, err := os.ReadFile(f.audit)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		f.t.Fatal(err)
	}
	var lines []map[string]any
	for l := range strings.Lines(string(b)) {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			f.t.Fatalf("audit line %q: %v", l, err)
		}
		lines = append(lines, m)
	}
	return lines
}

// client is one browser: its session cookie and its manners.
type client struct {
	f      *fixture
	cookie string
}

// answer is one HTTP answer.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// decode decodes the body into v, failing the test if it does not parse.
func (a answer) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("decoding %s: %v", a.body, err)
	}
}

// code is the error code of an ErrorAnswer body.
func (a answer) code(t *testing.T) string {
	t.Helper()
	var e webapi.ErrorAnswer
	a.decode(t, &e)
	return e.Error.Code
}

// request is one request's parts a test may change.
type request struct {
	method, path string
	body         io.Reader
	header       map[string]string // "" removes a header
}

// do sends req as the page would (X-Leasectl, same Origin, the cookie),
// with req.header's changes.
func (c *client) do(req request) answer {
	t := c.f.t
	t.Helper()
	r, err := http.NewRequestWithContext(t.Context(), req.method, c.f.srv.URL+req.path, req.body)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set(webapi.RequestHeader, "1")
	if req.method == http.MethodPost {
		r.Header.Set("Origin", c.f.srv.URL)
		r.Header.Set("Content-Type", "application/json")
	}
	if c.cookie != "" {
		r.AddCookie(&http.Cookie{Name: webapi.SessionCookie, Value: c.cookie})
	}
	for k, v := range req.header {
		if v == "" {
			r.Header.Del(k)
		} else {
			r.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, b}
}

func (c *client) get(path string) answer {
	c.f.t.Helper()
	return c.do(request{method: http.MethodGet, path: path})
}

func (c *client) post(path string, v any) answer {
	c.f.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.f.t.Fatal(err)
	}
	return c.do(request{method: http.MethodPost, path: path, body: bytes.NewReader(b)})
}

// login exchanges token for a session; the answer says how it went.
func (c *client) login(token string) answer {
	c.f.t.Helper()
	a := c.post(webapi.PathLogin, webapi.Login{Token: token})
	for _, ck := range (&http.Response{Header: a.header}).Cookies() {
		if ck.Name == webapi.SessionCookie {
			c.cookie = ck.Value
		}
	}
	return a
}

// session logs a new client in with the one-time token.
func (f *fixture) session() *client {
	f.t.Helper()
	c := &client{f: f}
	if a := c.login(f.gw.OneTimeToken()); a.status != http.StatusOK {
		f.t.Fatalf("login = %d %s, want 200", a.status, a.body)
	}
	return c
}

// storePath is a store-scoped path.
func storePath(pattern, store string) string {
	return strings.Replace(pattern, "{store}", store, 1)
}

func keyQuery(pattern, store, key string) string {
	return storePath(pattern, store) + "?" + url.Values{"key": {key}}.Encode()
}

// action posts a to store's actions.
func (c *client) action(store string, a webapi.Action) (answer, webapi.ActionAnswer) {
	c.f.t.Helper()
	ans := c.post(storePath(webapi.PathActions, store), a)
	var aa webapi.ActionAnswer
	if ans.status != http.StatusForbidden || strings.Contains(string(ans.body), `"result"`) {
		ans.decode(c.f.t, &aa)
	} else {
		var e webapi.ErrorAnswer
		ans.decode(c.f.t, &e)
		aa.Error = &e.Error
	}
	return ans, aa
}

// liveRecord is a replica's live lease.
func liveRecord() []byte {
	return lease.NewRecord("replica-1", time.Now(), time.Hour).Encode()
}

func TestUnauthorized(t *testing.T) {
	f := newFixture(t, nil)
	rev := f.put("orders", liveRecord())
	takeover := webapi.Action{Action: lease.ActionTakeover, Key: f.prefix + "orders", Seen: rev, TTLSeconds: 60, Reason: "stuck"}
	body, _ := json.Marshal(takeover)
	paths := []request{
		{method: http.MethodGet, path: webapi.PathSession},
		{method: http.MethodGet, path: webapi.PathStores},
		{method: http.MethodGet, path: storePath(webapi.PathLeases, "fleet")},
		{method: http.MethodGet, path: keyQuery(webapi.PathKey, "fleet", f.prefix+"orders")},
		{method: http.MethodGet, path: keyQuery(webapi.PathHistory, "fleet", f.prefix+"orders")},
		{method: http.MethodGet, path: storePath(webapi.PathEvents, "fleet")},
		{method: http.MethodGet, path: storePath(webapi.PathLeases, "no-such-store")},
		{method: http.MethodGet, path: "/api/v1/no/such/path"},
		{method: http.MethodDelete, path: "/api/v1/stores"},
		{method: http.MethodPost, path: storePath(webapi.PathActions, "fleet")},
	}
	before := f.revision()
	for _, cookie := range []string{"", "not-a-session", f.gw.OneTimeToken()} {
		c := &client{f: f, cookie: cookie}
		for _, req := range paths {
			t.Run(fmt.Sprintf("%s %s cookie %.4q", req.method, req.path, cookie), func(t *testing.T) {
				if req.method == http.MethodPost {
					req.body = bytes.NewReader(body)
				}
				a := c.do(req)
				if a.status != http.StatusUnauthorized || a.code(t) != webapi.CodeUnauthorized {
					t.Errorf("%s %s = %d %s, want 401 unauthorized", req.method, req.path, a.status, a.body)
				}
			})
		}
	}
	c := &client{f: f}
	for _, token := range []string{"", "wrong", f.gw.OneTimeToken() + "x", strings.ToUpper(f.gw.OneTimeToken())} {
		if a := c.login(token); a.status != http.StatusUnauthorized || c.cookie != "" {
			t.Errorf("login(%.6q…) = %d %s, cookie %q; want 401 and no cookie", token, a.status, a.body, c.cookie)
		}
	}
	if after := f.revision(); after != before {
		t.Errorf("etcd revision %d → %d: something was written", before, after)
	}
	if lines := f.auditLines(); len(lines) != 0 {
		t.Errorf("audit log has %d lines, want none", len(lines))
	}
	// The one-time token still works: failed attempts did not use it.
	f.session()
}

func TestOneTimeToken(t *testing.T) {
	f := newFixture(t, nil)
	token := f.gw.OneTimeToken()
	if len(token) < 43 {
		t.Fatalf("OneTimeToken() = %q, want 32 random bytes", token)
	}
	c := &client{f: f}
	a := c.login(token)
	if a.status != http.StatusOK {
		t.Fatalf("first login = %d %s, want 200", a.status, a.body)
	}
	var s webapi.Session
	a.decode(t, &s)
	if s.Operator != "alice" || s.Holder != lease.OperatorHolder("alice") || s.ReadOnly || len(s.Stores) != 2 {
		t.Errorf("login answer = %+v, want alice, writable, two stores", s)
	}
	ck := (&http.Response{Header: a.header}).Cookies()
	if len(ck) != 1 || !ck[0].HttpOnly || ck[0].SameSite != http.SameSiteStrictMode || ck[0].Path != "/" {
		t.Errorf("cookie = %+v, want one HttpOnly SameSite=Strict cookie for /", ck)
	}
	if got := c.get(webapi.PathSession); got.status != http.StatusOK {
		t.Errorf("GET session = %d %s, want 200", got.status, got.body)
	}
	if f.gw.OneTimeToken() != "" {
		t.Error("OneTimeToken() after use is not empty")
	}
	again := &client{f: f}
	if a := again.login(token); a.status != http.StatusUnauthorized || again.cookie != "" {
		t.Errorf("second login = %d %s, want 401", a.status, a.body)
	}
	// The first session still works.
	if got := c.get(webapi.PathSession); got.status != http.StatusOK {
		t.Errorf("GET session after the second login = %d, want 200", got.status)
	}
}

func TestReadOnly(t *testing.T) {
	tests := []struct {
		name  string
		store string
		edit  func(*gateway.Config)
		token string // "" logs in with the one-time token
	}{
		{name: "store read_only", store: "fleet-ro"},
		{name: "server read-only", store: "fleet", edit: func(c *gateway.Config) { c.ReadOnly = true }},
		{name: "operator read_only", store: "fleet", token: "viewer-token-0123456789", edit: func(c *gateway.Config) {
			c.Operators = []gateway.Credential{
				{Name: "viewer", Token: "viewer-token-0123456789", ReadOnly: true},
				{Name: "carol", Token: "carol-token-0123456789"},
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.edit)
			c := &client{f: f}
			token := tt.token
			if token == "" {
				token = f.gw.OneTimeToken()
			}
			if a := c.login(token); a.status != http.StatusOK {
				t.Fatalf("login = %d %s", a.status, a.body)
			}
			rev := f.put("orders", liveRecord())
			before := f.revision()
			for _, a := range []webapi.Action{
				{Action: lease.ActionTakeover, Key: f.prefix + "orders", Seen: rev, TTLSeconds: 60, Reason: "stuck"},
				{Action: lease.ActionRelease, Key: f.prefix + "orders", Seen: rev, Reason: "stuck"},
				{Action: lease.ActionAcquire, Key: f.prefix + "fresh", TTLSeconds: 60},
			} {
				ans, aa := c.action(tt.store, a)
				if ans.status != http.StatusForbidden || aa.Error == nil || aa.Error.Code != webapi.CodeReadOnly {
					t.Errorf("%s on %s = %d %s, want 403 read_only", a.Action, tt.store, ans.status, ans.body)
				}
			}
			if after := f.revision(); after != before {
				t.Errorf("etcd revision %d → %d: something was written", before, after)
			}
			if lines := f.auditLines(); len(lines) != 0 {
				t.Errorf("audit log has %d lines, want none", len(lines))
			}
			var s webapi.Session
			c.get(webapi.PathSession).decode(t, &s)
			for _, st := range s.Stores {
				if st.Name == tt.store && !st.ReadOnly {
					t.Errorf("session says %s is writable", tt.store)
				}
			}
		})
	}
}

func TestCrossSite(t *testing.T) {
	f := newFixture(t, nil)
	c := f.session()
	rev := f.put("orders", liveRecord())
	body, _ := json.Marshal(webapi.Action{Action: lease.ActionTakeover, Key: f.prefix + "orders", Seen: rev, TTLSeconds: 60, Reason: "stuck"})
	before := f.revision()
	tests := map[string]map[string]string{
		"other origin":              {"Origin": "http://evil.example"},
		"other port":                {"Origin": "http://127.0.0.1:1"},
		"https for http":            {"Origin": strings.Replace(f.srv.URL, "http:", "https:", 1)},
		"null origin":               {"Origin": "null"},
		"no origin":                 {"Origin": ""},
		"no X-Leasectl":             {webapi.RequestHeader: ""},
		"form post without headers": {webapi.RequestHeader: "", "Origin": "http://evil.example", "Content-Type": "application/x-www-form-urlencoded"},
	}
	for name, header := range tests {
		t.Run(name, func(t *testing.T) {
			a := c.do(request{method: http.MethodPost, path: storePath(webapi.PathActions, "fleet"), body: bytes.NewReader(body), header: header})
			if a.status != http.StatusForbidden || a.code(t) != webapi.CodeForbidden {
				t.Errorf("POST with %v = %d %s, want 403 forbidden", header, a.status, a.body)
			}
		})
	}
	// A login from another site is refused too, and does not use the token.
	other := &client{f: f}
	a := other.do(request{method: http.MethodPost, path: webapi.PathLogin, body: strings.NewReader(`{"token":"x"}`), header: map[string]string{"Origin": "http://evil.example"}})
	if a.status != http.StatusForbidden {
		t.Errorf("cross-site login = %d %s, want 403", a.status, a.body)
	}
	if after := f.revision(); after != before {
		t.Errorf("etcd revision %d → %d: something was written", before, after)
	}
	if lines := f.auditLines(); len(lines) != 0 {
		t.Errorf("audit log has %d lines, want none", len(lines))
	}
}

// chunked hides a reader's length, so that the body is sent chunked.
type chunked struct{ io.Reader }

func TestOversizedBody(t *testing.T) {
	f := newFixture(t, nil)
	c := f.session()
	rev := f.put("orders", liveRecord())
	// A valid action, padded past the limit inside its reason.
	big, _ := json.Marshal(webapi.Action{Action: lease.ActionTakeover, Key: f.prefix + "orders", Seen: rev, TTLSeconds: 60,
		Reason: strings.Repeat("x", gateway.MaxBody)})
	before := f.revision()
	for name, body := range map[string]func() io.Reader{
		"with length": func() io.Reader { return bytes.NewReader(big) },
		"chunked":     func() io.Reader { return chunked{bytes.NewReader(big)} },
	} {
		for _, path := range []string{storePath(webapi.PathActions, "fleet"), webapi.PathLogin} {
			t.Run(name+" "+path, func(t *testing.T) {
				a := c.do(request{method: http.MethodPost, path: path, body: body()})
				if a.status != http.StatusRequestEntityTooLarge || a.code(t) != webapi.CodeTooLarge {
					t.Errorf("POST %d bytes = %d %s, want 413 too_large", len(big), a.status, a.body)
				}
			})
		}
	}
	if after := f.revision(); after != before {
		t.Errorf("etcd revision %d → %d: something was written", before, after)
	}
	if lines := f.auditLines(); len(lines) != 0 {
		t.Errorf("audit log has %d lines, want none", len(lines))
	}
}

func TestStaleRevision(t *testing.T) {
	f := newFixture(t, nil)
	c := f.session()
	seen := f.put("orders", liveRecord())
	current := f.put("orders", liveRecord())
	before := f.revision()
	for _, a := range []webapi.Action{
		{Action: lease.ActionTakeover, Key: f.prefix + "orders", Seen: seen, TTLSeconds: 60, Reason: "stuck"},
		{Action: lease.ActionRelease, Key: f.prefix + "orders", Seen: seen, Reason: "stuck"},
	} {
		ans, aa := c.action("fleet", a)
		if ans.status != http.StatusConflict || aa.Error == nil || aa.Error.Code != webapi.CodeChanged {
			t.Fatalf("%s at a stale revision = %d %s, want 409 changed", a.Action, ans.status, ans.body)
		}
		if aa.Error.Seen != seen || aa.Error.Current == nil || !aa.Error.Current.Found || aa.Error.Current.Entry.Revision != current {
			t.Errorf("%s: changed error = %+v, want seen %d, current revision %d", a.Action, aa.Error, seen, current)
		}
		if aa.Result.Outcome != lease.OutcomeChanged {
			t.Errorf("%s: outcome = %v, want changed", a.Action, aa.Result.Outcome)
		}
	}
	if after := f.revision(); after != before {
		t.Errorf("etcd revision %d → %d: something was written", before, after)
	}
	// Audited as attempts that found the key changed.
	lines := f.auditLines()
	if len(lines) != 4 || lines[1]["outcome"] != "changed" || lines[3]["outcome"] != "changed" {
		t.Errorf("audit log = %v, want intent and changed twice", lines)
	}
}

func TestTakeoverAsAuthenticatedOperator(t *testing.T) {
	const carolToken = "carol-token-0123456789abcdef"
	f := newFixture(t, func(c *gateway.Config) {
		c.Operators = []gateway.Credential{{Name: "carol", Token: carolToken}, {Name: "dave", Token: "dave-token-0123456789abcdef"}}
	})
	if tok := f.gw.OneTimeToken(); tok != "" {
		t.Errorf("OneTimeToken() with operators = %q, want none", tok)
	}
	c := &client{f: f}
	if a := c.login(carolToken); a.status != http.StatusOK {
		t.Fatalf("login = %d %s", a.status, a.body)
	}
	// An operator's token logs in any number of times.
	if a := (&client{f: f}).login(carolToken); a.status != http.StatusOK {
		t.Fatalf("second login = %d %s", a.status, a.body)
	}
	rev := f.put("orders", liveRecord())
	ans, aa := c.action("fleet", webapi.Action{Action: lease.ActionTakeover, Key: f.prefix + "orders", Seen: rev, TTLSeconds: 120, Reason: "replica wedged"})
	if ans.status != http.StatusOK || aa.Error != nil || aa.Result.Outcome != lease.OutcomeWon {
		t.Fatalf("takeover = %d %s, want 200 won", ans.status, ans.body)
	}
	e, err := f.store.Get(t.Context(), f.prefix+"orders")
	if err != nil {
		t.Fatal(err)
	}
	rec, err := lease.Decode(e.Value)
	if err != nil {
		t.Fatalf("Decode(%q) = %v", e.Value, err)
	}
	if rec.HolderID != lease.OperatorHolder("carol") || e.Revision != aa.Result.Revision || e.Revision <= rev {
		t.Errorf("store holds %+v at %d, want holder %q at the answer's revision %d", rec, e.Revision, lease.OperatorHolder("carol"), aa.Result.Revision)
	}
	lines := f.auditLines()
	if len(lines) != 2 {
		t.Fatalf("audit log has %d lines, want intent and result", len(lines))
	}
	for i, want := range []string{"pending", "won"} {
		l := lines[i]
		if l["operator"] != "carol" || l["outcome"] != want || l["action"] != "takeover" || l["store"] != "fleet" ||
			l["key"] != f.prefix+"orders" || l["reason"] != "replica wedged" || l["host"] != "gateway-test" {
			t.Errorf("audit line %d = %v, want carol's takeover, %s", i, l, want)
		}
	}
	// A page cannot choose who it writes as: a holder field is refused.
	a := c.do(request{method: http.MethodPost, path: storePath(webapi.PathActions, "fleet"),
		body: strings.NewReader(fmt.Sprintf(`{"action":"acquire","key":%q,"ttl_seconds":60,"holder":"operator:mallory"}`, f.prefix+"x"))})
	if a.status != http.StatusBadRequest {
		t.Errorf("action with a holder = %d %s, want 400", a.status, a.body)
	}
	// Neither the tokens nor the session cookie reach the logs.
	logs := f.log.String()
	if !strings.Contains(logs, webapi.PathLogin) || !strings.Contains(logs, " 200 ") {
		t.Errorf("request log %q does not log the requests", logs)
	}
	for _, secret := range []string{carolToken, c.cookie, "orders"} {
		if strings.Contains(logs, secret) {
			t.Errorf("server log contains %q:\n%s", secret, logs)
		}
	}
}

func TestAuditUnwritable(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := audit.NewFile(filepath.Join(blocker, "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, func(c *gateway.Config) { c.Auditor = a })
	c := f.session()
	rev := f.put("orders", liveRecord())
	before := f.revision()
	ans, aa := c.action("fleet", webapi.Action{Action: lease.ActionTakeover, Key: f.prefix + "orders", Seen: rev, TTLSeconds: 60, Reason: "stuck"})
	if ans.status != http.StatusServiceUnavailable || aa.Error == nil || aa.Error.Code != webapi.CodeAudit || aa.Error.Ran {
		t.Errorf("takeover with an unwritable audit log = %d %s, want 503 audit, not ran", ans.status, ans.body)
	}
	if after := f.revision(); after != before {
		t.Errorf("etcd revision %d → %d: something was written", before, after)
	}
}

func TestNoAuditor(t *testing.T) {
	st := memory.New()
	t.Cleanup(func() { st.Close() })
	g, err := gateway.New(gateway.Config{Operator: "alice", Stores: []gateway.Store{{Name: "demo", Kind: "memory",
		Open: func(context.Context) (stores.Store, func() error, error) { return st, nil, nil }}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	f := &fixture{t: t, gw: g, srv: srv}
	c := f.session()
	ans, aa := c.action("demo", webapi.Action{Action: lease.ActionAcquire, Key: "orders", TTLSeconds: 60})
	if ans.status != http.StatusServiceUnavailable || aa.Error == nil || aa.Error.Code != webapi.CodeAudit {
		t.Errorf("acquire without an audit log = %d %s, want 503 audit", ans.status, ans.body)
	}
	if _, err := st.Get(t.Context(), "orders"); !errors.Is(err, stores.ErrNotFound) {
		t.Errorf("Get(orders) = %v, want not found", err)
	}
}

// hostile are keys and values a store may hold that JSON strings cannot
// carry as they are, or that a page must not take for markup.
var hostile = map[string][]byte{
	"bad-utf8-\xff\xfe":      []byte("value"),
	"ctl-\x1b[31m-\x00-\x7f": []byte("\x1b]0;title\x07"),
	"js-\u2028\u2029-<>&":    []byte(`<script>alert("x")</script>` + "\b\f\t\r\n"),
	"value-bad-utf8":         []byte("\xc3\x28 half"),
	"tombstone":              {},
	"quote-\"-\\":            []byte(`{"holder_id":"x"}`),
}

func TestListing(t *testing.T) {
	f := newFixture(t, nil)
	c := f.session()
	// Enough keys to fill several of etcd's pages and of the gateway's
	// chunks.
	ops := make([]clientv3.Op, 0, 100)
	for i := range 3000 {
		ops = append(ops, clientv3.OpPut(fmt.Sprintf("%sjob-%05d", f.prefix, i), string(liveRecord())))
		if len(ops) == cap(ops) {
			if _, err := f.cli.Txn(t.Context()).Then(ops...).Commit(); err != nil {
				t.Fatal(err)
			}
			ops = ops[:0]
		}
	}
	for k, v := range hostile {
		f.put(k, v)
	}
	// A key outside the prefix is not listed.
	if _, err := f.cli.Put(t.Context(), "outside-"+f.prefix, "x"); err != nil {
		t.Fatal(err)
	}
	want, err := f.store.List(t.Context(), f.prefix)
	if err != nil {
		t.Fatal(err)
	}
	a := c.get(storePath(webapi.PathLeases, "fleet"))
	if a.status != http.StatusOK {
		t.Fatalf("GET leases = %d %.200s", a.status, a.body)
	}
	var l webapi.Listing
	a.decode(t, &l)
	if len(l.Entries) != len(want) || len(want) != 3000+len(hostile) {
		t.Fatalf("listing has %d entries, store %d, want %d", len(l.Entries), len(want), 3000+len(hostile))
	}
	b64 := 0
	for i, w := range l.Entries {
		got, err := w.ToEntry()
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		if got.Key != want[i].Key || !bytes.Equal(got.Value, want[i].Value) || got.Revision != want[i].Revision {
			t.Errorf("entry %d = %q %q @%d, want %q %q @%d", i, got.Key, got.Value, got.Revision, want[i].Key, want[i].Value, want[i].Revision)
		}
		if w.KeyB64 != "" {
			b64++
		}
	}
	if b64 != 1 {
		t.Errorf("%d entries carry key_b64, want 1 (the key that is not UTF-8)", b64)
	}
	// The streamed encoding is encoding/json's, byte for byte.
	wl := webapi.Listing{Entries: make([]webapi.Entry, len(want))}
	for i, e := range want {
		wl.Entries[i] = webapi.FromEntry(e)
	}
	wb, _ := json.Marshal(wl)
	if !bytes.Equal(bytes.TrimSpace(a.body), wb) {
		t.Errorf("listing differs from encoding/json's:\n got %.300q\nwant %.300q", a.body, wb)
	}
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	// One key, by its exact bytes, found and not.
	for k, v := range hostile {
		var got webapi.Key
		c.get(keyQuery(webapi.PathKey, "fleet", f.prefix+k)).decode(t, &got)
		e, err := got.Entry.ToEntry()
		if err != nil || !got.Found || e.Key != f.prefix+k || !bytes.Equal(e.Value, v) {
			t.Errorf("GET key %q = %+v (%v), want found with %q", k, got, err, v)
		}
	}
	var absent webapi.Key
	c.get(keyQuery(webapi.PathKey, "fleet", f.prefix+"absent-\xff")).decode(t, &absent)
	if e, err := absent.Entry.ToEntry(); absent.Found || err != nil || e.Key != f.prefix+"absent-\xff" {
		t.Errorf("GET absent key = %+v, want not found with its exact key", absent)
	}
	if a := c.get(keyQuery(webapi.PathKey, "fleet", "outside-"+f.prefix)); a.status != http.StatusBadRequest {
		t.Errorf("GET key outside the prefix = %d %s, want 400", a.status, a.body)
	}
}

func TestHistory(t *testing.T) {
	f := newFixture(t, func(c *gateway.Config) {
		st := memory.New()
		c.Stores = append(c.Stores, gateway.Store{Name: "mem", Kind: "memory",
			Open: func(context.Context) (stores.Store, func() error, error) { return st, st.Close, nil }})
	})
	c := f.session()
	var revs []uint64
	for i := range 3 {
		revs = append(revs, f.put("orders", fmt.Appendf(nil, "v%d", i)))
	}
	var h webapi.History
	a := c.get(keyQuery(webapi.PathHistory, "fleet", f.prefix+"orders"))
	a.decode(t, &h)
	if a.status != http.StatusOK || len(h.Entries) != 3 {
		t.Fatalf("history = %d %s, want 3 entries", a.status, a.body)
	}
	for i, e := range h.Entries {
		if e.Value != fmt.Sprintf("v%d", i) || e.Revision != revs[i] {
			t.Errorf("history[%d] = %+v, want v%d at %d", i, e, i, revs[i])
		}
	}
	if a := c.get(keyQuery(webapi.PathHistory, "mem", "orders")); a.status != http.StatusNotImplemented || a.code(t) != webapi.CodeUnsupported {
		t.Errorf("history on memory = %d %s, want 501 unsupported", a.status, a.body)
	}
	if a := c.get(keyQuery(webapi.PathHistory, "fleet", f.prefix+"absent")); a.status != http.StatusNotFound || a.code(t) != webapi.CodeNotFound {
		t.Errorf("history of an absent key = %d %s, want 404 not_found", a.status, a.body)
	}
}

func TestStoresHealth(t *testing.T) {
	f := newFixture(t, func(c *gateway.Config) {
		c.Stores = append(c.Stores, gateway.Store{Name: "down", Kind: "consul",
			Open: func(context.Context) (stores.Store, func() error, error) {
				return nil, nil, errors.New("consul: dial 127.0.0.1:1: connection refused")
			}})
	})
	c := f.session()
	var s webapi.Stores
	a := c.get(webapi.PathStores)
	a.decode(t, &s)
	if a.status != http.StatusOK || len(s.Stores) != 3 {
		t.Fatalf("stores = %d %s", a.status, a.body)
	}
	want := []webapi.Store{
		{Name: "fleet", Kind: "etcd", Prefix: f.prefix, Watch: true, History: true},
		{Name: "fleet-ro", Kind: "etcd", Prefix: f.prefix, ReadOnly: true, Watch: true, History: true},
	}
	for i, w := range want {
		if s.Stores[i] != w {
			t.Errorf("stores[%d] = %+v, want %+v", i, s.Stores[i], w)
		}
	}
	if d := s.Stores[2]; d.Name != "down" || !strings.Contains(d.Error, "connection refused") {
		t.Errorf("stores[2] = %+v, want down with its error", d)
	}
	if a := c.get(storePath(webapi.PathLeases, "down")); a.status != http.StatusBadGateway || a.code(t) != webapi.CodeStore {
		t.Errorf("leases of a store that is down = %d %s, want 502 store", a.status, a.body)
	}
	if a := c.get(storePath(webapi.PathLeases, "nope")); a.status != http.StatusNotFound || a.code(t) != webapi.CodeNotFound {
		t.Errorf("leases of an unknown store = %d %s, want 404", a.status, a.body)
	}
}

func TestHeaders(t *testing.T) {
	f := newFixture(t, nil)
	c := &client{f: f}
	for _, path := range []string{"/", webapi.PathSession} {
		a := c.get(path)
		for k, v := range map[string]string{"Content-Security-Policy": gateway.CSP, "X-Content-Type-Options": "nosniff",
			"Referrer-Policy": "no-referrer"} {
			if got := a.header.Get(k); got != v {
				t.Errorf("GET %s: %s = %q, want %q", path, k, got, v)
			}
		}
	}
	// No site built in: / says how to build it.
	if a := c.get("/"); a.status != http.StatusOK || !strings.Contains(string(a.body), "make build") {
		t.Errorf("GET / without a site = %d %s", a.status, a.body)
	}
}

// sse reads an event stream's messages.
type sse struct {
	t    *testing.T
	body io.ReadCloser
	r    *bufio.Reader
}

func (c *client) events(ctx context.Context, store string) *sse {
	t := c.f.t
	t.Helper()
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, c.f.srv.URL+storePath(webapi.PathEvents, store), nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set(webapi.RequestHeader, "1")
	r.AddCookie(&http.Cookie{Name: webapi.SessionCookie, Value: c.cookie})
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET events = %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	return &sse{t: t, body: resp.Body, r: bufio.NewReader(resp.Body)}
}

// next returns the events of the next data message, skipping comments.
func (s *sse) next() []stores.Event {
	s.t.Helper()
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			s.t.Fatalf("event stream: %v", err)
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		var batch []webapi.Event
		if err := json.Unmarshal([]byte(data), &batch); err != nil {
			s.t.Fatalf("event message %q: %v", data, err)
		}
		evs := make([]stores.Event, len(batch))
		for i, w := range batch {
			if evs[i], err = w.ToEvent(); err != nil {
				s.t.Fatal(err)
			}
		}
		return evs
	}
}

func TestEvents(t *testing.T) {
	f := newFixture(t, nil)
	c := f.session()
	want := map[string][]byte{}
	for k, v := range hostile {
		f.put(k, v)
		want[f.prefix+k] = v
	}
	for i := range 50 {
		k, v := fmt.Sprintf("job-%02d", i), liveRecord()
		f.put(k, v)
		want[f.prefix+k] = v
	}
	// Each connection, a first one and one after a drop, starts with the
	// whole snapshot and synced.
	for _, round := range []string{"first", "reconnected"} {
		ctx, cancel := context.WithCancel(t.Context())
		s := c.events(ctx, "fleet-ro")
		got := map[string][]byte{}
	snapshot:
		for {
			for _, ev := range s.next() {
				switch ev.Kind {
				case stores.EventPut:
					got[ev.Entry.Key] = ev.Entry.Value
				case stores.EventSynced:
					break snapshot
				default:
					t.Fatalf("%s: event %v before synced", round, ev.Kind)
				}
			}
		}
		if len(got) != len(want) {
			t.Errorf("%s: snapshot has %d keys, want %d", round, len(got), len(want))
		}
		for k, v := range want {
			if gv, ok := got[k]; !ok || !bytes.Equal(gv, v) {
				t.Errorf("%s: snapshot %q = %q, want %q", round, k, gv, v)
			}
		}
		// A live write arrives.
		key := "live-" + round + "-\xff"
		rev := f.put(key, []byte("new"))
	live:
		for {
			for _, ev := range s.next() {
				if ev.Kind == stores.EventPut && ev.Entry.Key == f.prefix+key {
					if string(ev.Entry.Value) != "new" || ev.Entry.Revision != rev {
						t.Errorf("%s: live event = %+v, want new at %d", round, ev.Entry, rev)
					}
					break live
				}
			}
		}
		want[f.prefix+key] = []byte("new")
		cancel()
	}
}

func TestSessionExpires(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	f := newFixture(t, func(c *gateway.Config) { c.Now = func() time.Time { return time.Unix(0, now.Load()) } })
	c := f.session()
	now.Add(int64(gateway.SessionIdle - time.Minute))
	if a := c.get(webapi.PathSession); a.status != http.StatusOK {
		t.Fatalf("session used within %v = %d", gateway.SessionIdle, a.status)
	}
	now.Add(int64(gateway.SessionIdle - time.Minute))
	if a := c.get(webapi.PathSession); a.status != http.StatusOK {
		t.Fatalf("session used again within %v = %d (idle time, not age)", gateway.SessionIdle, a.status)
	}
	now.Add(int64(gateway.SessionIdle + time.Second))
	if a := c.get(webapi.PathSession); a.status != http.StatusUnauthorized {
		t.Errorf("session idle for longer than %v = %d, want 401", gateway.SessionIdle, a.status)
	}
}
