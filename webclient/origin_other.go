//go:build !js

package webclient

// setOrigin: outside a browser, the client sends the Origin header the
// gateway checks on every POST, as the page's browser would.
const setOrigin = true
