package simulator

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/wainbox/wainbox/internal/whatsapp"
)

const (
	// webhookBackoff is the first wait before redelivering a webhook that was
	// refused or not reached; each further wait doubles, up to webhookMaxBackoff,
	// so that a receiver back from an outage hears again within seconds.
	webhookBackoff    = 50 * time.Millisecond
	webhookMaxBackoff = 5 * time.Second
)

// notification wraps one value in the envelope Meta posts.
func (s *Simulator) notification(value whatsapp.Value) *whatsapp.Notification {
	value.MessagingProduct = whatsapp.MessagingProduct
	value.Metadata = whatsapp.Metadata{DisplayPhoneNumber: s.displayPhoneNumber, PhoneNumberID: s.phoneNumberID}
	return &whatsapp.Notification{
		Object: "whatsapp_business_account",
		Entry: []whatsapp.Entry{{
			ID:      s.businessAccountID,
			Changes: []whatsapp.Change{{Field: "messages", Value: value}},
		}},
	}
}

// postStatuses posts sent, delivered and read for one accepted send, in that
// order, each StatusDelay after the previous one, until the simulator closes.
// Each status is redelivered until it is accepted or given up before the next
// one is posted, so a receiver never sees them out of order.
func (s *Simulator) postStatuses(wamid, recipient, callbackData string) {
	for _, status := range []string{whatsapp.StatusSent, whatsapp.StatusDelivered, whatsapp.StatusRead} {
		if s.sleep(s.ctx, s.statusDelay); s.ctx.Err() != nil {
			return // closed
		}
		st := whatsapp.Status{
			ID: wamid, Status: status, Timestamp: unixNow(), RecipientID: recipient,
			BizOpaqueCallbackData: callbackData,
		}
		if status == whatsapp.StatusSent {
			st.Conversation = json.RawMessage(fmt.Sprintf(
				`{"id":"%s","expiration_timestamp":"%d","origin":{"type":"service"}}`,
				hex.EncodeToString(randomBytes(16)), time.Now().Add(24*time.Hour).Unix()))
			st.Pricing = json.RawMessage(`{"billable":false,"pricing_model":"PMP","type":"free_customer_service","category":"service"}`)
		}
		body, err := metaJSON(s.notification(whatsapp.Value{Statuses: []whatsapp.Status{st}}))
		if err != nil {
			s.logger.Error("simulator could not encode a status webhook", slog.Any("error", err))
			return
		}
		if err := s.postWebhookRetrying(body); err != nil {
			// Later statuses are still posted: Meta does not hold them back either.
			s.logger.Warn("simulator gave up posting a status webhook",
				slog.String("wa_message_id", wamid), slog.String("status", status), slog.Any("error", err))
		}
	}
}

// postFailure posts a failed status for an accepted send, StatusDelay after it,
// with the error in Meta's webhook shape.
func (s *Simulator) postFailure(wamid, recipient, callbackData string, gerr *graphError) {
	if s.sleep(s.ctx, s.statusDelay); s.ctx.Err() != nil {
		return // closed
	}
	title := strings.TrimPrefix(gerr.Message, fmt.Sprintf("(#%d) ", gerr.Code))
	st := whatsapp.Status{
		ID: wamid, Status: whatsapp.StatusFailed, Timestamp: unixNow(), RecipientID: recipient,
		BizOpaqueCallbackData: callbackData,
		Errors: []whatsapp.Error{{
			Code: gerr.Code, Title: title, Message: title,
			ErrorData: whatsapp.ErrorData{Details: gerr.Details},
			Href:      "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
		}},
	}
	body, err := metaJSON(s.notification(whatsapp.Value{Statuses: []whatsapp.Status{st}}))
	if err != nil {
		s.logger.Error("simulator could not encode a status webhook", slog.Any("error", err))
		return
	}
	if err := s.postWebhookRetrying(body); err != nil {
		s.logger.Warn("simulator gave up posting a failed status webhook",
			slog.String("wa_message_id", wamid), slog.Int("code", gerr.Code), slog.Any("error", err))
	}
}

// postWebhookRetrying posts body until the webhook answers 2xx. Like Meta, which
// keeps redelivering a refused or unreached webhook for days, it retries with
// exponential backoff (webhookBackoff doubling up to webhookMaxBackoff), so that
// a receiver that relies on status webhooks can be tested across an outage. It
// gives up when the simulator closes or WebhookRetryFor has passed since the
// first attempt.
func (s *Simulator) postWebhookRetrying(body []byte) error {
	deadline := time.Now().Add(s.webhookRetryFor)
	backoff := webhookBackoff
	for attempt := 1; ; attempt++ {
		status, err := s.postWebhook(s.ctx, body)
		if err == nil && status/100 == 2 {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("webhook answered http %d", status)
		}
		wait := min(backoff, time.Until(deadline))
		if s.ctx.Err() != nil || wait <= 0 {
			return fmt.Errorf("error posting webhook, gave up after %d attempts: %w", attempt, err)
		}
		s.logger.Debug("simulator will redeliver a webhook",
			slog.Int("attempt", attempt), slog.Duration("wait", wait), slog.Any("error", err))
		s.sleep(s.ctx, wait)
		backoff = min(2*backoff, webhookMaxBackoff)
	}
}

// postWebhook signs and posts one webhook body as Meta does and returns the
// answer's status.
func (s *Simulator) postWebhook(ctx context.Context, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.webhookURL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "facebookexternalua")
	req.Header.Set(whatsapp.SignatureHeader, whatsapp.Sign(s.appSecret, body))
	resp, err := s.httpClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBodyBytes)) // lets the connection be reused
	return resp.StatusCode, nil
}

func unixNow() string {
	return strconv.FormatInt(time.Now().Unix(), 10)
}

// metaJSON encodes v the way Meta serializes webhooks: every non-ASCII character
// as a \uXXXX escape (surrogate pairs beyond the BMP) and "/" as "\/". The
// signature covers these exact bytes, so receivers must verify the raw body.
func metaJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	plain := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	out := make([]byte, 0, len(plain)+len(plain)/8)
	// Non-ASCII bytes and "/" occur only inside JSON strings, so escaping them
	// everywhere keeps the document valid and equal in meaning.
	for i := 0; i < len(plain); {
		c := plain[i]
		switch {
		case c == '/':
			out = append(out, '\\', '/')
			i++
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRune(plain[i:])
			if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError {
				out = fmt.Appendf(out, `\u%04x\u%04x`, r1, r2)
			} else {
				out = fmt.Appendf(out, `\u%04x`, r)
			}
			i += size
		}
	}
	return out, nil
}
