//go:build js

package webclient

// setOrigin: a browser sets the Origin header itself (a page may not).
const setOrigin = false
