package consul

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"
)

// The listings (List, Scan, every query of a watch) do not go through
// api.KV: it reads a whole answer before decoding it (see decode.go). The
// driver sends those GETs itself, the way the api client sends its own
// requests (api.Client.newRequest and request.toHTTP): the same HTTP client
// (and so transport, TLS and connection pool), address, scheme, path prefix,
// datacenter, namespace, partition, token, basic auth and headers, and the
// default consistency mode (neither ?stale nor ?consistent).

// answer is the start of an agent's answer to a KV GET: the body, still to
// be read, and the headers the driver relies on.
type answer struct {
	body  io.ReadCloser // nil when the agent answered 404 (nothing there)
	index uint64        // X-Consul-Index
	// filtered is X-Consul-Results-Filtered-By-ACLs: the ACL token could not
	// read some of what was asked, and the answer leaves it out silently.
	filtered bool
}

// close ends the answer. A body that was read to its end is drained (a few
// bytes) so that the connection goes back to the pool; one that was not is
// closed at once, dropping the connection, rather than read for nothing.
func (a *answer) close(complete bool) {
	if a.body == nil {
		return
	}
	if complete {
		_, _ = io.Copy(io.Discard, io.LimitReader(a.body, 4<<10))
	}
	a.body.Close()
}

// kvGet sends GET /v1/kv/<key> with params, within ctx.
func (s *Store) kvGet(ctx context.Context, key string, params url.Values) (*answer, error) {
	cfg := &s.cfg
	u := url.URL{
		Scheme: cfg.Scheme,
		Host:   cfg.Address,
		Path:   cfg.PathPrefix + "/v1/kv/" + strings.TrimPrefix(key, "/"),
	}
	if strings.HasPrefix(u.Host, "/") {
		u.Host = "localhost" // a unix socket: the client dials the path
	}
	q := make(url.Values, len(params)+3)
	if cfg.Datacenter != "" {
		q.Set("dc", cfg.Datacenter)
	}
	if cfg.Namespace != "" {
		q.Set("ns", cfg.Namespace)
	}
	if cfg.Partition != "" {
		q.Set("partition", cfg.Partition)
	}
	if cfg.WaitTime != 0 {
		q.Set("wait", durToMsec(cfg.WaitTime))
	}
	for k, v := range params {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	if h := s.client.Headers(); h != nil {
		req.Header = h
	}
	if cfg.Token != "" {
		req.Header.Set("X-Consul-Token", cfg.Token)
	}
	if cfg.HttpAuth != nil {
		req.SetBasicAuth(cfg.HttpAuth.Username, cfg.HttpAuth.Password)
	}
	if !s.compress {
		// Go's transport would ask for gzip, which costs the agent as much
		// CPU as the listing itself: pointless over loopback.
		req.Header.Set("Accept-Encoding", "identity")
	}
	resp, err := cfg.HttpClient.Do(req)
	if err != nil {
		return nil, err
	}
	switch resp.StatusCode {
	case http.StatusOK, http.StatusNotFound:
	default:
		// As the api client reports it, so that classify sees the same.
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		return nil, api.StatusError{Code: resp.StatusCode, Body: strings.TrimSpace(string(body))}
	}
	a := &answer{body: resp.Body, filtered: resp.Header.Get("X-Consul-Results-Filtered-By-ACLs") == "true"}
	if v := resp.Header.Get("X-Consul-Index"); v != "" {
		if a.index, err = strconv.ParseUint(v, 10, 64); err != nil {
			resp.Body.Close()
			return nil, fmt.Errorf("%w: X-Consul-Index %q: %w", errSyntax, v, err)
		}
	}
	if resp.StatusCode == http.StatusNotFound {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
		a.body = nil
	}
	return a, nil
}

// durToMsec formats a wait as the api client does: whole milliseconds, at
// least 1 for a positive duration (0 would mean the agent's default).
func durToMsec(d time.Duration) string {
	ms := d / time.Millisecond
	if d > 0 && ms == 0 {
		ms = 1
	}
	return fmt.Sprintf("%dms", ms)
}

// isLoopback reports whether the agent's address (host:port, a host, or a
// unix socket path) is on this machine.
func isLoopback(address string) bool {
	if strings.HasPrefix(address, "/") {
		return true
	}
	host := address
	if h, _, err := net.SplitHostPort(address); err == nil {
		host = h
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
