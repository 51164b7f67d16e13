// Package jobs holds wainbox's River workers and the River client configuration they run under:
// the chat-sized retry policy, the queues, and the error handling that turns a job out of attempts
// into a visibly failed message.
package jobs

import (
	"math/rand/v2"
	"time"

	"github.com/riverqueue/river/rivertype"
)

// RetryPolicy backs off exponentially from one second, doubling per attempt up to five minutes,
// with ±10% jitter so retries from one outage do not return in lockstep. River's default (attempt⁴
// seconds, about three weeks over 25 attempts) suits batch work, not a chat message the customer
// is waiting for: with 10 attempts this gives up after about fifteen minutes.
type RetryPolicy struct {
	Base time.Duration
	Max  time.Duration
}

// NextRetry implements river.ClientRetryPolicy. The backoff counts from the start of the failed
// attempt: a job River rescued after its instance died has waited RescueAfter already, so it runs
// again at once unless its backoff is longer than that.
func (p *RetryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	now := time.Now()
	from := now
	if job.AttemptedAt != nil && job.AttemptedAt.Before(now) {
		from = *job.AttemptedAt
	}
	return maxTime(now, from.Add(p.backoff(job.Attempt)))
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func (p *RetryPolicy) backoff(attempt int) time.Duration {
	base, maxDelay := p.Base, p.Max
	if base <= 0 {
		base = time.Second
	}
	if maxDelay <= 0 {
		maxDelay = 5 * time.Minute
	}
	d := base
	for i := 1; i < attempt && d < maxDelay; i++ {
		d *= 2
	}
	d = min(d, maxDelay)
	jitter := time.Duration(float64(d) * 0.1 * (2*rand.Float64() - 1))
	return d + jitter
}
