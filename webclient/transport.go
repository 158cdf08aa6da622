package webclient

import "context"

// transport sends one request: natively through net/http
// (transport_other.go), in a browser through the fetch API
// (transport_js.go). origin is the gateway's, for the Origin header a
// browser sets itself. The body of the answer is read as it arrives.
type transport interface {
	roundTrip(ctx context.Context, method, url, origin string, header map[string]string, body []byte) (*response, error)
}
