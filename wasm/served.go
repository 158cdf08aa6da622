//go:build js && wasm

package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"syscall/js"

	"github.com/leasectl/leasectl/tui"
	"github.com/leasectl/leasectl/webapi"
	"github.com/leasectl/leasectl/webclient"
)

// tokenParam is the fragment `leasectl serve` hands its one-time token
// over in: http://host:port/#token=…
const tokenParam = "token"

// errNoGateway: the page is not served by `leasectl serve` (a static
// server, or a file); the program shows the demo.
var errNoGateway = errors.New("wasm: no gateway")

// served returns the console's options on the gateway that served the
// page: it asks for the session and, when there is none yet, logs in with
// the token of the page's fragment or, without one, the token the page
// asks the operator for. The error is errNoGateway when the page was not
// served by a gateway: no location (Node), a file, a 404 for the session,
// or no answer at all.
func served(ctx context.Context, page js.Value) (tui.Options, error) {
	origin := pageOrigin()
	if origin == "" {
		return tui.Options{}, errNoGateway
	}
	c, err := webclient.New(origin)
	if err != nil {
		return tui.Options{}, errNoGateway
	}
	sess, err := c.Session(ctx)
	var se *webclient.StatusError
	switch {
	case err == nil:
	case errors.Is(err, webclient.ErrUnauthorized):
		if sess, err = login(ctx, page, c); err != nil {
			return tui.Options{}, err
		}
	case errors.Is(err, webclient.ErrNoGateway), !errors.As(err, &se):
		return tui.Options{}, errNoGateway // 404, or no answer at all
	default:
		return tui.Options{}, err // a gateway that fails
	}
	return consoleOptions(c, sess)
}

// consoleOptions are the console's options for sess: one store per store
// of the session, in its order, each on a webclient Backend, read-only as
// the server says.
func consoleOptions(c *webclient.Client, sess webapi.Session) (tui.Options, error) {
	sources := make([]tui.Source, len(sess.Stores))
	for i, st := range sess.Stores {
		b, err := c.Backend(sess, st.Name)
		if err != nil {
			return tui.Options{}, err
		}
		sources[i] = tui.Source{
			Name:       st.Name,
			Kind:       st.Kind,
			ReadOnly:   sess.ReadOnly || st.ReadOnly,
			Color:      st.Color,
			Production: st.Production,
			Connect: func(context.Context) (tui.Backend, func() error, error) {
				return b, nil, nil // nothing to open: every call is a request
			},
		}
	}
	// The audit view shows the server's log, and reverts through it.
	return tui.Options{Sources: sources, Operator: sess.Operator, ReadOnly: sess.ReadOnly, Audit: c}, nil
}

// pageOrigin is the origin that served the page, "" when there is none to
// ask (Node, or a page opened from a file).
func pageOrigin() string {
	loc := js.Global().Get("location")
	if loc.Type() != js.TypeObject {
		return ""
	}
	o := loc.Get("origin")
	if o.Type() != js.TypeString || !strings.HasPrefix(o.String(), "http") {
		return ""
	}
	return o.String()
}

// login logs in with the fragment's token, which it removes from the
// address bar and history at once (it is valid once), or asks the page
// for a token until one is accepted.
func login(ctx context.Context, page js.Value, c *webclient.Client) (webapi.Session, error) {
	token := takeFragmentToken()
	prompt := "Paste the token leasectl serve printed, or your operator token:"
	for {
		if token == "" {
			var err error
			if token, err = askToken(ctx, page, prompt); err != nil {
				return webapi.Session{}, err
			}
		}
		sess, err := c.Login(ctx, token)
		if err == nil {
			return sess, nil
		}
		if !errors.Is(err, webclient.ErrUnauthorized) {
			return webapi.Session{}, err
		}
		token = ""
		prompt = "That token was refused (a one-time token works once). Paste a valid token:"
	}
}

// takeFragmentToken returns the token of the page's fragment
// (#token=…), and replaces the page's address by one without the
// fragment, so that it stays neither in the address bar nor in history.
func takeFragmentToken() string {
	loc := js.Global().Get("location")
	hash := loc.Get("hash")
	if hash.Type() != js.TypeString || hash.String() == "" {
		return ""
	}
	q, err := url.ParseQuery(strings.TrimPrefix(hash.String(), "#"))
	if err != nil {
		return ""
	}
	token := q.Get(tokenParam)
	if token != "" {
		if h := js.Global().Get("history"); h.Type() == js.TypeObject {
			h.Call("replaceState", js.Null(), "", loc.Get("pathname").String()+loc.Get("search").String())
		}
	}
	return token
}

// askToken asks the page for a token: page.askToken(prompt) returns a
// promise of the string the operator entered.
func askToken(ctx context.Context, page js.Value, prompt string) (string, error) {
	if page.Get("askToken").Type() != js.TypeFunction {
		return "", errors.New("wasm: the gateway wants a token and the page cannot ask for one")
	}
	v, err := webclient.Await(ctx, page.Call("askToken", prompt), js.Undefined())
	if err != nil {
		return "", err
	}
	if v.Type() != js.TypeString {
		return "", fmt.Errorf("wasm: askToken gave a %s, want a string", v.Type())
	}
	return strings.TrimSpace(v.String()), nil
}
