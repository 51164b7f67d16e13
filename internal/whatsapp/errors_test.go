package whatsapp_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/whatsapp"
)

// metaError answers with Meta's error shape for code.
func metaError(status, code int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = fmt.Fprintf(w, `{"error":{"message":"(#%d) simulated","type":"OAuthException","code":%d,
			"error_data":{"messaging_product":"whatsapp","details":"simulated"},"fbtrace_id":"Atrace"}}`, code, code)
	}
}

// plainStatus answers with a status and a body that is not Meta's shape.
func plainStatus(status int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "upstream says no")
	}
}

func TestClassifyGraphAnswers(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    whatsapp.Class
	}{
		{"500 without JSON body", plainStatus(http.StatusInternalServerError), whatsapp.ClassRetry},
		{"503 without JSON body", plainStatus(http.StatusServiceUnavailable), whatsapp.ClassRetry},
		{"500 with unknown code", metaError(500, 99999), whatsapp.ClassRetry},
		{"code 1 API unknown", metaError(500, 1), whatsapp.ClassRetry},
		{"code 2 API service", metaError(503, 2), whatsapp.ClassRetry},
		{"code 4 too many calls", metaError(400, 4), whatsapp.ClassRetry},
		{"code 80007 rate limit issues", metaError(400, 80007), whatsapp.ClassRetry},
		{"code 131000 something went wrong", metaError(500, 131000), whatsapp.ClassRetry},
		{"code 131016 service unavailable", metaError(503, 131016), whatsapp.ClassRetry},
		{"code 131057 maintenance", metaError(400, 131057), whatsapp.ClassRetry},
		{"code 133004 server unavailable", metaError(503, 133004), whatsapp.ClassRetry},

		{"429 without JSON body", plainStatus(http.StatusTooManyRequests), whatsapp.ClassThrottle},
		{"429 with unknown code", metaError(429, 99999), whatsapp.ClassThrottle},
		{"code 130429 rate limit hit", metaError(429, 130429), whatsapp.ClassThrottle},
		{"code 130429 with status 400", metaError(400, 130429), whatsapp.ClassThrottle},
		{"code 131056 pair rate limit", metaError(400, 131056), whatsapp.ClassThrottle},

		{"code 100 invalid parameter", metaError(400, 100), whatsapp.ClassPermanent},
		{"code 131008 missing parameter", metaError(400, 131008), whatsapp.ClassPermanent},
		{"code 131009 bad parameter", metaError(400, 131009), whatsapp.ClassPermanent},
		{"code 131026 undeliverable", metaError(400, 131026), whatsapp.ClassPermanent},
		{"code 131047 re-engagement", metaError(400, 131047), whatsapp.ClassPermanent},
		{"code 132001 template missing", metaError(404, 132001), whatsapp.ClassPermanent},
		{"code 133010 not registered", metaError(400, 133010), whatsapp.ClassPermanent},
		{"400 with unknown code", metaError(400, 99999), whatsapp.ClassPermanent},
		{"404 without JSON body", plainStatus(http.StatusNotFound), whatsapp.ClassPermanent},

		{"code 190 token expired", metaError(401, 190), whatsapp.ClassStopNumber},
		{"code 368 blocked", metaError(400, 368), whatsapp.ClassStopNumber},
		{"code 131031 locked", metaError(400, 131031), whatsapp.ClassStopNumber},
		{"code 131042 payment issue", metaError(400, 131042), whatsapp.ClassStopNumber},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			client := newTestClient(t, tt.handler)
			_, err := client.Send(t.Context(), "1", whatsapp.NewTextMessage("2", "x"))
			var apiErr *whatsapp.APIError
			require.ErrorAs(t, err, &apiErr)
			require.Equal(t, tt.want, whatsapp.Classify(err))
		})
	}
}

func TestClassifyNetworkError(t *testing.T) {
	t.Parallel()

	srv := httptest.NewServer(http.NotFoundHandler())
	baseURL := srv.URL
	srv.Close() // nothing listens there any more: connection refused

	client, err := whatsapp.NewClient(&whatsapp.Config{BaseURL: baseURL, AccessToken: testToken})
	require.NoError(t, err)
	_, err = client.Send(t.Context(), "1", whatsapp.NewTextMessage("2", "x"))
	require.Error(t, err)
	var apiErr *whatsapp.APIError
	require.False(t, errors.As(err, &apiErr))
	require.Equal(t, whatsapp.ClassRetry, whatsapp.Classify(err))
}

func TestClassifyOtherErrors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		err  error
		want whatsapp.Class
	}{
		{"nil", nil, whatsapp.ClassNone},
		{"unknown error", errors.New("boom"), whatsapp.ClassRetry},
		{"invalid message", fmt.Errorf("wrapped: %w", whatsapp.ErrInvalidMessage), whatsapp.ClassPermanent},
		{"wrapped api error", fmt.Errorf("send: %w", &whatsapp.APIError{HTTPStatus: 400, Code: 131026}), whatsapp.ClassPermanent},
		{"api error 3xx", &whatsapp.APIError{HTTPStatus: 302}, whatsapp.ClassRetry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, whatsapp.Classify(tt.err))
		})
	}
}

func TestLookupError(t *testing.T) {
	t.Parallel()

	byClass := map[whatsapp.Class][]int{
		whatsapp.ClassRetry:      {1, 2, 4, 80007, 131000, 131016, 131057, 133004},
		whatsapp.ClassThrottle:   {130429, 131056},
		whatsapp.ClassPermanent:  {100, 131008, 131009, 131021, 131026, 131047, 131049, 131050, 131051, 131053, 133010},
		whatsapp.ClassStopNumber: {190, 368, 131031, 131042},
	}
	for code := 132000; code <= 132016; code++ {
		byClass[whatsapp.ClassPermanent] = append(byClass[whatsapp.ClassPermanent], code)
	}
	for class, codes := range byClass {
		for _, code := range codes {
			info, ok := whatsapp.LookupError(code)
			require.True(t, ok, "code %d", code)
			require.Equal(t, code, info.Code)
			require.Equal(t, class, info.Class, "code %d", code)
			require.NotEmpty(t, info.Title, "code %d", code)
		}
	}

	_, ok := whatsapp.LookupError(131999)
	require.False(t, ok)
	_, ok = whatsapp.LookupError(0)
	require.False(t, ok)
}

func TestClassString(t *testing.T) {
	t.Parallel()

	tests := []struct {
		class whatsapp.Class
		want  string
	}{
		{whatsapp.ClassNone, "none"},
		{whatsapp.ClassRetry, "retry"},
		{whatsapp.ClassThrottle, "throttle"},
		{whatsapp.ClassPermanent, "permanent"},
		{whatsapp.ClassStopNumber, "stop_number"},
		{whatsapp.Class(42), "Class(42)"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, tt.class.String())
	}
}

func TestAPIErrorMessage(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		err  *whatsapp.APIError
		want string
	}{
		{
			name: "full meta error",
			err: &whatsapp.APIError{HTTPStatus: 429, Code: 130429, Type: "OAuthException",
				Message: "(#130429) Rate limit hit", Details: "Cloud API message throughput has been reached.", FBTraceID: "Atrace"},
			want: "graph api error: http 429, code 130429 (Rate limit hit), OAuthException: (#130429) Rate limit hit " +
				"(details: Cloud API message throughput has been reached.) [fbtrace_id Atrace]",
		},
		{
			name: "non meta body",
			err:  &whatsapp.APIError{HTTPStatus: 500, Message: "oops"},
			want: "graph api error: http 500: oops",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, tt.err.Error())
		})
	}
}

// A metrics label never takes a code outside the table: Meta's unknown codes fold into "other".
func TestMetricCode(t *testing.T) {
	t.Parallel()

	require.Equal(t, "none", whatsapp.MetricCode(nil))
	require.Equal(t, "network", whatsapp.MetricCode(errors.New("dial tcp: connection refused")))
	require.Equal(t, "190", whatsapp.MetricCode(fmt.Errorf("wrapped: %w", &whatsapp.APIError{HTTPStatus: 401, Code: 190})))
	require.Equal(t, "131026", whatsapp.MetricCode(&whatsapp.APIError{HTTPStatus: 400, Code: 131026}))
	require.Equal(t, "other", whatsapp.MetricCode(&whatsapp.APIError{HTTPStatus: 400, Code: 987654}))
	require.Equal(t, "other", whatsapp.MetricCode(&whatsapp.APIError{HTTPStatus: 502}))
}
