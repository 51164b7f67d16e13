package httpapi

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Past its cap the limiter answers 503 at once without reading, and a slot comes back as soon as
// a body has been read, before its handler ends.
func TestBodyLimiterCapsBodiesBeingRead(t *testing.T) {
	t.Parallel()
	l := newBodyLimiter(2)
	read := make(chan struct{}, 4) // a held request's body has been read
	hold := make(chan struct{})    // held requests' handlers end when it is closed
	h := l.limit(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		if r.Header.Get("X-Hold") != "" {
			read <- struct{}{}
			<-hold
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	post := func(body io.Reader) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/api/auth/login", body)
		r.ContentLength = -1
		return r
	}
	serve := func(r *http.Request) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}

	// Two bodies still arriving fill the cap: a write returns once their handler reads it.
	var writers []*io.PipeWriter
	done := make(chan int, 2)
	for range 2 {
		pr, pw := io.Pipe()
		writers = append(writers, pw)
		r := post(pr)
		r.Header.Set("X-Hold", "1")
		go func() { done <- serve(r).Code }()
		_, err := pw.Write([]byte("{"))
		require.NoError(t, err)
	}

	rec := serve(post(strings.NewReader("{}")))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Equal(t, retryAfterSeconds, rec.Header().Get("Retry-After"))
	require.Equal(t, "close", rec.Header().Get("Connection"))
	require.Contains(t, rec.Body.String(), `"unavailable"`)

	// A request without a body holds nothing and is never refused.
	require.Equal(t, http.StatusNoContent, serve(httptest.NewRequest(http.MethodPost, "/api/auth/login", http.NoBody)).Code)

	// The first body ends: its slot is free while its handler still runs.
	require.NoError(t, writers[0].Close())
	<-read
	require.Equal(t, http.StatusNoContent, serve(post(strings.NewReader("{}"))).Code)

	require.NoError(t, writers[1].Close())
	<-read
	close(hold)
	require.Equal(t, http.StatusNoContent, <-done)
	require.Equal(t, http.StatusNoContent, <-done)
}
