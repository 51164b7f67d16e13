// Package panel serves the agent panel: one HTML page and its ES modules and stylesheet, embedded
// in the binary. The panel speaks only the public REST API and the WebSocket protocol
// (docs/panel.md); this package knows nothing of the domain and only serves files.
package panel

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"sort"
	"strings"
)

//go:embed static
var static embed.FS

// AssetsPrefix is the URL path under which the assets are served: AssetsPrefix + version + "/" +
// file. The version is a hash of every asset, so a release changes every asset URL at once and
// the relative imports between modules stay inside one version.
const AssetsPrefix = "/assets/"

// versionPlaceholder is replaced in index.html by the assets' URL prefix.
const versionPlaceholder = "{{ASSETS}}"

// preloadPlaceholder is replaced in index.html by a modulepreload link for every module.
const preloadPlaceholder = "{{PRELOAD}}"

// file is one served file with its precompressed body.
type file struct {
	body   []byte
	gz     []byte // nil when gzip would not make it smaller
	ctype  string
	etag   string
	lenStr string
}

// Panel is the panel's handler. Build it with New; it is immutable and safe for concurrent use.
type Panel struct {
	version string
	index   *file
	assets  map[string]*file // by path below the version, e.g. "js/main.js"
}

// New reads the embedded files, hashes them and compresses them once, so that serving is a map
// lookup and a write.
func New() (*Panel, error) {
	root, err := fs.Sub(static, "static")
	if err != nil {
		return nil, fmt.Errorf("panel: open embedded files: %w", err)
	}
	p := &Panel{assets: map[string]*file{}}
	var names []string
	err = fs.WalkDir(root, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || name == "index.html" {
			return err
		}
		names = append(names, name)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("panel: list embedded files: %w", err)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, name := range names {
		b, err := fs.ReadFile(root, name)
		if err != nil {
			return nil, fmt.Errorf("panel: read %s: %w", name, err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00", name, len(b))
		h.Write(b)
		p.assets[name] = newFile(b, contentType(name))
	}
	p.version = hex.EncodeToString(h.Sum(nil))[:16]
	idx, err := fs.ReadFile(root, "index.html")
	if err != nil {
		return nil, fmt.Errorf("panel: read index.html: %w", err)
	}
	// Every module is preloaded, so the browser fetches them in parallel instead of discovering
	// the imports one level at a time.
	var preload strings.Builder
	for _, name := range names {
		if path.Ext(name) == ".js" {
			fmt.Fprintf(&preload, "<link rel=\"modulepreload\" href=\"%s%s\">\n", p.AssetsURL(), name)
		}
	}
	idx = bytes.ReplaceAll(idx, []byte(preloadPlaceholder), []byte(strings.TrimSuffix(preload.String(), "\n")))
	idx = bytes.ReplaceAll(idx, []byte(versionPlaceholder), []byte(p.AssetsURL()))
	p.index = newFile(idx, "text/html; charset=utf-8")
	return p, nil
}

// AssetsURL is the versioned prefix of the assets, ending in "/".
func (p *Panel) AssetsURL() string { return AssetsPrefix + p.version + "/" }

func newFile(b []byte, ctype string) *file {
	f := &file{body: b, ctype: ctype, lenStr: fmt.Sprint(len(b))}
	sum := sha256.Sum256(b)
	f.etag = `"` + hex.EncodeToString(sum[:8]) + `"`
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // the level is valid
	_, _ = zw.Write(b)                                       // writes to a bytes.Buffer do not fail
	_ = zw.Close()
	if buf.Len() < len(b) {
		f.gz = buf.Bytes()
	}
	return f
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// ServeHTTP answers GET / with the page and GET /assets/{version}/{file} with an asset. Any
// other path is not the panel's: 404.
func (p *Panel) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	SecurityHeaders(w.Header(), r)
	if r.URL.Path == "/" {
		// The page is small and names the assets' version: never cached, so a release is picked
		// up at the next load.
		w.Header().Set("Cache-Control", "no-cache")
		serveFile(w, r, p.index)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, p.AssetsURL())
	f := p.assets[rest]
	if !ok || f == nil {
		// An asset of another version (a page loaded before a release) is gone: the page's
		// reload fetches the new ones.
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	serveFile(w, r, f)
}

func serveFile(w http.ResponseWriter, r *http.Request, f *file) {
	h := w.Header()
	h.Set("Content-Type", f.ctype)
	h.Set("ETag", f.etag)
	h.Add("Vary", "Accept-Encoding")
	if match := r.Header.Get("If-None-Match"); match != "" && match == f.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := f.body
	if f.gz != nil && acceptsGzip(r) {
		body = f.gz
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(enc), "gzip") {
			continue
		}
		q, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q=")
		return !ok || strings.Trim(q, "0.") != "" // "q=0", "q=0.0": refused
	}
	return false
}

// SecurityHeaders sets the headers of every page and asset of the panel and the simulator's
// phone page: a Content-Security-Policy that allows only this origin's scripts and styles (no
// inline code, so an injected message body cannot run), the socket of this host, and blob: and
// data: images for media fetched with the bearer token.
func SecurityHeaders(h http.Header, r *http.Request) {
	host := r.Host
	h.Set("Content-Security-Policy", strings.Join([]string{
		"default-src 'self'",
		"script-src 'self'",
		"style-src 'self'",
		"img-src 'self' blob: data:",
		"media-src 'self' blob:",
		"connect-src 'self' ws://" + host + " wss://" + host,
		"object-src 'none'",
		"base-uri 'none'",
		"form-action 'self'",
		"frame-ancestors 'none'",
	}, "; "))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
}
