package whatsapp

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultMediaTimeout bounds one media download or upload when the client's HTTP client has a
// shorter timeout: a 100 MB document does not move in DefaultTimeout on an ordinary link. A
// caller that needs a tighter bound passes a context with a deadline.
const DefaultMediaTimeout = 5 * time.Minute

// mediaHTTPClient is hc with its timeout raised to DefaultMediaTimeout; a client without a
// timeout (0) keeps none.
func mediaHTTPClient(hc *http.Client) *http.Client {
	mc := *hc
	if mc.Timeout != 0 && mc.Timeout < DefaultMediaTimeout {
		mc.Timeout = DefaultMediaTimeout
	}
	return &mc
}

// Media errors, to be told apart with errors.Is. Each wraps the *APIError of Meta's answer
// when there was one.
var (
	// ErrMediaNotFound: Meta does not know the media id, or no longer: a media id of an
	// inbound message lives for 7 days, an uploaded one for 30 days, and a deleted one is gone.
	// Asking again cannot help; the media is lost.
	ErrMediaNotFound = errors.New("media not found at Meta")
	// ErrMediaURLExpired: the download URL is expired or unknown (Meta answers 404, or an error
	// body instead of the bytes). A URL lives about 5 minutes: call MediaInfo again for a fresh
	// one and download that.
	ErrMediaURLExpired = errors.New("media download URL expired or unknown")
	// ErrMediaTooLarge: the download is larger than the caller's limit. It was stopped there;
	// what was written to the writer is incomplete.
	ErrMediaTooLarge = errors.New("media larger than the allowed size")
)

// MediaInfo is Meta's answer to GET /{media-id}: where to download the media for the next few
// minutes, and what to expect there.
type MediaInfo struct {
	MessagingProduct string `json:"messaging_product"`
	// URL is the short-lived download URL, to GET with the same bearer token (see Download).
	URL      string `json:"url"`
	MimeType string `json:"mime_type"`
	// SHA256 is the SHA-256 of the file as Meta reports it, in hex here; the sha256 field of
	// an inbound media webhook holds the same sum in base64. DownloadResult.Matches takes both.
	SHA256 string `json:"sha256"`
	// FileSize is the size in bytes. Meta's reference shows it as a JSON string and its answers
	// often as a number; both are read.
	FileSize int64  `json:"file_size"`
	ID       string `json:"id"`
}

// UnmarshalJSON reads file_size as a number or as a string of digits.
func (m *MediaInfo) UnmarshalJSON(data []byte) error {
	type plain MediaInfo
	var wire struct {
		*plain
		FileSize json.RawMessage `json:"file_size"`
	}
	wire.plain = (*plain)(m)
	if err := json.Unmarshal(data, &wire); err != nil {
		return err
	}
	m.FileSize = 0
	raw := strings.Trim(string(wire.FileSize), `"`)
	if raw == "" || raw == "null" {
		return nil
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return fmt.Errorf("file_size %s is not a number of bytes", wire.FileSize)
	}
	m.FileSize = n
	return nil
}

// MediaInfo asks Meta where to download a media object: GET {BaseURL}/{Version}/{mediaID}. An
// unknown or expired media id is ErrMediaNotFound (wrapping Meta's *APIError, code 100 with
// subcode 33); any other failure is as for Send, and Classify tells whether to retry.
func (c *Client) MediaInfo(ctx context.Context, mediaID string) (*MediaInfo, error) {
	if mediaID == "" {
		return nil, fmt.Errorf("error getting whatsapp media info: %w: media id is required", ErrInvalidMessage)
	}
	var info MediaInfo
	if err := c.call(ctx, http.MethodGet, url.PathEscape(mediaID), nil, nil, &info); err != nil {
		if unknownMedia(err) {
			err = fmt.Errorf("%w: %w", ErrMediaNotFound, err)
		}
		return nil, fmt.Errorf("error getting whatsapp media %s info: %w", mediaID, err)
	}
	if info.URL == "" {
		return nil, fmt.Errorf("error getting whatsapp media %s info: answer has no url", mediaID)
	}
	return &info, nil
}

// DeleteMedia deletes a media object: DELETE {BaseURL}/{Version}/{mediaID}. An unknown or
// already deleted media id is ErrMediaNotFound.
func (c *Client) DeleteMedia(ctx context.Context, mediaID string) error {
	if mediaID == "" {
		return fmt.Errorf("error deleting whatsapp media: %w: media id is required", ErrInvalidMessage)
	}
	var resp struct {
		Success bool `json:"success"`
	}
	if err := c.call(ctx, http.MethodDelete, url.PathEscape(mediaID), nil, nil, &resp); err != nil {
		if unknownMedia(err) {
			err = fmt.Errorf("%w: %w", ErrMediaNotFound, err)
		}
		return fmt.Errorf("error deleting whatsapp media %s: %w", mediaID, err)
	}
	if !resp.Success {
		return fmt.Errorf("error deleting whatsapp media %s: %w: answer is not a success", mediaID, ErrOutcomeUnknown)
	}
	return nil
}

// unknownMedia reports whether err is Meta's answer for an object id it does not know (code
// 100, subcode 33: "Object with ID ... does not exist"), or a 404.
func unknownMedia(err error) bool {
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	return (apiErr.Code == 100 && apiErr.Subcode == 33) || apiErr.HTTPStatus == http.StatusNotFound
}

// DownloadResult describes a completed download.
type DownloadResult struct {
	// Size is the number of bytes written.
	Size int64
	// SHA256 is the SHA-256 of the bytes written.
	SHA256 [sha256.Size]byte
	// ContentType is the Content-Type Meta served the bytes with.
	ContentType string
}

// Matches reports whether the downloaded bytes have the SHA-256 Meta announced, given in hex
// (MediaInfo.SHA256) or in base64 (the sha256 field of an inbound media webhook). A mismatch
// means the bytes are not the customer's: do not keep them.
func (d *DownloadResult) Matches(announced string) bool {
	announced = strings.TrimSpace(announced)
	if sum, err := hex.DecodeString(announced); err == nil && len(sum) == sha256.Size {
		return [sha256.Size]byte(sum) == d.SHA256
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if sum, err := enc.DecodeString(announced); err == nil && len(sum) == sha256.Size {
			return [sha256.Size]byte(sum) == d.SHA256
		}
	}
	return false
}

// Download fetches a media URL of MediaInfo with the bearer token and streams the bytes into w,
// never holding the whole file in memory, while computing their SHA-256 for the caller to
// compare with Meta's (DownloadResult.Matches). maxBytes > 0 stops a larger download with
// ErrMediaTooLarge; w then holds an incomplete file.
//
// An expired or unknown URL (Meta's 404, or Meta's error body in place of the bytes) is
// ErrMediaURLExpired: call MediaInfo again. A 401 with Meta's code 190 is an *APIError for
// Classify (a broken token). Anything else (a 5xx, a timeout, a connection reset, a body cut
// short) is transient: Classify says retry. A download changes nothing at Meta, so it is never
// marked ErrOutcomeUnknown.
func (c *Client) Download(ctx context.Context, mediaURL string, w io.Writer, maxBytes int64) (*DownloadResult, error) {
	res, err := c.download(ctx, mediaURL, w, maxBytes)
	if err != nil {
		return nil, fmt.Errorf("error downloading whatsapp media: %w", err)
	}
	return res, nil
}

func (c *Client) download(ctx context.Context, mediaURL string, w io.Writer, maxBytes int64) (*DownloadResult, error) {
	u, err := url.Parse(mediaURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// The URL is not logged or returned: it is a bearer-authenticated secret for its lifetime.
		return nil, fmt.Errorf("%w: the media URL is not an absolute http(s) URL", ErrInvalidMessage)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.mediaClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	contentType := resp.Header.Get("Content-Type")

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
		apiErr := c.decodeAPIError(resp.StatusCode, body)
		if resp.StatusCode == http.StatusNotFound || (resp.StatusCode == http.StatusBadRequest && apiErr.Code != 0) {
			return nil, fmt.Errorf("%w: %w", ErrMediaURLExpired, apiErr)
		}
		return nil, apiErr
	}
	if resp.ContentLength > 0 && maxBytes > 0 && resp.ContentLength > maxBytes {
		return nil, fmt.Errorf("%w: %d bytes announced, at most %d allowed", ErrMediaTooLarge, resp.ContentLength, maxBytes)
	}

	body := bufio.NewReader(resp.Body)
	if isJSON(contentType) {
		// No media type WhatsApp carries is JSON: a JSON answer is Meta's error in place of
		// the bytes, which is how an expired URL can also be answered.
		if head, _ := body.Peek(maxResponseBytes); len(head) > 0 {
			var meta metaErrorBody
			if json.Unmarshal(head, &meta) == nil && meta.Error != nil {
				return nil, fmt.Errorf("%w: %w", ErrMediaURLExpired, c.decodeAPIError(resp.StatusCode, head))
			}
		}
	}

	sum := sha256.New()
	var src io.Reader = body
	if maxBytes > 0 {
		src = io.LimitReader(body, maxBytes+1)
	}
	n, err := io.Copy(io.MultiWriter(w, sum), src)
	if err != nil {
		return nil, fmt.Errorf("reading media after %d bytes: %w", n, err)
	}
	if maxBytes > 0 && n > maxBytes {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrMediaTooLarge, maxBytes)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return nil, fmt.Errorf("reading media: %d bytes of %d announced", n, resp.ContentLength)
	}
	return &DownloadResult{Size: n, SHA256: [sha256.Size]byte(sum.Sum(nil)), ContentType: contentType}, nil
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || mt == "text/javascript")
}

// errUploadEnded stops the writer of an upload whose request is over.
var errUploadEnded = errors.New("upload request ended")

// uploadResponse is Meta's answer to an upload.
type uploadResponse struct {
	ID string `json:"id"`
}

// UploadMedia uploads a file for a later media message: POST {BaseURL}/{Version}/{phoneNumberID}/media
// as multipart/form-data with messaging_product, type (the MIME type) and file. The body is
// streamed from r, never held whole in memory. It returns the media id, which an image, audio,
// video, document or sticker message names in its "id" field; Meta keeps it for 30 days.
//
// Errors are as for Send. ErrOutcomeUnknown here only means that Meta may hold an orphan media
// object, which expires by itself: uploading again is safe. An error reading r is returned as it
// is (an upload cut short cannot have been accepted).
func (c *Client) UploadMedia(ctx context.Context, phoneNumberID, mimeType, filename string, r io.Reader) (string, error) {
	switch {
	case phoneNumberID == "":
		return "", fmt.Errorf("error uploading whatsapp media: %w: phone number id is required", ErrInvalidMessage)
	case mimeType == "":
		return "", fmt.Errorf("error uploading whatsapp media: %w: mime type is required", ErrInvalidMessage)
	case r == nil:
		return "", fmt.Errorf("error uploading whatsapp media: %w: file is required", ErrInvalidMessage)
	}
	if filename == "" {
		filename = "file"
	}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	readErr := make(chan error, 1)
	go func() {
		err := writeUpload(mw, mimeType, filename, r)
		if err != nil {
			readErr <- err
		}
		close(readErr)
		_ = pw.CloseWithError(err) // nil closes normally
	}()

	endpoint := c.baseURL + "/" + c.version + "/" + url.PathEscape(phoneNumberID) + "/media"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, pr)
	if err != nil {
		_ = pr.CloseWithError(err)
		<-readErr
		return "", fmt.Errorf("error uploading whatsapp media: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Accept", "application/json")

	var resp uploadResponse
	err = c.doWith(c.mediaClient, req, &resp)
	// The transport may close the body after Do returns: closing it here ends the writer now,
	// even when Meta answered before reading the whole file.
	_ = pr.CloseWithError(errUploadEnded)
	if rerr := <-readErr; rerr != nil && !errors.Is(rerr, errUploadEnded) && !errors.Is(rerr, io.ErrClosedPipe) {
		return "", fmt.Errorf("error uploading whatsapp media %q: reading the file: %w", filename, rerr)
	}
	if err != nil {
		return "", fmt.Errorf("error uploading whatsapp media %q: %w", filename, err)
	}
	if resp.ID == "" {
		return "", fmt.Errorf("error uploading whatsapp media %q: %w: answer has no media id", filename, ErrOutcomeUnknown)
	}
	c.logger.DebugContext(ctx, "whatsapp media uploaded", "phone_number_id", phoneNumberID, "media_id", resp.ID)
	return resp.ID, nil
}

// writeUpload writes the multipart body of an upload and closes it.
func writeUpload(mw *multipart.Writer, mimeType, filename string, r io.Reader) error {
	if err := mw.WriteField("messaging_product", MessagingProduct); err != nil {
		return err
	}
	if err := mw.WriteField("type", mimeType); err != nil {
		return err
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", mime.FormatMediaType("form-data", map[string]string{"name": "file", "filename": filename}))
	h.Set("Content-Type", mimeType)
	part, err := mw.CreatePart(h)
	if err != nil {
		return err
	}
	if _, err := io.Copy(part, r); err != nil {
		return err
	}
	return mw.Close()
}
