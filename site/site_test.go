package site

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

// testSite is a built site in miniature: the page, a versioned folder,
// and precompressed variants (their bytes only need to differ).
func testSite() fstest.MapFS {
	return fstest.MapFS{
		"index.html":                   {Data: []byte("<!doctype html>page")},
		"index.html.gz":                {Data: []byte("gz(page)")},
		"v/abc/leasectl.wasm":          {Data: []byte("\x00asm raw")},
		"v/abc/leasectl.wasm.gz":       {Data: []byte("gz(wasm)")},
		"v/abc/leasectl.wasm.br":       {Data: []byte("br(wasm)")},
		"v/abc/console.js":             {Data: []byte("js")},
		"v/abc/vendor/xterm/xterm.css": {Data: []byte("css")},
		"v/abc/vendor/xterm/LICENSE":   {Data: []byte("MIT")},
	}
}

func get(t *testing.T, h http.Handler, method, target string, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestHandler(t *testing.T) {
	h, err := NewHandler(testSite())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method, path, acceptEncoding string
		wantStatus                         int
		wantBody, wantType, wantEncoding   string
		wantCache, wantVary                string
	}{
		{name: "root is the page", path: "/", wantStatus: 200, wantBody: "<!doctype html>page",
			wantType: "text/html; charset=utf-8", wantCache: cacheIndex, wantVary: "Accept-Encoding"},
		{name: "page gzipped", path: "/index.html", acceptEncoding: "gzip, deflate, br", wantStatus: 200, wantBody: "gz(page)",
			wantType: "text/html; charset=utf-8", wantEncoding: "gzip", wantCache: cacheIndex, wantVary: "Accept-Encoding"},
		{name: "wasm brotli first", path: "/v/abc/leasectl.wasm", acceptEncoding: "gzip, deflate, br, zstd", wantStatus: 200,
			wantBody: "br(wasm)", wantType: "application/wasm", wantEncoding: "br", wantCache: cacheVersioned, wantVary: "Accept-Encoding"},
		{name: "wasm gzip when br is refused", path: "/v/abc/leasectl.wasm", acceptEncoding: "br;q=0, gzip;q=0.5", wantStatus: 200,
			wantBody: "gz(wasm)", wantType: "application/wasm", wantEncoding: "gzip", wantCache: cacheVersioned, wantVary: "Accept-Encoding"},
		{name: "wasm star", path: "/v/abc/leasectl.wasm", acceptEncoding: "*", wantStatus: 200,
			wantBody: "br(wasm)", wantType: "application/wasm", wantEncoding: "br", wantCache: cacheVersioned, wantVary: "Accept-Encoding"},
		{name: "wasm identity", path: "/v/abc/leasectl.wasm", wantStatus: 200,
			wantBody: "\x00asm raw", wantType: "application/wasm", wantCache: cacheVersioned, wantVary: "Accept-Encoding"},
		{name: "js without variants", path: "/v/abc/console.js", acceptEncoding: "br", wantStatus: 200,
			wantBody: "js", wantType: "text/javascript; charset=utf-8", wantCache: cacheVersioned},
		{name: "css", path: "/v/abc/vendor/xterm/xterm.css", wantStatus: 200,
			wantBody: "css", wantType: "text/css; charset=utf-8", wantCache: cacheVersioned},
		{name: "license", path: "/v/abc/vendor/xterm/LICENSE", wantStatus: 200,
			wantBody: "MIT", wantType: "text/plain; charset=utf-8", wantCache: cacheVersioned},
		{name: "head", method: http.MethodHead, path: "/v/abc/leasectl.wasm", acceptEncoding: "br", wantStatus: 200,
			wantType: "application/wasm", wantEncoding: "br", wantCache: cacheVersioned, wantVary: "Accept-Encoding"},
		{name: "an encoding is not a file", path: "/v/abc/leasectl.wasm.br", wantStatus: 404},
		{name: "missing", path: "/v/abc/nope.js", wantStatus: 404},
		{name: "a folder", path: "/v/abc/", wantStatus: 404},
		{name: "dot-dot stays inside", path: "/../index.html", wantStatus: 200, wantBody: "<!doctype html>page",
			wantType: "text/html; charset=utf-8", wantCache: cacheIndex, wantVary: "Accept-Encoding"},
		{name: "post", method: http.MethodPost, path: "/", wantStatus: 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			rec := get(t, h, method, tt.path, map[string]string{"Accept-Encoding": tt.acceptEncoding})
			if rec.Code != tt.wantStatus {
				t.Fatalf("%s %s: status %d, want %d", method, tt.path, rec.Code, tt.wantStatus)
			}
			if tt.wantStatus != 200 {
				return
			}
			hdr := rec.Header()
			for _, c := range []struct{ name, got, want string }{
				{"body", rec.Body.String(), tt.wantBody},
				{"Content-Type", hdr.Get("Content-Type"), tt.wantType},
				{"Content-Encoding", hdr.Get("Content-Encoding"), tt.wantEncoding},
				{"Cache-Control", hdr.Get("Cache-Control"), tt.wantCache},
				{"Vary", hdr.Get("Vary"), tt.wantVary},
			} {
				if c.got != c.want {
					t.Errorf("%s %s (Accept-Encoding %q): %s = %q, want %q", method, tt.path, tt.acceptEncoding, c.name, c.got, c.want)
				}
			}
			if etag := hdr.Get("ETag"); len(etag) < 3 || etag[0] != '"' {
				t.Errorf("ETag = %q, want a strong one", etag)
			}
		})
	}
}

func TestHandlerETags(t *testing.T) {
	h, err := NewHandler(testSite())
	if err != nil {
		t.Fatal(err)
	}
	const wasm = "/v/abc/leasectl.wasm"
	br := get(t, h, "GET", wasm, map[string]string{"Accept-Encoding": "br"}).Header().Get("ETag")
	gz := get(t, h, "GET", wasm, map[string]string{"Accept-Encoding": "gzip"}).Header().Get("ETag")
	id := get(t, h, "GET", wasm, nil).Header().Get("ETag")
	if br == gz || br == id || gz == id {
		t.Fatalf("ETags br %s, gzip %s, identity %s: want one per encoding", br, gz, id)
	}
	if again := get(t, h, "GET", wasm, map[string]string{"Accept-Encoding": "br"}).Header().Get("ETag"); again != br {
		t.Fatalf("ETag changed between two requests: %s then %s", br, again)
	}
	tests := []struct {
		name, acceptEncoding, ifNoneMatch string
		want                              int
	}{
		{"same encoding", "br", br, http.StatusNotModified},
		{"in a list, weak form", "br", `"x", W/` + br, http.StatusNotModified},
		{"star", "gzip", "*", http.StatusNotModified},
		{"another encoding's tag", "gzip", br, http.StatusOK},
		{"stale", "br", `"0000"`, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := get(t, h, "GET", wasm, map[string]string{"Accept-Encoding": tt.acceptEncoding, "If-None-Match": tt.ifNoneMatch})
			if rec.Code != tt.want {
				t.Fatalf("If-None-Match %s (Accept-Encoding %s): status %d, want %d", tt.ifNoneMatch, tt.acceptEncoding, rec.Code, tt.want)
			}
			if tt.want == http.StatusNotModified {
				if rec.Body.Len() != 0 || rec.Header().Get("Cache-Control") != cacheVersioned || rec.Header().Get("ETag") == "" {
					t.Errorf("304: body %q, headers %v; want no body, the ETag and the cache header", rec.Body, rec.Header())
				}
			}
		})
	}
}

func TestHandlerNotBuilt(t *testing.T) {
	h, err := NewHandler(fstest.MapFS{"README": {Data: []byte("how to build")}})
	if err != nil {
		t.Fatal(err)
	}
	rec := get(t, h, "GET", "/", nil)
	if rec.Code != 200 || rec.Header().Get("Cache-Control") != cacheIndex || !strings.Contains(rec.Body.String(), "make build") {
		t.Fatalf("GET / without a built console: %d %q, want the page saying how to build it", rec.Code, rec.Body)
	}
	if rec := get(t, h, "GET", "/v/x/leasectl.wasm", nil); rec.Code != 404 {
		t.Fatalf("GET the wasm without a built console: %d, want 404", rec.Code)
	}
}

func TestEmbeddedHandler(t *testing.T) {
	// Whatever dist holds in this build (README alone, or the console),
	// the handler serves the root.
	rec := get(t, Handler(), "GET", "/", nil)
	if rec.Code != 200 {
		t.Fatalf("GET / = %d, want 200 (Built() = %v)", rec.Code, Built())
	}
}
