package health

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wainbox/wainbox/internal/whatsapp"
)

// NumberCheckInterval is how often at most the business number is asked of Meta: its rating
// changes over days, and each ask is a Graph API call counted against the app's rate limit.
const NumberCheckInterval = 5 * time.Minute

// NumberReader is the Graph API call the number check makes; *whatsapp.Client is one.
type NumberReader interface {
	PhoneNumber(ctx context.Context, phoneNumberID string) (*whatsapp.PhoneNumber, error)
}

// NumberCheck is the last answer about the business number.
type NumberCheck struct {
	At      time.Time
	Latency time.Duration
	// TokenValid is false once Meta has refused the token (code 190) and until a later check
	// succeeds; an answer that proves nothing either way (a timeout) keeps the previous verdict.
	TokenValid bool
	Number     *whatsapp.PhoneNumber
	// Err is the last check's error, nil when it succeeded.
	Err error
}

// Number asks Meta about the business number at most every NumberCheckInterval and keeps the
// answer; the token's verdict is exported as wainbox_whatsapp_token_valid.
type Number struct {
	graph         NumberReader
	phoneNumberID string
	interval      time.Duration

	mu   sync.Mutex
	last NumberCheck
}

var (
	tokenValidDesc = prometheus.NewDesc("wainbox_whatsapp_token_valid",
		"1 while Meta accepts the access token, 0 once it answered code 190 (expired or revoked) to the number check; checked at most every 5 minutes.", nil, nil)
	qualityDesc = prometheus.NewDesc("wainbox_whatsapp_quality_rating",
		"1 for the business number's current quality rating as Meta gives it (GREEN, YELLOW, RED, UNKNOWN).", []string{"rating"}, nil)
)

// NewNumber returns the check of phoneNumberID through graph.
func NewNumber(graph NumberReader, phoneNumberID string, interval time.Duration) *Number {
	if interval <= 0 {
		interval = NumberCheckInterval
	}
	return &Number{graph: graph, phoneNumberID: phoneNumberID, interval: interval, last: NumberCheck{TokenValid: true}}
}

// Get returns the cached answer, asking Meta again when it is older than the interval.
func (n *Number) Get(ctx context.Context) NumberCheck {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.last.At.IsZero() && time.Since(n.last.At) < n.interval {
		return n.last
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	start := time.Now()
	pn, err := n.graph.PhoneNumber(cctx, n.phoneNumberID)
	next := NumberCheck{At: start, Latency: time.Since(start), TokenValid: n.last.TokenValid, Number: n.last.Number, Err: err}
	var apiErr *whatsapp.APIError
	switch {
	case err == nil:
		next.TokenValid, next.Number = true, pn
	case errors.As(err, &apiErr) && apiErr.Code == 190:
		next.TokenValid = false
	}
	n.last = next
	return n.last
}

// Describe implements prometheus.Collector.
func (n *Number) Describe(ch chan<- *prometheus.Desc) {
	ch <- tokenValidDesc
	ch <- qualityDesc
}

// Collect implements prometheus.Collector from the cached answer (asking Meta when it is stale).
func (n *Number) Collect(ch chan<- prometheus.Metric) {
	c := n.Get(context.Background())
	var valid float64
	if c.TokenValid {
		valid = 1
	}
	ch <- prometheus.MustNewConstMetric(tokenValidDesc, prometheus.GaugeValue, valid)
	current := "UNKNOWN"
	if c.Number != nil && c.Number.QualityRating != "" {
		current = c.Number.QualityRating
	}
	for _, r := range []string{"GREEN", "YELLOW", "RED", "UNKNOWN"} {
		v := 0.0
		if r == current {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(qualityDesc, prometheus.GaugeValue, v, r)
	}
}
