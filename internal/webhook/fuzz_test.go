package webhook_test

import (
	"context"
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/webhook"
)

// FuzzProcess feeds process_webhook's parser and processor arbitrary stored bodies, seeded with
// Meta's sample payloads (testdata/*.json) and the corpus in testdata/fuzz/FuzzProcess. Each body
// is processed for real in a transaction that is rolled back. Whatever the body, processing must
// not panic or fail (a failure would be retried forever: a poison webhook), the webhook must end
// processed, and it must leave a trace: something applied, or a problem recorded.
//
//	go test -run '^$' -fuzz FuzzProcess -fuzztime 60s ./internal/webhook/
func FuzzProcess(f *testing.F) {
	for _, body := range fixtures(f) {
		f.Add(body)
	}
	e := newEnv(f, envOptions{botEnabled: true})
	p, err := webhook.NewProcessor(e.inbox, nil)
	require.NoError(f, err)
	q := db.New()

	f.Fuzz(func(t *testing.T, body []byte) {
		ctx := context.Background()
		tx, err := e.pool.Begin(ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(ctx) }()

		sum := sha256.Sum256(body)
		id, err := q.WebhookEventInsert(ctx, tx, db.WebhookEventInsertParams{Sha256: sum[:], Body: body, Batchable: webhook.StatusesOnly(body)})
		require.NoError(t, err)
		res, err := p.Process(ctx, tx, id)
		require.NoError(t, err, "processing must never fail on content")
		traces := len(res.Received) + res.Duplicates + len(res.Statuses) + len(res.Problems)
		require.Positive(t, traces, "a payload leaves a trace")

		var processed bool
		require.NoError(t, tx.QueryRow(ctx, "SELECT processed_at IS NOT NULL FROM webhook_events WHERE id = $1", id).Scan(&processed))
		require.True(t, processed)
		var recorded int
		require.NoError(t, tx.QueryRow(ctx, "SELECT count(*) FROM webhook_errors WHERE webhook_event_id = $1", id).Scan(&recorded))
		require.Equal(t, len(res.Problems), recorded, "every problem is recorded")
		require.NoError(t, tx.Rollback(ctx))
	})
}

// TestParseNeverLosesAnElement checks Parse's accounting on payloads whose elements are partly
// unreadable.
func TestParseNeverLosesAnElement(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		body     string
		messages int
		statuses int
		problems map[string]int
	}{
		{"not json", `{"object":`, 0, 0, map[string]int{webhook.ProblemUnparsable: 1}},
		{"array", `[1,2]`, 0, 0, map[string]int{webhook.ProblemUnparsable: 1}},
		{"other object", `{"object":"page"}`, 0, 0, map[string]int{webhook.ProblemUnparsable: 1}},
		{"no entries", `{"object":"whatsapp_business_account","entry":[]}`, 0, 0, map[string]int{webhook.ProblemEmpty: 1}},
		{"entry not an object", `{"object":"whatsapp_business_account","entry":[7]}`, 0, 0, map[string]int{webhook.ProblemUnparsable: 1}},
		{"one bad message of two", `{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{
			"metadata":{"phone_number_id":"1"},"messages":[{"id":"a","type":"text"},{"id":5}],"statuses":[{"id":"s","status":"read"},"x"]}}]}]}`,
			1, 1, map[string]int{webhook.ProblemUnparsable: 2}},
		{"other field", `{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"account_update","value":{}}]}]}`,
			0, 0, map[string]int{webhook.ProblemUnhandledField: 1}},
		{"value null", `{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":null}]}]}`,
			0, 0, map[string]int{webhook.ProblemUnparsable: 1}},
		{"NUL, lone surrogate and a huge number", `{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{
			"metadata":{"phone_number_id":"1\u0000"},"messages":[{"id":"a\u0000","type":"text","text":{"body":"\ud800x"},"n":1e999}]}}]}]}`,
			1, 0, map[string]int{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := webhook.Parse([]byte(tt.body))
			var messages, statuses int
			for _, c := range b.Changes {
				messages += len(c.Messages)
				statuses += len(c.Statuses)
			}
			require.Equal(t, tt.messages, messages)
			require.Equal(t, tt.statuses, statuses)
			got := map[string]int{}
			for _, p := range b.Problems {
				got[p.Kind]++
			}
			require.Equal(t, tt.problems, got)
		})
	}
	b := webhook.Parse([]byte(`{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{
		"metadata":{"phone_number_id":"1"},"messages":[{"id":"a\u0000","type":"text","text":{"body":"\ud800x"},"n":1e999}]}}]}]}`))
	m := b.Changes[0].Messages[0]
	require.Equal(t, "a\uFFFD", m.ID, "NUL cannot be stored in PostgreSQL text")
	require.Equal(t, "\uFFFDx", m.Text.Body)
	require.Contains(t, string(m.Raw), `"n":"1e999"`, "a number beyond float64 is kept as text")
}
