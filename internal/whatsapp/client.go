package whatsapp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

const (
	// DefaultVersion is the Graph API version wainbox is written against.
	DefaultVersion = "v24.0"
	// DefaultTimeout bounds one Graph API call when no HTTPClient is given; a send
	// that takes longer is retried by the queue rather than holding a worker.
	DefaultTimeout = 15 * time.Second

	// maxResponseBytes caps how much of an answer is read: Meta's answers are tiny,
	// and a misbehaving proxy must not make a worker buffer megabytes.
	maxResponseBytes = 1 << 20
	// snippetBytes is how much of a non-Meta error body goes into APIError.Message.
	snippetBytes = 200
)

// Config configures a Client.
type Config struct {
	// BaseURL is the Graph API root, for example "https://graph.facebook.com" or
	// the simulator's "http://127.0.0.1:8080/simulator/graph".
	BaseURL string
	// Version is the Graph API version; empty means DefaultVersion. wainbox passes config's
	// WHATSAPP_API_VERSION, whose default is the same; the fallback serves tests that build a
	// client directly.
	Version string
	// AccessToken is the system-user token sent as a bearer token.
	AccessToken string
	// HTTPClient defaults to a client with DefaultTimeout.
	HTTPClient *http.Client
	// Logger defaults to a logger that discards everything.
	Logger *slog.Logger
}

// Client calls the WhatsApp Cloud API. It is safe for concurrent use.
type Client struct {
	baseURL    string
	version    string
	token      string
	httpClient *http.Client
	// mediaClient downloads and uploads media: httpClient with a timeout long enough for a file.
	mediaClient *http.Client
	logger      *slog.Logger
}

// NewClient checks the configuration and returns a Client, so that a bad base URL
// or a missing token fails at start-up instead of at the first send.
func NewClient(cfg *Config) (*Client, error) {
	if cfg == nil {
		return nil, errors.New("whatsapp client config is nil")
	}
	c := &Client{
		baseURL:    strings.TrimRight(cfg.BaseURL, "/"),
		version:    strings.Trim(cfg.Version, "/"),
		token:      cfg.AccessToken,
		httpClient: cfg.HTTPClient,
		logger:     cfg.Logger,
	}
	if c.version == "" {
		c.version = DefaultVersion
	}
	if c.httpClient == nil {
		c.httpClient = &http.Client{Timeout: DefaultTimeout, Transport: NewTransport()}
	}
	c.mediaClient = mediaHTTPClient(c.httpClient)
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	u, err := url.Parse(c.baseURL)
	if err != nil {
		return nil, fmt.Errorf("invalid whatsapp base URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("invalid whatsapp base URL %q: want http(s)://host[/path]", c.baseURL)
	}
	if c.token == "" {
		return nil, errors.New("whatsapp access token is required")
	}
	return c, nil
}

// Send posts an outbound message to POST {BaseURL}/{Version}/{phoneNumberID}/messages.
// A non-2xx answer is returned as *APIError; use Classify to decide what to do.
func (c *Client) Send(ctx context.Context, phoneNumberID string, msg *OutboundMessage) (*SendResponse, error) {
	if err := validateOutbound(phoneNumberID, msg); err != nil {
		return nil, err
	}
	body := *msg
	if body.MessagingProduct == "" {
		body.MessagingProduct = MessagingProduct
	}
	if body.RecipientType == "" {
		body.RecipientType = "individual"
	}
	var resp SendResponse
	if err := c.post(ctx, phoneNumberID, &body, &resp); err != nil {
		return nil, fmt.Errorf("error sending whatsapp %s message to %s: %w", body.Type, body.To, err)
	}
	if resp.MessageID() == "" {
		// Meta accepted something without naming it: the message may be out, but no status
		// webhook can be matched to an id we do not know.
		return nil, fmt.Errorf("error sending whatsapp %s message to %s: %w: answer has no message id", body.Type, body.To, ErrOutcomeUnknown)
	}
	c.logger.DebugContext(ctx, "whatsapp message sent",
		slog.String("phone_number_id", phoneNumberID), slog.String("wa_message_id", resp.MessageID()))
	return &resp, nil
}

// MarkRead marks an inbound message as read, which shows the customer blue ticks.
func (c *Client) MarkRead(ctx context.Context, phoneNumberID, waMessageID string) error {
	if phoneNumberID == "" || waMessageID == "" {
		return fmt.Errorf("error marking whatsapp message read: %w: phone number id and message id are required", ErrInvalidMessage)
	}
	body := markReadRequest{MessagingProduct: MessagingProduct, Status: "read", MessageID: waMessageID}
	if err := c.post(ctx, phoneNumberID, &body, nil); err != nil {
		return fmt.Errorf("error marking whatsapp message %s read: %w", waMessageID, err)
	}
	return nil
}

func validateOutbound(phoneNumberID string, msg *OutboundMessage) error {
	switch {
	case msg == nil:
		return fmt.Errorf("%w: message is nil", ErrInvalidMessage)
	case phoneNumberID == "":
		return fmt.Errorf("%w: phone number id is required", ErrInvalidMessage)
	case msg.To == "":
		return fmt.Errorf("%w: recipient is required", ErrInvalidMessage)
	case msg.Type == "":
		return fmt.Errorf("%w: type is required", ErrInvalidMessage)
	case msg.Type == MessageTypeText && (msg.Text == nil || msg.Text.Body == ""):
		return fmt.Errorf("%w: text body is required", ErrInvalidMessage)
	case msg.Type != MessageTypeText && len(msg.content()) == 0:
		return fmt.Errorf("%w: a %s message needs its %q object", ErrInvalidMessage, msg.Type, msg.Type)
	}
	return nil
}

// post sends one JSON request to the messages endpoint and decodes a 2xx answer
// into out (when out is not nil). Its errors are returned unwrapped for the caller
// to wrap once.
func (c *Client) post(ctx context.Context, phoneNumberID string, in, out any) error {
	return c.call(ctx, http.MethodPost, url.PathEscape(phoneNumberID)+"/messages", nil, in, out)
}

// call sends one request to {BaseURL}/{Version}/{path}?{query}, with in as its JSON body when
// it is not nil, and decodes a 2xx answer into out (when out is not nil).
func (c *Client) call(ctx context.Context, method, path string, query url.Values, in, out any) error {
	var body io.Reader
	if in != nil {
		payload, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encoding request: %w", err)
		}
		body = bytes.NewReader(payload)
	}
	endpoint := c.baseURL + "/" + c.version + "/" + path
	if len(query) > 0 {
		endpoint += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, endpoint, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	return c.doWith(c.httpClient, req, out)
}

// doWith sends one Graph API request with hc and decodes a 2xx answer into out (when out is not
// nil): an answer of Meta's that is not 2xx is an *APIError, and a failure after the request may
// have left is marked ErrOutcomeUnknown.
func (c *Client) doWith(hc *http.Client, req *http.Request, out any) error {
	resp, err := hc.Do(req)
	if err != nil {
		if notSent(err) {
			return err
		}
		return fmt.Errorf("%w: %w", ErrOutcomeUnknown, err)
	}
	defer resp.Body.Close()
	respBody, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("%w: reading answer (http %d): %w", ErrOutcomeUnknown, resp.StatusCode, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		apiErr := c.decodeAPIError(resp.StatusCode, respBody)
		if apiErr.Code == 0 && resp.StatusCode >= 500 {
			// Not Meta's answer: a proxy or load balancer in front of it failed, perhaps after
			// Meta took the message.
			return fmt.Errorf("%w: %w", ErrOutcomeUnknown, apiErr)
		}
		return apiErr
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(respBody, out); err != nil {
		return fmt.Errorf("%w: decoding answer (http %d): %w", ErrOutcomeUnknown, resp.StatusCode, err)
	}
	return nil
}

// ErrOutcomeUnknown marks a failed call that may still have reached Meta: the request may have
// been written and acted on, but no answer of Meta's was read (a timeout, a broken connection, an
// answer that is not Meta's or cannot be read). The Graph API has no idempotency key, so sending
// again may deliver the message twice; the sender reconciles from the status webhooks first.
var ErrOutcomeUnknown = errors.New("outcome unknown: Meta may have accepted the request")

// OutcomeUnknown reports whether err leaves it unknown whether Meta acted on the request.
func OutcomeUnknown(err error) bool { return errors.Is(err, ErrOutcomeUnknown) }

// notSent reports whether a transport error happened before any byte of the request could leave:
// the connection was never made (refused, unreachable, no such host).
func notSent(err error) bool {
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return true
	}
	var dnsErr *net.DNSError
	return errors.As(err, &dnsErr)
}

// metaErrorBody is Meta's error envelope.
type metaErrorBody struct {
	Error *struct {
		Message      string `json:"message"`
		Type         string `json:"type"`
		Code         int    `json:"code"`
		ErrorSubcode int    `json:"error_subcode"`
		ErrorData    struct {
			MessagingProduct string `json:"messaging_product"`
			Details          string `json:"details"`
		} `json:"error_data"`
		FBTraceID string `json:"fbtrace_id"`
	} `json:"error"`
}

func (c *Client) decodeAPIError(status int, body []byte) *APIError {
	apiErr := &APIError{HTTPStatus: status}
	var meta metaErrorBody
	if err := json.Unmarshal(body, &meta); err == nil && meta.Error != nil {
		apiErr.Code = meta.Error.Code
		apiErr.Subcode = meta.Error.ErrorSubcode
		apiErr.Type = meta.Error.Type
		apiErr.Message = c.redact(meta.Error.Message)
		apiErr.Details = c.redact(meta.Error.ErrorData.Details)
		apiErr.FBTraceID = meta.Error.FBTraceID
		return apiErr
	}
	apiErr.Message = c.redact(snippet(body))
	return apiErr
}

// redact removes the access token from text that came back from the network, in
// case a proxy or debug endpoint echoes the request: errors end up in logs and in
// the database.
func (c *Client) redact(s string) string {
	if c.token == "" {
		return s
	}
	return strings.ReplaceAll(s, c.token, "[redacted]")
}

// snippet returns the start of a body as one short line of valid UTF-8.
func snippet(body []byte) string {
	if len(body) > snippetBytes {
		body = body[:snippetBytes] // a rune cut in half is dropped by ToValidUTF8
	}
	return strings.Join(strings.Fields(strings.ToValidUTF8(string(body), "")), " ")
}

// NewTransport is an HTTP transport for many concurrent calls to one host. The send queue's
// workers call the Graph API at once; http.DefaultTransport keeps two idle connections per host
// and closes the others after each call, so every further concurrent send would open a new TCP
// and TLS connection to graph.facebook.com. This one keeps as many as the workers use.
func NewTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 128
	return t
}
