package panel_test

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/panel"
)

func get(t *testing.T, h http.Handler, path string, header map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

// TestPageAndAssets checks what every answer of the panel carries: the strict policy, nosniff,
// no caching of the page, long caching of versioned assets, gzip when asked, and 404 for an
// asset of another version.
func TestPageAndAssets(t *testing.T) {
	p, err := panel.New()
	require.NoError(t, err)

	page := get(t, p, "/", nil)
	require.Equal(t, http.StatusOK, page.StatusCode)
	require.Equal(t, "no-cache", page.Header.Get("Cache-Control"))
	require.Equal(t, "nosniff", page.Header.Get("X-Content-Type-Options"))
	csp := page.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' blob: data:", "media-src 'self' blob:", "connect-src 'self' ws://example.com wss://example.com", "frame-ancestors 'none'"} {
		require.Contains(t, csp, want)
	}
	require.NotContains(t, csp, "unsafe-inline")
	body, err := io.ReadAll(page.Body)
	require.NoError(t, err)
	html := string(body)
	require.NotContains(t, html, "{{", "placeholders are filled")
	require.NotRegexp(t, `<script>|<script [^>]*>[^<]`, html, "no inline script")
	require.NotContains(t, html, "<style", "no inline style")
	require.NotContains(t, html, "style=", "no inline style")

	// Every asset the page names is served, versioned, cacheable for a year and gzipped.
	urls := regexp.MustCompile(`(?:src|href)="(/assets/[^"]+)"`).FindAllStringSubmatch(html, -1)
	require.GreaterOrEqual(t, len(urls), 3)
	for _, u := range urls {
		require.True(t, strings.HasPrefix(u[1], p.AssetsURL()), u[1])
		resp := get(t, p, u[1], map[string]string{"Accept-Encoding": "gzip, deflate, br"})
		require.Equal(t, http.StatusOK, resp.StatusCode, u[1])
		require.Equal(t, "public, max-age=31536000, immutable", resp.Header.Get("Cache-Control"))
		require.Equal(t, "gzip", resp.Header.Get("Content-Encoding"), u[1])
		require.Contains(t, resp.Header.Get("Vary"), "Accept-Encoding")
		require.NotEmpty(t, resp.Header.Get("Content-Security-Policy"))
		zr, err := gzip.NewReader(resp.Body)
		require.NoError(t, err)
		_, err = io.ReadAll(zr)
		require.NoError(t, err)
	}
	js := get(t, p, p.AssetsURL()+"js/main.js", nil)
	require.Empty(t, js.Header.Get("Content-Encoding"), "no gzip unless asked")
	require.Equal(t, "text/javascript; charset=utf-8", js.Header.Get("Content-Type"))
	refused := get(t, p, p.AssetsURL()+"js/main.js", map[string]string{"Accept-Encoding": "gzip;q=0"})
	require.Empty(t, refused.Header.Get("Content-Encoding"), "q=0 refuses gzip")

	require.Equal(t, http.StatusNotModified, get(t, p, p.AssetsURL()+"js/main.js", map[string]string{"If-None-Match": js.Header.Get("ETag")}).StatusCode)
	require.Equal(t, http.StatusNotFound, get(t, p, "/assets/0123456789abcdef/js/main.js", nil).StatusCode, "another version")
	require.Equal(t, http.StatusNotFound, get(t, p, p.AssetsURL()+"js/nope.js", nil).StatusCode)
}

// TestFirstLoadSize holds the page and every asset, compressed as a browser receives them, under
// the 300 KB budget of a first load.
func TestFirstLoadSize(t *testing.T) {
	p, err := panel.New()
	require.NoError(t, err)
	total := 0
	page := get(t, p, "/", map[string]string{"Accept-Encoding": "gzip"})
	b, _ := io.ReadAll(page.Body)
	total += len(b)
	zr, err := gzip.NewReader(strings.NewReader(string(b)))
	require.NoError(t, err)
	html, _ := io.ReadAll(zr)
	for _, u := range regexp.MustCompile(`(?:src|href)="(/assets/[^"]+)"`).FindAllStringSubmatch(string(html), -1) {
		resp := get(t, p, u[1], map[string]string{"Accept-Encoding": "gzip"})
		b, _ := io.ReadAll(resp.Body)
		total += len(b)
	}
	t.Logf("first load: %d bytes compressed", total)
	require.Less(t, total, 300_000)
}
