package main

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// maxBackoff caps the wait between two tries of one request; the faults last seconds, and a
// longer wait would only stretch the run.
const maxBackoff = 2 * time.Second

// apiClient is an agent's client: it logs in once and retries every write with the same body
// (and so the same client_id) until the API accepts it, as the web panel does.
type apiClient struct {
	base, email, password string
	http                  *http.Client

	mu    sync.Mutex
	token string

	retries atomic.Int64
}

func newAPIClient(base, email, password string) *apiClient {
	return &apiClient{base: base, email: email, password: password, http: &http.Client{
		// Longer than a frozen database lasts, so a request that waits it out is not abandoned.
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 128, IdleConnTimeout: 30 * time.Second},
	}}
}

// login gets an access token, retrying while no instance answers.
func (c *apiClient) login(ctx context.Context) error {
	body, _ := json.Marshal(map[string]string{"email": c.email, "password": c.password})
	backoff := 200 * time.Millisecond
	for {
		status, resp, _, err := c.do(ctx, "/api/auth/login", "", body)
		if err == nil && status == http.StatusOK {
			var out struct {
				AccessToken string `json:"access_token"`
			}
			if err := json.Unmarshal(resp, &out); err != nil || out.AccessToken == "" {
				return fmt.Errorf("login answered 200 without a token: %s", resp)
			}
			c.mu.Lock()
			c.token = out.AccessToken
			c.mu.Unlock()
			return nil
		}
		if err == nil && status < 500 {
			return fmt.Errorf("login refused: HTTP %d: %s", status, resp)
		}
		if !sleep(ctx, jitter(backoff)) {
			return ctx.Err()
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

func (c *apiClient) bearer() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.token
}

// do posts body once and returns the answer.
func (c *apiClient) do(ctx context.Context, path, token string, body []byte) (int, []byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, nil, nil, err
	}
	return resp.StatusCode, b, resp.Header, nil
}

// errRejected is a 4xx answer other than 401, 408 and 429: the API refused the write for good.
var errRejected = errors.New("rejected by the API")

// postUntilAccepted posts body until the API answers 2xx. Network errors, 5xx, 408 and 429 are
// retried with the same body, after Retry-After when the answer has one; a 401 logs in again. It
// returns the 2xx status and body, or errRejected, or ctx's error when the load is abandoned.
func (c *apiClient) postUntilAccepted(ctx context.Context, path string, body []byte) (int, []byte, error) {
	backoff := 200 * time.Millisecond
	for {
		status, resp, header, err := c.do(ctx, path, c.bearer(), body)
		switch {
		case err == nil && status/100 == 2:
			return status, resp, nil
		case err == nil && status == http.StatusUnauthorized:
			if lerr := c.login(ctx); lerr != nil {
				return 0, nil, lerr
			}
		case err == nil && status/100 == 4 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests:
			return status, resp, fmt.Errorf("%w: HTTP %d: %s", errRejected, status, bytes.TrimSpace(resp))
		}
		if ctx.Err() != nil {
			return 0, nil, ctx.Err()
		}
		c.retries.Add(1)
		wait := jitter(backoff)
		if ra := retryAfter(header); ra > 0 {
			wait = ra
		}
		if !sleep(ctx, wait) {
			return 0, nil, ctx.Err()
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// retryAfter reads a Retry-After header in seconds or as a date, capped at 30 s.
func retryAfter(h http.Header) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.Atoi(v); err == nil {
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = time.Until(t)
	}
	return min(max(d, 0), 30*time.Second)
}

// jitter spreads retries between half and all of d, so that writers that failed together do not
// retry together.
func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d/2+1)
}

// sleep waits d or until ctx ends; it reports whether the full wait happened.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// conversation is one customer the agents write to.
type conversation struct {
	waID string
	id   int64
}

// sentMsg is one message the API accepted (2xx), with where it was written.
type sentMsg struct {
	ID             int64     `json:"id"`
	ConversationID int64     `json:"conversation_id"`
	Conv           int       `json:"conv"` // index of the conversation in the suite
	Seq            int       `json:"seq"`  // write order in its conversation; 0 opened it
	ClientID       string    `json:"client_id"`
	Body           string    `json:"body"`
	HTTPStatus     int       `json:"http_status"` // 202, or 200 when a retry found it stored
	AcceptedAt     time.Time `json:"accepted_at"`
}

// inboundMsg is one customer message whose webhook an instance answered 2xx.
type inboundMsg struct {
	WAMID      string    `json:"wamid"`
	From       string    `json:"from"`
	AcceptedAt time.Time `json:"accepted_at"`
	Tries      int       `json:"tries"`
	// Media: the message is a photo, whose file must be fetched and stored.
	Media bool `json:"media,omitempty"`
}

// loadResult is what the load recorded.
type loadResult struct {
	sends              []sentMsg
	notAccepted        []string // writes the API refused for good or that were abandoned
	inbound            []inboundMsg
	inboundNotAccepted []string
	inboundRetries     int64
}

// load is the traffic: agents writing to their conversations through the load balancer, and
// customers writing through the fake Meta, whose webhooks come through the load balancer too.
type load struct {
	o     *options
	api   *apiClient
	sim   string
	convs []conversation
	http  *http.Client

	mu  sync.Mutex
	res loadResult
}

func newLoad(o *options, api *apiClient, simURL string) *load {
	return &load{o: o, api: api, sim: simURL, http: &http.Client{
		// The simulator waits up to 10 s for the webhook's answer.
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 128, IdleConnTimeout: 30 * time.Second},
	}}
}

// followUps is the number of messages written after the conversations were opened.
func (l *load) followUps() int { return l.o.sends - l.o.convs }

// expectedDuration is how long the paced part of the load lasts at the requested rate.
func (l *load) expectedDuration() time.Duration {
	return time.Duration(float64(max(l.followUps(), 1)) / l.o.rate * float64(time.Second))
}

// openConversations starts every conversation with its first message (seq 0), a few at a time.
func (l *load) openConversations(ctx context.Context) error {
	l.convs = make([]conversation, l.o.convs)
	errs := make(chan error, len(l.convs))
	sem := make(chan struct{}, 8)
	for i := range l.convs {
		l.convs[i].waID = fmt.Sprintf("1555010%04d", i)
		go func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			errs <- l.open(ctx, i)
		}()
	}
	for range l.convs {
		if err := <-errs; err != nil {
			return err
		}
	}
	logf("%d conversations opened", len(l.convs))
	return nil
}

func (l *load) open(ctx context.Context, i int) error {
	clientID := uuid.NewString()
	text := fmt.Sprintf("chaos c%03d #%04d", i, 0)
	body, _ := json.Marshal(map[string]any{
		"wa_id": l.convs[i].waID, "client_id": clientID, "type": "text", "text": map[string]string{"body": text},
	})
	// The customer writes first: an agent may start with a free-form message only inside the
	// customer's 24-hour window, which their message opens once it is processed.
	l.customerWrites(ctx, i)
	var (
		status int
		resp   []byte
		err    error
	)
	for {
		status, resp, err = l.api.postUntilAccepted(ctx, "/api/conversations", body)
		if status != http.StatusConflict || !bytes.Contains(resp, []byte(`"window_closed"`)) {
			break
		}
		if !sleep(ctx, 100*time.Millisecond) {
			return ctx.Err()
		}
	}
	if err != nil {
		return fmt.Errorf("error opening conversation with %s: %w", l.convs[i].waID, err)
	}
	var out struct {
		Conversation struct {
			ID int64 `json:"id"`
		} `json:"conversation"`
		Message struct {
			ID             int64 `json:"id"`
			ConversationID int64 `json:"conversation_id"`
		} `json:"message"`
	}
	if err := json.Unmarshal(resp, &out); err != nil || out.Message.ID == 0 || out.Conversation.ID == 0 {
		return fmt.Errorf("opening conversation with %s answered %d without ids: %s", l.convs[i].waID, status, resp)
	}
	l.convs[i].id = out.Conversation.ID
	l.record(sentMsg{ID: out.Message.ID, ConversationID: out.Message.ConversationID, Conv: i, Seq: 0,
		ClientID: clientID, Body: text, HTTPStatus: status, AcceptedAt: time.Now()})
	return nil
}

func (l *load) record(m sentMsg) {
	l.mu.Lock()
	l.res.sends = append(l.res.sends, m)
	l.mu.Unlock()
}

// run writes the follow-up messages and the customers' messages at rate sends per second from
// start, and returns what was accepted. Follow-up j goes to conversation j mod C and is due at
// start + j/rate; each conversation has one writer that writes its messages in order, each after
// the previous one was accepted, so that a writer held up by a fault delays only its own
// conversation. The customers' messages are spread over the same span.
func (l *load) run(ctx context.Context, rate float64, start time.Time) loadResult {
	n := l.followUps()
	span := time.Duration(float64(max(n, 1)) / rate * float64(time.Second))
	// A load that cannot finish in this time is abandoned and its unaccepted writes reported.
	ctx, cancel := context.WithDeadline(ctx, start.Add(span+10*time.Minute))
	defer cancel()

	var wg sync.WaitGroup
	for c := range l.convs {
		wg.Go(func() {
			for j := c; j < n; j += len(l.convs) {
				due := start.Add(time.Duration(float64(j) / rate * float64(time.Second)))
				if !sleep(ctx, time.Until(due)) {
					l.abandon(fmt.Sprintf("c%03d #%04d: not written: %v", c, j/len(l.convs)+1, ctx.Err()))
					continue
				}
				l.write(ctx, c, j/len(l.convs)+1)
			}
		})
	}
	if l.o.inbound > 0 {
		interval := span / time.Duration(l.o.inbound)
		for i := range l.o.inbound {
			due := start.Add(time.Duration(i) * interval)
			if !sleep(ctx, time.Until(due)) {
				l.mu.Lock()
				l.res.inboundNotAccepted = append(l.res.inboundNotAccepted, fmt.Sprintf("inbound %d: not written: %v", i, ctx.Err()))
				l.mu.Unlock()
				continue
			}
			wg.Go(func() { l.customerWrites(ctx, i) })
		}
	}
	wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.res
}

func (l *load) abandon(what string) {
	l.mu.Lock()
	l.res.notAccepted = append(l.res.notAccepted, what)
	l.mu.Unlock()
}

// write posts message seq of conversation c until the API accepts it.
func (l *load) write(ctx context.Context, c, seq int) {
	clientID := uuid.NewString()
	text := fmt.Sprintf("chaos c%03d #%04d", c, seq)
	body, _ := json.Marshal(map[string]any{"client_id": clientID, "type": "text", "text": map[string]string{"body": text}})
	status, resp, err := l.api.postUntilAccepted(ctx, fmt.Sprintf("/api/conversations/%d/messages", l.convs[c].id), body)
	if err != nil {
		l.abandon(fmt.Sprintf("%s (client_id %s): %v", text, clientID, err))
		return
	}
	var m struct {
		ID             int64 `json:"id"`
		ConversationID int64 `json:"conversation_id"`
	}
	if err := json.Unmarshal(resp, &m); err != nil || m.ID == 0 {
		l.abandon(fmt.Sprintf("%s (client_id %s): answered %d without an id: %s", text, clientID, status, resp))
		return
	}
	l.record(sentMsg{ID: m.ID, ConversationID: m.ConversationID, Conv: c, Seq: seq, ClientID: clientID,
		Body: text, HTTPStatus: status, AcceptedAt: time.Now()})
}

// mediaEvery makes every tenth customer message a photo, which must end up stored.
const mediaEvery = 10

// customerWrites makes the fake phone send inbound message i until its webhook is answered 2xx.
// Every try carries the same wamid, as Meta's redeliveries do, so that a webhook stored but not
// answered (an instance killed after its commit) is not a second message.
func (l *load) customerWrites(ctx context.Context, i int) {
	conv := l.convs[i%len(l.convs)]
	wamid := newWAMID()
	msg := map[string]any{
		"from": conv.waID, "name": "Chaos Customer " + conv.waID[len(conv.waID)-4:],
		"text": fmt.Sprintf("chaos inbound %05d", i), "id": wamid,
	}
	media := i%mediaEvery == 0
	if media {
		// A photo of its own (the store keeps identical bytes once): a JPEG's header and 2 KB.
		photo := make([]byte, 2048)
		_, _ = crand.Read(photo)
		msg["type"], msg["mime_type"], msg["data"] = "image", "image/jpeg", append([]byte{0xff, 0xd8, 0xff, 0xe0}, photo...)
	}
	body, _ := json.Marshal(msg)
	backoff := 200 * time.Millisecond
	for try := 1; ; try++ {
		status, hookStatus, err := l.phonePost(ctx, body)
		if err == nil && status == http.StatusOK && hookStatus/100 == 2 {
			l.mu.Lock()
			l.res.inbound = append(l.res.inbound, inboundMsg{WAMID: wamid, From: conv.waID, AcceptedAt: time.Now(), Tries: try, Media: media})
			l.mu.Unlock()
			return
		}
		if err == nil && status == http.StatusBadRequest {
			l.mu.Lock()
			l.res.inboundNotAccepted = append(l.res.inboundNotAccepted, fmt.Sprintf("inbound %d (%s): the simulator refused it", i, wamid))
			l.mu.Unlock()
			return
		}
		l.mu.Lock()
		l.res.inboundRetries++
		l.mu.Unlock()
		if !sleep(ctx, jitter(backoff)) {
			l.mu.Lock()
			l.res.inboundNotAccepted = append(l.res.inboundNotAccepted, fmt.Sprintf("inbound %d (%s): abandoned after %d tries", i, wamid, try))
			l.mu.Unlock()
			return
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// phonePost posts one customer message to the fake phone and returns the phone's answer and the
// status the webhook got.
func (l *load) phonePost(ctx context.Context, body []byte) (int, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.sim+"/simulator/phone/messages", bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := l.http.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	var out struct {
		WebhookStatus int `json:"webhook_status"`
	}
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			return resp.StatusCode, 0, err
		}
	} else {
		_, _ = io.Copy(io.Discard, resp.Body)
	}
	return resp.StatusCode, out.WebhookStatus, nil
}

// newWAMID makes a message id in the look of Meta's.
func newWAMID() string {
	b := make([]byte, 24)
	_, _ = crand.Read(b)
	return "wamid.chaos" + base64.RawURLEncoding.EncodeToString(b)
}
