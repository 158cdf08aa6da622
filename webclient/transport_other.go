//go:build !js

package webclient

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
)

// httpTransport sends requests through a net/http client.
type httpTransport struct{ hc *http.Client }

func defaultTransport() transport { return httpTransport{http.DefaultClient} }

// WithHTTPClient makes the client send its requests through hc, e.g. one
// with a cookie jar (a browser keeps the session cookie itself). The
// default is http.DefaultClient. It exists outside a browser only: there
// the client speaks to fetch directly.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) error {
		if hc == nil {
			return errors.New("webclient: nil http.Client")
		}
		c.t = httpTransport{hc}
		return nil
	}
}

func (t httpTransport) roundTrip(ctx context.Context, method, url, origin string, header map[string]string, body []byte) (*response, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if method != http.MethodGet {
		// What a browser sends with every POST; the gateway checks it.
		req.Header.Set("Origin", origin)
	}
	resp, err := t.hc.Do(req)
	if err != nil {
		return nil, err
	}
	return &response{status: resp.StatusCode, body: resp.Body}, nil
}
