package simulator_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/simulator"
	"github.com/wainbox/wainbox/internal/whatsapp"
)

// pngBytes is a file that passes for a PNG: the signature, then padding up to n bytes.
func pngBytes(n int) []byte {
	b := make([]byte, n)
	copy(b, "\x89PNG\r\n\x1a\n")
	for i := 8; i < n; i++ {
		b[i] = byte(i)
	}
	return b
}

// fetch gets a media's info and downloads it, as the inbox will.
func fetch(t *testing.T, h *harness, mediaID string, maxBytes int64) (*whatsapp.MediaInfo, []byte, *whatsapp.DownloadResult, error) {
	t.Helper()
	info, err := h.client.MediaInfo(t.Context(), mediaID)
	require.NoError(t, err)
	var buf bytes.Buffer
	res, err := h.client.Download(t.Context(), info.URL, &buf, maxBytes)
	return info, buf.Bytes(), res, err
}

func TestMediaUploadInfoDownload(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	file := pngBytes(300_000)

	id, err := h.client.UploadMedia(t.Context(), testPhoneID, "image/png", "photo.png", bytes.NewReader(file))
	require.NoError(t, err)
	require.NotEmpty(t, id)

	info, got, res, err := fetch(t, h, id, 5<<20)
	require.NoError(t, err)
	sum := sha256.Sum256(file)
	require.Equal(t, "whatsapp", info.MessagingProduct)
	require.Equal(t, id, info.ID)
	require.Equal(t, "image/png", info.MimeType)
	require.Equal(t, int64(len(file)), info.FileSize)
	require.Equal(t, hex.EncodeToString(sum[:]), info.SHA256)
	require.True(t, strings.HasPrefix(info.URL, h.url+"/simulator/lookaside/whatsapp_business/attachments/?"), info.URL)
	require.Equal(t, file, got)
	require.True(t, res.Matches(info.SHA256))
	require.Equal(t, "image/png", res.ContentType)

	stored, mimeType, ok := h.sim.Media(id)
	require.True(t, ok)
	require.Equal(t, "image/png", mimeType)
	require.Equal(t, file, stored)

	t.Run("the download URL needs the token", func(t *testing.T) {
		resp, err := http.Get(info.URL)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	})

	t.Run("a forged URL is unknown", func(t *testing.T) {
		forged := strings.Replace(info.URL, "ext=", "ext=9", 1)
		_, err := h.client.Download(t.Context(), forged, io.Discard, 0)
		require.ErrorIs(t, err, whatsapp.ErrMediaURLExpired)
	})

	t.Run("maxBytes exceeded", func(t *testing.T) {
		_, _, _, err := fetch(t, h, id, 1000)
		require.ErrorIs(t, err, whatsapp.ErrMediaTooLarge)
		require.Equal(t, whatsapp.ClassPermanent, whatsapp.Classify(err))
	})

	t.Run("delete", func(t *testing.T) {
		require.NoError(t, h.client.DeleteMedia(t.Context(), id))
		_, err := h.client.MediaInfo(t.Context(), id)
		require.ErrorIs(t, err, whatsapp.ErrMediaNotFound)
		// A URL given before the delete no longer serves the file.
		_, err = h.client.Download(t.Context(), info.URL, io.Discard, 0)
		require.ErrorIs(t, err, whatsapp.ErrMediaURLExpired)
		require.ErrorIs(t, h.client.DeleteMedia(t.Context(), id), whatsapp.ErrMediaNotFound)
	})
}

func TestMediaURLExpires(t *testing.T) {
	t.Parallel()
	h := newHarness(t, &simulator.Config{MediaURLTTL: time.Second})
	id, err := h.sim.AddMedia("image/png", pngBytes(100))
	require.NoError(t, err)
	info, err := h.client.MediaInfo(t.Context(), id)
	require.NoError(t, err)

	// ext is in whole seconds: wait until it is surely past.
	time.Sleep(2100 * time.Millisecond)
	_, err = h.client.Download(t.Context(), info.URL, io.Discard, 0)
	require.ErrorIs(t, err, whatsapp.ErrMediaURLExpired)
	var apiErr *whatsapp.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, http.StatusNotFound, apiErr.HTTPStatus)

	// A fresh URL works again.
	_, got, _, err := fetch(t, h, id, 0)
	require.NoError(t, err)
	require.Equal(t, pngBytes(100), got)
}

func TestMediaIDExpired(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	id, err := h.sim.AddMedia("image/png", pngBytes(100))
	require.NoError(t, err)
	info, err := h.client.MediaInfo(t.Context(), id)
	require.NoError(t, err)

	require.Equal(t, http.StatusNoContent, h.do(t, http.MethodPost, "/simulator/media/"+id+"/expire", nil, nil))
	require.Equal(t, http.StatusNotFound, h.do(t, http.MethodPost, "/simulator/media/"+id+"/expire", nil, nil))

	_, err = h.client.MediaInfo(t.Context(), id)
	require.ErrorIs(t, err, whatsapp.ErrMediaNotFound)
	var apiErr *whatsapp.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, 100, apiErr.Code)
	require.Equal(t, 33, apiErr.Subcode)
	require.Equal(t, whatsapp.ClassPermanent, whatsapp.Classify(err))

	_, err = h.client.Download(t.Context(), info.URL, io.Discard, 0)
	require.ErrorIs(t, err, whatsapp.ErrMediaURLExpired)
}

func TestMediaDownloadFaults(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	file := pngBytes(5000)
	id, err := h.sim.AddMedia("image/png", file)
	require.NoError(t, err)

	var faults simulator.Faults
	require.Equal(t, http.StatusOK, h.do(t, http.MethodPut, "/simulator/faults",
		`{"media_fail_next": 2, "media_corrupt_next": 1}`, &faults))
	require.Equal(t, 2, faults.MediaFailNext)
	require.Equal(t, 1, faults.MediaCorruptNext)

	info, err := h.client.MediaInfo(t.Context(), id)
	require.NoError(t, err)
	for range 2 {
		_, err := h.client.Download(t.Context(), info.URL, io.Discard, 0)
		require.Error(t, err)
		require.False(t, errors.Is(err, whatsapp.ErrMediaURLExpired), err)
		require.Equal(t, whatsapp.ClassRetry, whatsapp.Classify(err))
	}

	var buf bytes.Buffer
	res, err := h.client.Download(t.Context(), info.URL, &buf, 0)
	require.NoError(t, err)
	require.Equal(t, int64(len(file)), res.Size)
	require.False(t, res.Matches(info.SHA256), "corrupt bytes must not match the announced sha256")

	buf.Reset()
	res, err = h.client.Download(t.Context(), info.URL, &buf, 0)
	require.NoError(t, err)
	require.True(t, res.Matches(info.SHA256))
	require.Equal(t, file, buf.Bytes())

	require.Equal(t, http.StatusBadRequest, h.do(t, http.MethodPut, "/simulator/faults", `{"media_fail_next": -1}`, nil))
}

func TestInboundMediaFromPhone(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	h := newHarness(t, &simulator.Config{WebhookURL: rcv.URL})

	cases := []struct {
		in       simulator.InboundInput
		mimeType string
		sniffed  string
	}{
		{simulator.InboundInput{From: "16505550101", Type: "image", Caption: "look"}, "image/jpeg", "image/jpeg"},
		{simulator.InboundInput{From: "16505550101", Type: "image", MimeType: "image/png"}, "image/png", "image/png"},
		{simulator.InboundInput{From: "16505550101", Type: "sticker"}, "image/webp", "image/webp"},
		{simulator.InboundInput{From: "16505550101", Type: "audio"}, "audio/ogg; codecs=opus", "application/ogg"},
		{simulator.InboundInput{From: "16505550101", Type: "video"}, "video/mp4", "video/mp4"},
		{simulator.InboundInput{From: "16505550101", Type: "document", Filename: "a.pdf"}, "application/pdf", "application/pdf"},
		{simulator.InboundInput{From: "16505550101", Type: "image", MimeType: "image/png", Data: pngBytes(64), MediaID: "4242"}, "image/png", "image/png"},
	}
	for _, c := range cases {
		_, err := h.sim.SendInbound(t.Context(), &c.in)
		require.NoError(t, err)
		msg := rcv.next(t).decode(t).Entry[0].Changes[0].Value.Messages[0]
		var media *whatsapp.Media
		switch msg.Type {
		case "image":
			media = msg.Image
		case "sticker":
			media = msg.Sticker
		case "audio":
			media = msg.Audio
		case "video":
			media = msg.Video
		case "document":
			media = msg.Document
		}
		require.NotNil(t, media, msg.Type)
		require.Equal(t, c.mimeType, media.MimeType)

		info, got, res, err := fetch(t, h, media.ID, 16<<20)
		require.NoError(t, err)
		require.True(t, res.Matches(media.SHA256), "the webhook's sha256 (base64) matches the bytes")
		require.True(t, res.Matches(info.SHA256), "the media info's sha256 (hex) matches the bytes")
		require.Equal(t, c.sniffed, http.DetectContentType(got), "%s sample", c.mimeType)
		if c.in.Data != nil {
			require.Equal(t, "4242", media.ID)
			require.Equal(t, c.in.Data, got)
		}
	}

	t.Run("data is checked like an upload", func(t *testing.T) {
		var e struct {
			Error struct{ Code string } `json:"error"`
		}
		body, _ := json.Marshal(map[string]any{"from": "16505550101", "type": "image", "mime_type": "image/png", "data": []byte("%PDF-1.4")})
		require.Equal(t, http.StatusBadRequest, h.do(t, http.MethodPost, "/simulator/phone/messages", string(body), &e))
		require.Equal(t, "invalid_media", e.Error.Code)
	})
}

func TestMediaUploadRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)

	tests := []struct {
		name     string
		mimeType string
		file     []byte
		code     int
		details  string
	}{
		{"image above 5 MB", "image/png", pngBytes(5<<20 + 1), 131053, "above the 5242880 bytes allowed for image"},
		{"sticker above 500 KB", "image/webp", append([]byte("RIFF\x00\x00\x00\x00WEBPVP8L"), make([]byte, 500<<10)...), 131053, "allowed for sticker"},
		{"audio above 16 MB", "audio/ogg", append([]byte("OggS"), make([]byte, 16<<20)...), 131053, "allowed for audio"},
		{"bytes that are not the type", "image/jpeg", pngBytes(100), 131053, "are not image/jpeg"},
		{"unsupported type", "application/zip", []byte("PK\x03\x04"), 131053, "not a supported media type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.client.UploadMedia(t.Context(), testPhoneID, tt.mimeType, "f", bytes.NewReader(tt.file))
			var apiErr *whatsapp.APIError
			require.ErrorAs(t, err, &apiErr)
			require.Equal(t, tt.code, apiErr.Code)
			require.Contains(t, apiErr.Details, tt.details)
			require.Equal(t, whatsapp.ClassPermanent, whatsapp.Classify(err))
		})
	}

	t.Run("document up to 100 MB is fine at 17 MB", func(t *testing.T) {
		_, err := h.client.UploadMedia(t.Context(), testPhoneID, "application/pdf", "big.pdf",
			io.MultiReader(strings.NewReader("%PDF-1.4\n"), io.LimitReader(zeroReader{}, 17<<20)))
		require.NoError(t, err)
	})

	t.Run("form without messaging_product", func(t *testing.T) {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		require.NoError(t, mw.WriteField("type", "image/png"))
		fw, err := mw.CreateFormFile("file", "a.png")
		require.NoError(t, err)
		_, _ = fw.Write(pngBytes(10))
		require.NoError(t, mw.Close())
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, h.url+"/simulator/graph/v24.0/"+testPhoneID+"/media", &body)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+testToken)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	})

	t.Run("another phone number id", func(t *testing.T) {
		_, err := h.client.UploadMedia(t.Context(), "999", "image/png", "a.png", bytes.NewReader(pngBytes(10)))
		var apiErr *whatsapp.APIError
		require.ErrorAs(t, err, &apiErr)
		require.Equal(t, 33, apiErr.Subcode)
	})
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
