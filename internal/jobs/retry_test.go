package jobs

import (
	"testing"
	"time"

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
