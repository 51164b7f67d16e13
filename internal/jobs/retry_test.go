package jobs

import (
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"
)

func TestRetryPolicyBackoff(t *testing.T) {
	t.Parallel()
	p := &RetryPolicy{}
	tests := []struct {
		attempt int
		want    time.Duration
	}{
		{1, time.Second},
		{2, 2 * time.Second},
		{4, 8 * time.Second},
		{9, 256 * time.Second},
		{10, 5 * time.Minute},
		{40, 5 * time.Minute},
	}
	for _, tt := range tests {
		got := p.backoff(tt.attempt)
		require.InDelta(t, float64(tt.want), float64(got), float64(tt.want)*0.1+1, "attempt %d", tt.attempt)
	}
}

func TestRetryPolicyCountsTheBackoffFromTheStartOfTheAttempt(t *testing.T) {
	t.Parallel()
	p := &RetryPolicy{}
	now := time.Now()

	// An attempt that failed at once waits its whole backoff.
	started := now
	next := p.NextRetry(&rivertype.JobRow{Attempt: 3, AttemptedAt: &started})
	require.InDelta(t, float64(4*time.Second), float64(next.Sub(now)), float64(time.Second))

	// A job rescued 25 s after its attempt began has waited longer than its backoff: at once.
	started = now.Add(-25 * time.Second)
	next = p.NextRetry(&rivertype.JobRow{Attempt: 3, AttemptedAt: &started})
	require.WithinDuration(t, now, next, 100*time.Millisecond)
}
