package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/wainbox/wainbox/internal/config"
	"github.com/wainbox/wainbox/internal/inbox"
	"github.com/wainbox/wainbox/internal/webhook"
	"github.com/wainbox/wainbox/internal/whatsapp"
)

// inboundPayload is a Meta-shaped webhook with one inbound text message, unique per call (Meta
// never sends the same message twice on purpose, and identical bodies are deduplicated).
func inboundPayload(customer int) ([]byte, string) {
	wamid := "wamid.bench" + uuid.NewString()
	body := fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"%s","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"%s","phone_number_id":"%s"},"contacts":[{"profile":{"name":"Customer %d"},"wa_id":"1650555%04d"}],"messages":[{"from":"1650555%04d","id":"%s","timestamp":"%d","type":"text","text":{"body":"Hola, \u00bfmi pedido ya sali\u00f3? Es el n\u00famero %d"}}]},"field":"messages"}]}]}`,
		config.SimBusinessAccountID, config.SimDisplayPhoneNumber, config.SimPhoneNumberID,
		customer, customer, customer, wamid, time.Now().Unix(), customer)
	return []byte(body), wamid
}

// benchWebhook measures Meta's webhook: intake throughput at 32 concurrent senders next
// to the same intake transaction in Go, then the processing lag at a steady rate.
func benchWebhook(ctx context.Context, e *Env) ([]Row, error) {
	// The bot is off: with it, every inbound message would also start a Gemini call and a reply,
	// and this section measures the intake and the processing of the webhook itself.
	a, stop, err := instance(ctx, e, map[string]string{"BOT_ENABLED": "0"})
	if err != nil {
		return nil, err
	}
	defer stop()
	secret := []byte(config.SimAppSecret)
	url := a.BaseURL() + "/webhooks/whatsapp"

	// Intake alone: processing is paused so it does not share the cores with it.
	if err := a.River().QueuePause(ctx, webhook.QueueWebhooks, nil); err != nil {
		return nil, err
	}
	const senders = 32
	var seq atomic.Int64
	httpc := newLoadClient(senders)
	goRate, goLat, apiRate, apiLat := loadPair(e.Duration, senders, func(i, n int) error {
		body, _ := inboundPayload(int(seq.Add(1) % 500))
		_, err := webhook.Store(ctx, a.Pool(), a.Queue(), body)
		return err
	}, func(i, n int) error {
		body, _ := inboundPayload(int(seq.Add(1) % 500))
		return postWebhook(httpc, url, secret, body)
	})
	rows := []Row{
		{"webhook", fmt.Sprintf("Go intake tx (raw row + InsertTx), %d writers", senders),
			fmt.Sprintf("%.0f tx/s (p50 %s, p99 %s)", goRate, ms(goLat.percentile(0.5)), ms(goLat.percentile(0.99))), "", "", ""},
		{"webhook", fmt.Sprintf("POST /webhooks/whatsapp signed, %d senders", senders),
			fmt.Sprintf("%.0f req/s (p50 %s, p99 %s)", apiRate, ms(apiLat.percentile(0.5)), ms(apiLat.percentile(0.99))),
			fmt.Sprintf("Go intake tx: %.0f tx/s", goRate), ratio(apiRate, goRate) + " of Go", ">= 80% of Go; median < 250 ms"},
	}

	// Processing lag at a steady rate: drop the backlog, resume the workers, post at a fixed rate
	// and compare each message's processing transaction with its intake transaction (both
	// timestamps from the database clock).
	// Processing alone: the intake phases left a backlog; resume the workers and time its drain.
	var backlog int
	if err := a.Pool().QueryRow(ctx, "SELECT count(*) FROM webhook_events WHERE processed_at IS NULL").Scan(&backlog); err != nil {
		return rows, err
	}
	drainStart := time.Now()
	if err := a.River().QueueResume(ctx, webhook.QueueWebhooks, nil); err != nil {
		return rows, err
	}
	if err := waitProcessed(ctx, a.Pool()); err != nil {
		return rows, err
	}
	drain := time.Since(drainStart)
	rows = append(rows, Row{"webhook", "processing alone (backlog drained, 20 workers)",
		fmt.Sprintf("%.0f webhooks/s (%d in %s)", perSec(backlog, drain), backlog, drain.Round(time.Millisecond)),
		"", "", "> 500/s to meet the lag target"})

	for _, rate := range []int{100, 500} {
		if _, err := a.Pool().Exec(ctx, "TRUNCATE webhook_events CASCADE"); err != nil {
			return rows, err
		}
		if err := settle(ctx, a.Pool()); err != nil {
			return rows, err
		}
		lag, n, err := processingLag(ctx, a.Pool(), httpc, url, secret, rate, e.Duration)
		if err != nil {
			return rows, err
		}
		target := ""
		if rate == 500 {
			target = "p99 < 100 ms"
		}
		rows = append(rows, Row{"webhook", fmt.Sprintf("intake commit -> message stored, %d webhooks/s fixed", rate),
			fmt.Sprintf("p50 %s, p99 %s (%d webhooks)", ms(lag.percentile(0.5)), ms(lag.percentile(0.99)), n), "", "", target})
	}
	row, err := statusDrain(ctx, a.Pool(), a.Queue(), a.River().QueuePause, a.River().QueueResume)
	if err != nil {
		return rows, err
	}
	return append(rows, row), nil
}

// statusMessages is how many sent messages the status phase stores the statuses of.
const statusMessages = 2000

// statusDrain measures the processing of status webhooks, the bulk of the send path's work: with
// processing paused, it stores the sent, delivered and read webhooks of statusMessages sent
// messages (as Meta posts them, one status per webhook, interleaved as they would arrive), then
// times the workers' drain and counts the transactions the database committed per webhook.
func statusDrain(ctx context.Context, pool *pgxpool.Pool, queue inbox.Queue,
	pause, resume func(context.Context, string, *river.QueuePauseOpts) error) (Row, error) {
	for _, st := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO contacts (channel_id, wa_id) SELECT id, '16505559999' FROM channels WHERE phone_number_id = $1
			ON CONFLICT (channel_id, wa_id) WHERE wa_id <> '' DO NOTHING`, []any{config.SimPhoneNumberID}},
		{`INSERT INTO conversations (channel_id, contact_id, status)
			SELECT channel_id, id, 'open' FROM contacts WHERE wa_id = '16505559999'
			ON CONFLICT (contact_id) DO NOTHING`, nil},
		{`INSERT INTO messages (conversation_id, direction, sender, type, body, status, wa_message_id, sent_at)
			SELECT c.id, 'out', 'agent', 'text', 'bench', 'sent', 'wamid.bench-status-' || i, now()
			FROM conversations c JOIN contacts k ON k.id = c.contact_id AND k.wa_id = '16505559999',
				generate_series(1, $1::int) i`, []any{statusMessages}},
	} {
		if _, err := pool.Exec(ctx, st.sql, st.args...); err != nil {
			return Row{}, fmt.Errorf("error storing sent messages: %w", err)
		}
	}
	if err := pause(ctx, webhook.QueueWebhooks, nil); err != nil {
		return Row{}, err
	}
	for i := range statusMessages {
		for _, st := range []string{"sent", "delivered", "read"} {
			body := fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"%s","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"%s","phone_number_id":"%s"},"statuses":[{"id":"wamid.bench-status-%d","status":"%s","timestamp":"%d","recipient_id":"16505559999"}]},"field":"messages"}]}]}`,
				config.SimBusinessAccountID, config.SimDisplayPhoneNumber, config.SimPhoneNumberID, i+1, st, time.Now().Unix())
			if _, err := webhook.Store(ctx, pool, queue, []byte(body)); err != nil {
				return Row{}, err
			}
		}
	}
	if err := settle(ctx, pool); err != nil {
		return Row{}, err
	}
	commits := func() (int64, error) {
		// The statistics of finished transactions reach the view within a second.
		time.Sleep(1500 * time.Millisecond)
		var n int64
		err := pool.QueryRow(ctx, "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()").Scan(&n)
		return n, err
	}
	before, err := commits()
	if err != nil {
		return Row{}, err
	}
	start := time.Now()
	if err := resume(ctx, webhook.QueueWebhooks, nil); err != nil {
		return Row{}, err
	}
	if err := waitProcessed(ctx, pool); err != nil {
		return Row{}, err
	}
	took := time.Since(start)
	after, err := commits()
	if err != nil {
		return Row{}, err
	}
	var unread int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM messages WHERE wa_message_id LIKE 'wamid.bench-status-%' AND status <> 'read'").Scan(&unread); err != nil {
		return Row{}, err
	}
	if unread > 0 {
		return Row{}, fmt.Errorf("%d of %d messages not read after their statuses", unread, statusMessages)
	}
	n := 3 * statusMessages
	return Row{"webhook", "status webhooks alone (backlog of sent, delivered, read; 20 workers)",
		fmt.Sprintf("%.0f webhooks/s (%d in %s); %.2f commits per webhook", perSec(n, took), n, took.Round(time.Millisecond),
			float64(after-before)/float64(n)), "", "", ""}, nil
}

func postWebhook(c *loadClient, url string, secret, body []byte) error {
	return c.post(url, []string{whatsapp.SignatureHeader, whatsapp.Sign(secret, body)}, body, func(status int, _ []byte) error {
		if status != http.StatusOK {
			return fmt.Errorf("webhook answered %d", status)
		}
		return nil
	})
}

// waitProcessed waits until the webhooks queue has no job left to work. It asks River's job table,
// whose fetch index answers at once, rather than counting processed webhooks: on a table that
// autovacuum never visits that count read every row, 35 ms four times a second, taken from the
// processing it times.
func waitProcessed(ctx context.Context, pool *pgxpool.Pool) error {
	waitCtx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	for {
		var pending bool
		err := pool.QueryRow(waitCtx, `
			SELECT EXISTS (SELECT 1 FROM river_job WHERE queue = $1 AND state IN ('available', 'running', 'retryable', 'scheduled', 'pending'))`,
			webhook.QueueWebhooks).Scan(&pending)
		if err != nil {
			return fmt.Errorf("error waiting for processing: %w", err)
		}
		if !pending {
			return nil
		}
		select {
		case <-waitCtx.Done():
			return errors.New("webhooks still unprocessed after 3 minutes")
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// processingLag posts webhooks at rate for d, waits until all are processed, and returns the
// delay from each intake transaction (webhook_events.received_at) to the processing transaction
// that stored its message (messages.created_at).
func processingLag(ctx context.Context, pool *pgxpool.Pool, c *loadClient, url string, secret []byte, rate int, d time.Duration) (latencies, int, error) {
	var (
		mu     sync.Mutex
		wamids = map[[32]byte]string{}
		errs   atomic.Int64
	)
	paced(float64(rate), d, func(i int, _ time.Time) {
		body, wamid := inboundPayload(i % 500)
		mu.Lock()
		wamids[sha256.Sum256(body)] = wamid
		mu.Unlock()
		if err := postWebhook(c, url, secret, body); err != nil {
			errs.Add(1)
		}
	})
	if n := errs.Load(); n > 0 {
		return nil, 0, fmt.Errorf("%d webhooks were refused", n)
	}

	if err := waitProcessed(ctx, pool); err != nil {
		return nil, 0, err
	}
	received := map[string]time.Time{}
	rows, err := pool.Query(ctx, "SELECT sha256, received_at FROM webhook_events")
	if err != nil {
		return nil, 0, err
	}
	for rows.Next() {
		var (
			sum []byte
			at  time.Time
		)
		if err := rows.Scan(&sum, &at); err != nil {
			return nil, 0, err
		}
		if wamid, ok := wamids[[32]byte(sum)]; ok {
			received[wamid] = at
		}
	}
	rows.Close()
	// A message counts as stored when its transaction committed (pg_xact_commit_timestamp, with
	// track_commit_timestamp on; else when that transaction started). The intake's commit time is
	// not kept (processing updates the row), so the lag runs from the intake transaction's start:
	// it overstates by the intake's own few milliseconds.
	var lag latencies
	rows, err = pool.Query(ctx, `
		SELECT wa_message_id,
		       CASE WHEN current_setting('track_commit_timestamp') = 'on' THEN pg_xact_commit_timestamp(xmin) ELSE created_at END
		FROM messages WHERE direction = 'in'`)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			wamid string
			at    time.Time
		)
		if err := rows.Scan(&wamid, &at); err != nil {
			return nil, 0, err
		}
		if r, ok := received[wamid]; ok {
			lag = append(lag, at.Sub(r))
		}
	}
	if len(lag) != len(wamids) {
		return lag, len(lag), fmt.Errorf("%d of %d webhooks became messages", len(lag), len(wamids))
	}
	return lag, len(lag), rows.Err()
}
