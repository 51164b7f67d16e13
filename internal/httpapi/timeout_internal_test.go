package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestWithTimeoutGivesOrdinaryRequestsADeadline(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		method, path string
		deadline     bool
	}{
		{"POST", "/api/conversations/1/messages", true},
		{"GET", "/api/conversations", true},
		{"POST", "/webhooks/whatsapp", true},
		{"GET", "/api/ws", false},
		{"GET", "/admin/river/", false},
		{"POST", "/admin/river/api/jobs/retry", false},
		{"POST", "/simulator/graph/v24.0/1/messages", false},
	} {
		var got bool
		h := withTimeout(time.Minute)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var at time.Time
			at, got = r.Context().Deadline()
			if got {
				require.WithinDuration(t, time.Now().Add(time.Minute), at, 10*time.Second)
			}
			w.WriteHeader(http.StatusNoContent)
		}))
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(tc.method, tc.path, nil))
		require.Equal(t, tc.deadline, got, "%s %s", tc.method, tc.path)
	}
}

// The access log and the metrics still see the route the mux matched below the timeout.
func TestWithTimeoutKeepsTheMatchedRoute(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/conversations/{id}", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	r := httptest.NewRequest("GET", "/api/conversations/7", nil)
	withTimeout(time.Minute)(mux).ServeHTTP(httptest.NewRecorder(), r)
	require.Equal(t, "GET /api/conversations/{id}", r.Pattern)
}

// A handler that gives up at the deadline without answering gets the outage answer.
func TestWithTimeoutAnswers503ForAHandlerThatDidNotAnswer(t *testing.T) {
	t.Parallel()
	h := withTimeout(20 * time.Millisecond)(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/conversations", nil))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Equal(t, "5", rec.Header().Get("Retry-After"))
	var body struct {
		Error apiError `json:"error"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
	require.Equal(t, "unavailable", body.Error.Code)
}

// A handler that answered before the deadline passed keeps its answer, written once.
func TestWithTimeoutDoesNotAnswerTwice(t *testing.T) {
	t.Parallel()
	h := withTimeout(20 * time.Millisecond)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		<-r.Context().Done()
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/conversations", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	require.JSONEq(t, `{"status":"ok"}`, rec.Body.String())
	require.Empty(t, rec.Header().Get("Retry-After"))
}
