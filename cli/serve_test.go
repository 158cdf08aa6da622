package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/leasectl/leasectl/demo"
	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/webapi"
)

// serving is a running `leasectl serve`, in process.
type serving struct {
	t              *testing.T
	url            *url.URL // as printed
	origin         string
	cookie         string
	stdout, stderr *lockedBuffer
	signals        chan os.Signal
	done           chan int
}

// startServe runs leasectl with args and waits for the URL it prints.
func startServe(t *testing.T, args ...string) *serving {
	t.Helper()
	s := &serving{t: t, stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, signals: make(chan os.Signal, 2), done: make(chan int, 1)}
	env := Env{Stdin: strings.NewReader(""), Stdout: s.stdout, Stderr: s.stderr, Signals: s.signals}
	go func() { s.done <- Main(t.Context(), args, env) }()
	t.Cleanup(func() { s.stop() })
	deadline := time.Now().Add(30 * time.Second)
	for s.url == nil {
		for line := range strings.Lines(s.stdout.String()) {
			if raw, ok := strings.CutPrefix(strings.TrimSpace(line), "leasectl serve: open "); ok {
				u, err := url.Parse(raw)
				if err != nil {
					t.Fatalf("printed URL %q: %v", raw, err)
				}
				s.url = u
			}
		}
		select {
		case code := <-s.done:
			t.Fatalf("leasectl %v exited with %d before printing a URL\nstdout: %s\nstderr: %s", args, code, s.stdout, s.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no URL printed\nstdout: %s\nstderr: %s", s.stdout, s.stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.origin = s.url.Scheme + "://" + s.url.Host
	return s
}

// stop interrupts serve as SIGINT would and returns its exit code.
func (s *serving) stop() int {
	select {
	case s.signals <- syscall.SIGINT:
	default:
	}
	select {
	case code := <-s.done:
		s.done <- code
		return code
	case <-time.After(time.Minute):
		s.t.Fatalf("serve did not stop on SIGINT\nstderr: %s", s.stderr)
		return -1
	}
}

// do sends a request as the page does and decodes a 200 answer into v.
func (s *serving) do(method, path string, body, v any) int {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(s.t.Context(), method, s.origin+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set(webapi.RequestHeader, "1")
	req.Header.Set("Origin", s.origin)
	if s.cookie != "" {
		req.AddCookie(&http.Cookie{Name: webapi.SessionCookie, Value: s.cookie})
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == webapi.SessionCookie {
			s.cookie = c.Value
		}
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	if resp.StatusCode == http.StatusOK && v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			s.t.Fatalf("%s %s: %v in %.200s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

func (s *serving) login(token string) webapi.Session {
	s.t.Helper()
	var sess webapi.Session
	if code := s.do(http.MethodPost, webapi.PathLogin, webapi.Login{Token: token}, &sess); code != http.StatusOK {
		s.t.Fatalf("login = %d", code)
	}
	return sess
}

func leasesPath(store string) string { return strings.Replace(webapi.PathLeases, "{store}", store, 1) }

func TestServeDemo(t *testing.T) {
	noConfig(t)
	s := startServe(t, "serve", "--listen", "127.0.0.1:0")
	if s.url.Host == "127.0.0.1:0" || s.url.Path != "/" {
		t.Errorf("printed URL %s, want the real port", s.url)
	}
	token, ok := strings.CutPrefix(s.url.Fragment, "token=")
	if !ok || token == "" {
		t.Fatalf("printed URL %s has no #token=", s.url)
	}
	if code := s.do(http.MethodGet, webapi.PathSession, nil, nil); code != http.StatusUnauthorized {
		t.Errorf("GET session before login = %d, want 401", code)
	}
	sess := s.login(token)
	if len(sess.Stores) != 1 || sess.Stores[0].Name != demo.StoreName || sess.Operator == "" {
		t.Errorf("session = %+v, want the demo store", sess)
	}
	var l webapi.Listing
	if code := s.do(http.MethodGet, leasesPath(demo.StoreName), nil, &l); code != http.StatusOK || len(l.Entries) == 0 {
		t.Errorf("GET demo leases = %d, %d entries; want the demo fleet's", code, len(l.Entries))
	}
	// An open event stream does not hold up the shutdown.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, s.origin+strings.Replace(webapi.PathEvents, "{store}", demo.StoreName, 1), nil)
	req.AddCookie(&http.Cookie{Name: webapi.SessionCookie, Value: s.cookie})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if line, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil || !strings.HasPrefix(line, ":") {
		t.Fatalf("event stream starts %q, %v", line, err)
	}
	if code := s.stop(); code != ExitOK {
		t.Errorf("serve stopped by SIGINT exited %d, want 0\nstderr: %s", code, s.stderr)
	}
	if strings.Contains(s.stderr.String(), token) {
		t.Errorf("the token is in the server's log:\n%s", s.stderr)
	}
	if _, err := io.ReadAll(resp.Body); err != nil && !strings.Contains(err.Error(), "EOF") {
		t.Logf("event stream ended with %v", err)
	}
}

func TestServeConfig(t *testing.T) {
	f := newFixture(t)
	for i := range 20 {
		f.put(t, fmt.Sprintf("exports/job-%02d", i), liveRecord("replica-1"))
	}
	orders := f.put(t, "exports/orders", liveRecord("replica-1"))
	// The one-time token is for the configured operator; with operators
	// configured, there is none and the audited name is the operator's.
	const carol = "carol-token-0123456789abcdef"
	t.Setenv("LEASECTL_TEST_CAROL", carol)
	conf, err := os.ReadFile(f.config)
	if err != nil {
		t.Fatal(err)
	}
	conf = append(conf, "serve:\n  operators:\n    - name: carol\n      token_env: LEASECTL_TEST_CAROL\n"...)
	if err := os.WriteFile(f.config, conf, 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, "--config", f.config, "serve", "--listen", "127.0.0.1:0")
	if s.url.Fragment != "" {
		t.Errorf("printed URL %s carries a token with operators configured", s.url)
	}
	if sess := s.login(carol); sess.Operator != "carol" || len(sess.Stores) != 2 || !sess.Stores[1].ReadOnly {
		t.Errorf("session = %+v, want carol on fleet and fleet-ro (read-only)", sess)
	}
	want, err := f.store.List(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	var l webapi.Listing
	if code := s.do(http.MethodGet, leasesPath("fleet"), nil, &l); code != http.StatusOK || len(l.Entries) != len(want) {
		t.Fatalf("GET leases = %d, %d entries; want %d", code, len(l.Entries), len(want))
	}
	for i, w := range l.Entries {
		if w.Key != want[i].Key || w.Revision != want[i].Revision {
			t.Errorf("listing[%d] = %s@%d, want %s@%d", i, w.Key, w.Revision, want[i].Key, want[i].Revision)
		}
	}
	var ans webapi.ActionAnswer
	path := strings.Replace(webapi.PathActions, "{store}", "fleet", 1)
	if code := s.do(http.MethodPost, path, webapi.Action{Action: lease.ActionTakeover, Key: "exports/orders", Seen: orders, TTLSeconds: 60, Reason: "wedged"}, &ans); code != http.StatusOK || ans.Result.Outcome != lease.OutcomeWon {
		t.Fatalf("takeover = %d %+v", code, ans)
	}
	rec, err := lease.Decode(f.get(t, "exports/orders").Value)
	if err != nil || rec.HolderID != lease.OperatorHolder("carol") {
		t.Errorf("store holds %+v (%v), want carol's takeover", rec, err)
	}
	b, err := os.ReadFile(f.audit)
	if err != nil || strings.Count(string(b), `"operator":"carol"`) != 2 {
		t.Errorf("audit log = %s (%v), want carol's intent and result", b, err)
	}
	if strings.Contains(s.stderr.String(), carol) || strings.Contains(s.stdout.String(), carol) {
		t.Errorf("carol's token was printed:\n%s\n%s", s.stdout, s.stderr)
	}
}

func TestServeRefuses(t *testing.T) {
	noConfig(t)
	tests := map[string][]string{
		"beyond loopback without TLS": {"serve", "--listen", "0.0.0.0:0"},
		"all interfaces without TLS":  {"serve", "--listen", ":0"},
		"a certificate without a key": {"serve", "--listen", "127.0.0.1:0", "--tls-cert", "cert.pem"},
		"an address without a port":   {"serve", "--listen", "127.0.0.1"},
		"an argument":                 {"serve", "extra"},
	}
	for name, args := range tests {
		t.Run(name, func(t *testing.T) {
			r := runEnv(t, Env{}, args...)
			if r.code != ExitUsage || strings.Contains(r.stdout, "open ") {
				t.Errorf("leasectl %v = exit %d, stdout %q, stderr %q; want 2 and no URL", args, r.code, r.stdout, r.stderr)
			}
		})
	}
}
