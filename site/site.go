// Package site is the browser console's static site (the page, the
// console compiled to WebAssembly, wasm_exec.js and xterm.js), embedded in
// the leasectl binary for `leasectl serve`. scripts/build-wasm.sh writes it
// into dist/ before the binary is built; a binary built without it embeds
// only dist/README, and Built reports false (the handler then answers the
// page with how to build the console).
//
// The build precompresses each text file and the WebAssembly as FILE.gz
// and FILE.br, and puts everything but index.html under v/<hash>/, a folder
// named by the hash of its content: the handler serves the best encoding
// the browser accepts, with strong ETags, index.html as no-cache and the
// versioned files as immutable for a year.
package site

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
)

//go:embed all:dist
var dist embed.FS

// files is dist/ as the site's root.
var files, _ = fs.Sub(dist, "dist")

// Built reports whether the console was built into this binary.
func Built() bool {
	_, err := fs.Stat(files, "index.html")
	return err == nil
}

var (
	embedded     http.Handler
	embeddedOnce sync.Once
)

// Handler serves the embedded site.
func Handler() http.Handler {
	embeddedOnce.Do(func() {
		h, err := NewHandler(files)
		if err != nil {
			embedded = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "site: "+err.Error(), http.StatusInternalServerError)
			})
			return
		}
		embedded = h
	})
	return embedded
}

// Cache-Control of the two kinds of file: the page is revalidated on every
// load (it names the versioned folder of the current build); a versioned
// file never changes under its name.
const (
	cacheIndex     = "no-cache"
	cacheVersioned = "public, max-age=31536000, immutable"
)

// versionedDir is the folder of the versioned files.
const versionedDir = "v/"

// encodings the build precompresses to, best first: the suffix of the
// file and the Content-Encoding it is served with.
var encodings = []struct{ suffix, name string }{{".br", "br"}, {".gz", "gzip"}}

// variant is one encoding of a file.
type variant struct {
	data []byte
	etag string
}

// file is one file of the site and its precompressed variants.
type file struct {
	ctype    string
	identity variant
	encoded  map[string]variant // by Content-Encoding
}

// handler serves a site read into memory.
type handler struct {
	files map[string]*file
}

// NewHandler returns the handler of the site in fsys, which it reads whole
// (the site is a few megabytes): GET and HEAD of its files, "/" for
// index.html. FILE.br and FILE.gz are not files of their own but FILE's
// encodings. Without index.html, "/" answers a page that says how to build
// the console.
func NewHandler(fsys fs.FS) (http.Handler, error) {
	h := &handler{files: map[string]*file{}}
	raw := map[string][]byte{}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		raw[name] = b
		return nil
	})
	if err != nil {
		return nil, err
	}
	for name, b := range raw {
		if isEncoding(name) {
			continue
		}
		f := &file{ctype: contentType(name), identity: newVariant(b), encoded: map[string]variant{}}
		for _, enc := range encodings {
			if eb, ok := raw[name+enc.suffix]; ok {
				f.encoded[enc.name] = newVariant(eb)
			}
		}
		h.files[name] = f
	}
	return h, nil
}

func isEncoding(name string) bool {
	for _, enc := range encodings {
		if strings.HasSuffix(name, enc.suffix) {
			return true
		}
	}
	return false
}

// newVariant is b with its strong ETag, a hash of its bytes.
func newVariant(b []byte) variant {
	sum := sha256.Sum256(b)
	return variant{data: b, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
}

// contentType is the Content-Type of name, by its extension.
func contentType(name string) string {
	switch path.Ext(name) {
	case ".wasm":
		return "application/wasm"
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".html":
		return "text/html; charset=utf-8"
	case "":
		return "text/plain; charset=utf-8" // LICENSE, README
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// notBuilt is the page of a binary built without the console.
const notBuilt = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>leasectl</title></head>
<body><p>This leasectl binary was built without the browser console
(a plain <code>go build</code> or <code>go install</code>). Build it with
<code>make build</code> (which runs <code>scripts/build-wasm.sh</code> first).
The API under <code>/api/v1/</code> works all the same.</p></body></html>
`

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	if name == "" {
		name = "index.html"
	}
	f, ok := h.files[name]
	if !ok || isEncoding(name) {
		if name == "index.html" {
			w.Header().Set("Cache-Control", cacheIndex)
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write([]byte(notBuilt))
			return
		}
		http.NotFound(w, r)
		return
	}
	hdr := w.Header()
	if strings.HasPrefix(name, versionedDir) {
		hdr.Set("Cache-Control", cacheVersioned)
	} else {
		hdr.Set("Cache-Control", cacheIndex)
	}
	v := f.identity
	if len(f.encoded) > 0 {
		hdr.Add("Vary", "Accept-Encoding")
		for _, enc := range encodings {
			if ev, ok := f.encoded[enc.name]; ok && accepts(r.Header.Values("Accept-Encoding"), enc.name) {
				v = ev
				hdr.Set("Content-Encoding", enc.name)
				break
			}
		}
	}
	hdr.Set("ETag", v.etag)
	if match(r.Header.Values("If-None-Match"), v.etag) {
		hdr.Del("Content-Encoding")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hdr.Set("Content-Type", f.ctype)
	hdr.Set("Content-Length", strconv.Itoa(len(v.data)))
	if r.Method == http.MethodHead {
		return
	}
	w.Write(v.data)
}

// accepts reports whether the Accept-Encoding values accept coding (named,
// or "*", with a q-value other than 0).
func accepts(values []string, coding string) bool {
	star := false
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			name = strings.ToLower(strings.TrimSpace(name))
			if name != coding && name != "*" {
				continue
			}
			ok := true
			for _, p := range strings.Split(params, ";") {
				k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
				if strings.EqualFold(k, "q") {
					q, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
					ok = err == nil && q > 0
				}
			}
			if name == coding {
				return ok // an explicit entry wins over "*"
			}
			star = ok
		}
	}
	return star
}

// match reports whether If-None-Match values name etag (compared weakly,
// as RFC 9110 §13.1.2 asks) or are "*".
func match(values []string, etag string) bool {
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
			if t == "*" || t == etag {
				return true
			}
		}
	}
	return false
}
