package httpapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/apptest"
	"github.com/wainbox/wainbox/internal/inbox"
	"github.com/wainbox/wainbox/internal/jobs"
	"github.com/wainbox/wainbox/internal/simulator"
	"github.com/wainbox/wainbox/internal/waformat"
)

// mediaAnswer is a message's media object as the API shows it.
type mediaAnswer struct {
	ID       int64  `json:"id"`
	Kind     string `json:"kind"`
	Status   string `json:"status"`
	Error    string `json:"error"`
	MimeType string `json:"mime_type"`
	Size     *int64 `json:"size"`
	Filename string `json:"filename"`
	URL      string `json:"url"`
	SHA256   string `json:"sha256"`
}

// customerSendsMedia plays a customer sending a file through the simulator's phone (straight to
// the simulator, so that files over the phone route's 1 MB body pass) and returns the message's id.
func customerSendsMedia(t *testing.T, in *apptest.Instance, waID string, input simulator.InboundInput) int64 {
	t.Helper()
	input.From = waID
	wamid, err := in.Simulator().SendInbound(context.Background(), &input)
	require.NoError(t, err)
	// The webhook is stored, then processed by its job.
	var id int64
	require.Eventually(t, func() bool {
		return in.Pool().QueryRow(context.Background(), `SELECT id FROM messages WHERE wa_message_id = $1`, wamid).Scan(&id) == nil
	}, 30*time.Second, 10*time.Millisecond)
	return id
}

// waitForMedia waits until the file of message msgID leaves pending and returns it.
func waitForMedia(t *testing.T, in *apptest.Instance, token string, msgID int64) mediaAnswer {
	t.Helper()
	var m struct {
		Media *mediaAnswer `json:"media"`
	}
	require.Eventually(t, func() bool {
		in.Do("GET", fmt.Sprintf("/api/messages/%d", msgID), token, nil, http.StatusOK, &m)
		require.NotNil(t, m.Media, "a media message shows its file")
		return m.Media.Status != inbox.MediaPending
	}, 30*time.Second, 20*time.Millisecond)
	return *m.Media
}

func getMedia(t *testing.T, in *apptest.Instance, token, path string, header map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest("GET", in.URL+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := in.Client.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}

func readAll(t *testing.T, r io.Reader) []byte {
	t.Helper()
	b, err := io.ReadAll(r)
	require.NoError(t, err)
	return b
}

// TestInboundImageIsFetchedAndServedByteIdentical: a customer's photo is stored with the message,
// fetched from Meta by its job, and served to agents as the same bytes, with its type, caching
// headers and Range; an agent who may not read the conversation finds no such file.
func TestInboundImageIsFetchedAndServedByteIdentical(t *testing.T) {
	t.Parallel()
	tm := newTeamOfFour(t)
	in := tm.in
	photo := simulator.SampleMedia("image/jpeg")
	msgID := customerSendsMedia(t, in, "16505558001", simulator.InboundInput{Type: "image", MimeType: "image/jpeg", Data: photo, Caption: "the parcel"})
	f := waitForMedia(t, in, tm.admin, msgID)
	require.Equal(t, inbox.MediaStored, f.Status, "error: %s", f.Error)
	require.Equal(t, "image/jpeg", f.MimeType)
	require.Equal(t, int64(len(photo)), *f.Size)
	require.Equal(t, fmt.Sprintf("/api/media/%d", f.ID), f.URL)

	resp := getMedia(t, in, tm.admin, f.URL, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, photo, readAll(t, resp.Body), "byte-identical")
	require.Equal(t, "image/jpeg", resp.Header.Get("Content-Type"))
	require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
	require.True(t, strings.HasPrefix(resp.Header.Get("Content-Disposition"), "inline"), resp.Header.Get("Content-Disposition"))
	etag := resp.Header.Get("ETag")
	require.Equal(t, fmt.Sprintf(`"%x"`, sha256.Sum256(photo)), etag)
	require.Contains(t, resp.Header.Get("Cache-Control"), "private")

	// Range: a part of the file, and a revalidation that sends nothing.
	resp = getMedia(t, in, tm.admin, f.URL, map[string]string{"Range": "bytes=10-19"})
	require.Equal(t, http.StatusPartialContent, resp.StatusCode)
	require.Equal(t, photo[10:20], readAll(t, resp.Body))
	require.Equal(t, fmt.Sprintf("bytes 10-19/%d", len(photo)), resp.Header.Get("Content-Range"))
	resp = getMedia(t, in, tm.admin, f.URL, map[string]string{"If-None-Match": etag})
	require.Equal(t, http.StatusNotModified, resp.StatusCode)

	// The conversation goes to the other agent: "me" may not read it, so the file does not exist.
	var convID int64
	require.NoError(t, in.Pool().QueryRow(context.Background(), `SELECT conversation_id FROM messages WHERE id = $1`, msgID).Scan(&convID))
	in.Do("POST", fmt.Sprintf("/api/conversations/%d/assign", convID), tm.admin, map[string]any{"agent_id": tm.otherID}, http.StatusOK, nil)
	resp = getMedia(t, in, tm.me, f.URL, nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Contains(t, string(readAll(t, resp.Body)), fmt.Sprintf("file %d does not exist", f.ID))
	require.Equal(t, http.StatusOK, getMedia(t, in, tm.other, f.URL, nil).StatusCode)
	require.Equal(t, http.StatusNotFound, getMedia(t, in, tm.admin, "/api/media/987654", nil).StatusCode)
}

// TestInboundMediaFetchSurvivesMetaFaults: downloads that fail are retried until one succeeds,
// bytes that do not match Meta's SHA-256 are refused and fetched again, and a media id Meta no
// longer knows fails the file with a reason agents can read.
func TestInboundMediaFetchSurvivesMetaFaults(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	tok := in.AdminToken()
	ctx := context.Background()
	sim := in.Simulator()
	attempts := func(msgID int64) int {
		var n int
		require.NoError(t, in.Pool().QueryRow(ctx, `SELECT j.attempt FROM river_job j JOIN messages m ON (j.args->>'media_id')::bigint = m.media_id
			WHERE j.kind = 'fetch_media' AND m.id = $1`, msgID).Scan(&n))
		return n
	}

	t.Run("fails twice then succeeds", func(t *testing.T) {
		doc := simulator.SampleMedia("application/pdf")
		sim.SetFaults(simulator.Faults{MediaFailNext: 2})
		msgID := customerSendsMedia(t, in, "16505558101", simulator.InboundInput{Type: "document", MimeType: "application/pdf", Data: doc, Filename: "invoice.pdf"})
		f := waitForMedia(t, in, tok, msgID)
		require.Equal(t, inbox.MediaStored, f.Status, "error: %s", f.Error)
		require.Equal(t, "invoice.pdf", f.Filename)
		require.Equal(t, 3, attempts(msgID), "two failed downloads, then the one that worked")
		resp := getMedia(t, in, tok, f.URL, nil)
		require.Equal(t, doc, readAll(t, resp.Body))
		require.True(t, strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment"), "a document is never shown inline")
		require.Contains(t, resp.Header.Get("Content-Disposition"), `filename=invoice.pdf`)
	})

	t.Run("checksum mismatch refused and retried", func(t *testing.T) {
		voice := simulator.SampleMedia("audio/ogg")
		sim.SetFaults(simulator.Faults{MediaCorruptNext: 1})
		msgID := customerSendsMedia(t, in, "16505558102", simulator.InboundInput{Type: "audio", MimeType: "audio/ogg", Data: voice})
		f := waitForMedia(t, in, tok, msgID)
		require.Equal(t, inbox.MediaStored, f.Status, "error: %s", f.Error)
		require.Equal(t, 2, attempts(msgID), "the corrupt download was not kept")
		require.Equal(t, voice, readAll(t, getMedia(t, in, tok, f.URL, nil).Body), "the customer's bytes, not the corrupt ones")
		var objects int
		require.NoError(t, in.Pool().QueryRow(ctx, `SELECT count(*) FROM media_objects WHERE sha256 = $1`, sha256Bytes(voice)).Scan(&objects))
		require.Equal(t, 1, objects)
	})

	t.Run("expired id fails with a reason", func(t *testing.T) {
		require.NoError(t, in.River().QueuePause(ctx, inbox.QueueMedia, nil))
		id, err := sim.AddMedia("image/png", simulator.SampleMedia("image/png"))
		require.NoError(t, err)
		msgID := customerSendsMedia(t, in, "16505558103", simulator.InboundInput{Type: "image", MediaID: id})
		require.True(t, sim.ExpireMedia(id))
		require.NoError(t, in.River().QueueResume(ctx, inbox.QueueMedia, nil))
		f := waitForMedia(t, in, tok, msgID)
		require.Equal(t, inbox.MediaFailed, f.Status)
		require.Contains(t, f.Error, "no longer has this file")
		resp := getMedia(t, in, tok, f.URL, nil)
		require.Equal(t, http.StatusConflict, resp.StatusCode)
		require.Contains(t, string(readAll(t, resp.Body)), "could not be fetched")
		require.Eventually(t, func() bool {
			var state string
			require.NoError(t, in.Pool().QueryRow(ctx, `SELECT state FROM river_job WHERE kind = 'fetch_media' AND (args->>'media_id')::bigint = $1`, f.ID).Scan(&state))
			return state == "cancelled"
		}, 10*time.Second, 10*time.Millisecond, "nothing left to retry")
	})
}

func sha256Bytes(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

// TestLargeInboundDocumentStreamsWithBoundedMemory: a 20 MB document goes from Meta to the store
// and from the store to an agent without either side holding it whole. The heap's growth is
// sampled while it moves and written to the test log (memory is measured, not asserted: the bench
// reports it beside its ceiling).
func TestLargeInboundDocumentStreamsWithBoundedMemory(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	tok := in.AdminToken()
	doc := append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte("0123456789abcdef"), 20<<20/16)...)
	sum := sha256.Sum256(doc)

	var base, peak atomic.Uint64
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base.Store(ms.HeapInuse)
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
		}
	}()
	msgID := customerSendsMedia(t, in, "16505558201", simulator.InboundInput{Type: "document", MimeType: "application/pdf", Data: doc, Filename: "manual.pdf"})
	f := waitForMedia(t, in, tok, msgID)
	require.Equal(t, inbox.MediaStored, f.Status, "error: %s", f.Error)
	resp := getMedia(t, in, tok, f.URL, nil)
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	require.NoError(t, err)
	close(stop)
	<-sampled
	require.Equal(t, int64(len(doc)), n)
	require.Equal(t, sum[:], h.Sum(nil), "byte-identical")
	// The simulator keeps a copy of the document (as Meta would): the growth beyond it is what the
	// fetch, the store and the download took (other tests of the package may run meanwhile).
	grew := float64(peak.Load()-min(peak.Load(), base.Load())) / (1 << 20)
	t.Logf("20 MB document: heap in use grew by %.1f MB at most, %.1f MB beyond the simulator's copy",
		grew, grew-float64(len(doc))/(1<<20))
}

// upload posts a file to a conversation as multipart/form-data.
func upload(t *testing.T, in *apptest.Instance, token string, conv int64, kind, filename string, data []byte) *apptest.Response {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if kind != "" {
		require.NoError(t, mw.WriteField("type", kind))
	}
	part, err := mw.CreateFormFile("file", filename)
	require.NoError(t, err)
	_, err = part.Write(data)
	require.NoError(t, err)
	require.NoError(t, mw.Close())
	req, err := http.NewRequest("POST", fmt.Sprintf("%s/api/conversations/%d/media", in.URL, conv), &body)
	require.NoError(t, err)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := in.Client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	return &apptest.Response{Status: resp.StatusCode, Header: resp.Header, Body: readAll(t, resp.Body)}
}

// TestUploadAndSendEachMediaKind: an agent uploads a file of each kind and sends it; the send job
// uploads it to Meta and sends Meta's id in Meta's shape, with the caption and the document's
// file name, and Meta has the same bytes.
func TestUploadAndSendEachMediaKind(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	tok := in.AdminToken()
	conv, _ := openConversation(t, in, tok, "16505558301")
	sim := in.Simulator()
	cases := []struct {
		kind, mime, filename, caption string
		sniffed                       string // when it differs from Meta's name
	}{
		{"image", "image/jpeg", "photo.jpg", "your parcel", ""},
		{"video", "video/mp4", "howto.mp4", "how to fit it", ""},
		{"audio", "audio/ogg", "voice.ogg", "", ""},
		{"audio", "audio/mp4", "memo.m4a", "", "audio/x-m4a"},
		{"document", "application/pdf", "invoice-42.pdf", "your invoice", ""},
		{"sticker", "image/webp", "thanks.webp", "", ""},
	}
	for _, c := range cases {
		data := simulator.SampleMedia(c.mime)
		var up mediaAnswer
		resp := upload(t, in, tok, conv, c.kind, c.filename, data)
		require.Equal(t, http.StatusCreated, resp.Status, "%s: %s", c.kind, resp.Body)
		require.NoError(t, jsonUnmarshal(resp.Body, &up))
		require.Equal(t, c.kind, up.Kind)
		require.Equal(t, inbox.MediaStored, up.Status)
		require.Equal(t, fmt.Sprintf("%x", sha256.Sum256(data)), up.SHA256)
		sniffed := c.mime
		if c.sniffed != "" {
			sniffed = c.sniffed
		}
		require.Equal(t, sniffed, up.MimeType, "sniffed from the bytes")

		obj := map[string]any{"id": fmt.Sprint(up.ID)}
		if c.caption != "" {
			obj["caption"] = c.caption
		}
		var sent struct {
			ID    int64        `json:"id"`
			Media *mediaAnswer `json:"media"`
		}
		in.Do("POST", fmt.Sprintf("/api/conversations/%d/messages", conv), tok,
			map[string]any{"client_id": uuid.NewString(), "type": c.kind, c.kind: obj}, http.StatusAccepted, &sent)
		require.NotNil(t, sent.Media)
		require.Equal(t, up.ID, sent.Media.ID)
		m := waitSent(t, in, tok, sent.ID)
		require.NotEqual(t, "failed", m.Status)

		var got *simulator.Send
		for _, s := range sim.Sends() {
			if s.BizOpaqueCallbackData == fmt.Sprint(sent.ID) && s.WAMessageID != "" {
				got = &s
			}
		}
		require.NotNil(t, got, "%s sent", c.kind)
		require.Equal(t, c.kind, got.Type)
		var req map[string]json.RawMessage
		require.NoError(t, jsonUnmarshal(got.Raw, &req))
		var media map[string]any
		require.NoError(t, jsonUnmarshal(req[c.kind], &media))
		waID, _ := media["id"].(string)
		require.NotEmpty(t, waID, "%s: sent by Meta's id: %s", c.kind, got.Raw)
		require.NotContains(t, media, "link")
		stored, mime, ok := sim.Media(waID)
		require.True(t, ok, "Meta has the upload")
		require.Equal(t, data, stored)
		require.Equal(t, c.mime, mime, "uploaded under Meta's name for the type")
		if c.caption != "" {
			require.Equal(t, c.caption, media["caption"])
		}
		if c.kind == "document" {
			require.Equal(t, c.filename, media["filename"], "the document keeps its name")
		}
	}
}

// waitSent waits until a message leaves pending.
func waitSent(t *testing.T, in *apptest.Instance, token string, id int64) messageAnswer {
	t.Helper()
	var m messageAnswer
	require.Eventually(t, func() bool {
		in.Do("GET", fmt.Sprintf("/api/messages/%d", id), token, nil, http.StatusOK, &m)
		return m.Status != "pending"
	}, 30*time.Second, 20*time.Millisecond)
	return m
}

// TestUploadRefusals: each file WhatsApp would refuse is refused before anything is stored, with
// a clear 4xx naming what is wrong; so are sends of files that are not this conversation's.
func TestUploadRefusals(t *testing.T) {
	t.Parallel()
	tm := newTeamOfFour(t)
	in := tm.in
	conv, _ := openConversation(t, in, tm.admin, "16505558401")
	other, _ := openConversation(t, in, tm.admin, "16505558402")
	hidden := tm.othersConversation(t, "16505558403")
	gif := []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
	bigJPEG := append(simulator.SampleMedia("image/jpeg"), make([]byte, waformat.MaxImageBytes)...)
	bigSticker := append([]byte(simulator.SampleMedia("image/webp")), make([]byte, waformat.MaxStaticStickerBytes)...)
	stored := func() [2]int { return [2]int{count(t, in, "media_files"), count(t, in, "media_objects")} }
	before := stored()

	for _, c := range []struct {
		name, token string
		conv        int64
		kind        string
		data        []byte
		status      int
		says        string
	}{
		{"a GIF as an image", tm.admin, conv, "image", gif, http.StatusBadRequest, "image/gif, which WhatsApp does not send as image"},
		{"a PDF as an image", tm.admin, conv, "image", simulator.SampleMedia("application/pdf"), http.StatusBadRequest, "application/pdf"},
		{"an image over 5 MB", tm.admin, conv, "image", bigJPEG, http.StatusRequestEntityTooLarge, "larger than the 5242880 bytes"},
		{"a static sticker over 100 KB", tm.admin, conv, "sticker", bigSticker, http.StatusRequestEntityTooLarge, "102400 bytes"},
		{"an empty file", tm.admin, conv, "", nil, http.StatusBadRequest, "file is empty"},
		{"an unknown kind", tm.admin, conv, "gif", gif, http.StatusBadRequest, "is not a kind of media"},
		{"a GIF with no kind", tm.admin, conv, "", gif, http.StatusBadRequest, "does not send as document"},
		{"a conversation the agent may not see", tm.me, hidden, "image", simulator.SampleMedia("image/jpeg"), http.StatusNotFound, "does not exist"},
		{"by a reader who may not write", tm.reader, conv, "image", simulator.SampleMedia("image/jpeg"), http.StatusForbidden, "may not act"},
	} {
		resp := upload(t, in, c.token, c.conv, c.kind, "f.bin", c.data)
		require.Equal(t, c.status, resp.Status, "%s: %s", c.name, resp.Body)
		require.Contains(t, string(resp.Body), c.says, c.name)
	}
	require.Equal(t, before, stored(), "nothing stored")

	// A multipart body without a file part.
	resp := in.Request("POST", fmt.Sprintf("/api/conversations/%d/media", conv), tm.admin, nil)
	require.Equal(t, http.StatusBadRequest, resp.Status, "%s", resp.Body)

	// Sends: a file of another conversation, an id that is no file, a kind it was not uploaded
	// as, a link.
	var up mediaAnswer
	resp = upload(t, in, tm.admin, other, "image", "p.jpg", simulator.SampleMedia("image/jpeg"))
	require.Equal(t, http.StatusCreated, resp.Status, "%s", resp.Body)
	require.NoError(t, jsonUnmarshal(resp.Body, &up))
	messages := count(t, in, "messages")
	for _, c := range []struct {
		name string
		body map[string]any
		says string
	}{
		{"another conversation's file", map[string]any{"type": "image", "image": map[string]any{"id": fmt.Sprint(up.ID)}}, "is not a file uploaded to this conversation"},
		{"no such file", map[string]any{"type": "image", "image": map[string]any{"id": "987654"}}, "is not a file uploaded to this conversation"},
		{"not a file id", map[string]any{"type": "image", "image": map[string]any{"id": "abc"}}, "must be the id of a file"},
		{"a link", map[string]any{"type": "image", "image": map[string]any{"link": "https://example.com/a.jpg"}}, "upload the file"},
	} {
		c.body["client_id"] = uuid.NewString()
		resp := in.Request("POST", fmt.Sprintf("/api/conversations/%d/messages", conv), tm.admin, c.body)
		require.Equal(t, http.StatusBadRequest, resp.Status, "%s: %s", c.name, resp.Body)
		require.Contains(t, string(resp.Body), c.says, c.name)
	}
	resp = in.Request("POST", fmt.Sprintf("/api/conversations/%d/messages", other), tm.admin,
		map[string]any{"client_id": uuid.NewString(), "type": "document", "document": map[string]any{"id": fmt.Sprint(up.ID)}})
	require.Equal(t, http.StatusBadRequest, resp.Status, "%s", resp.Body)
	require.Contains(t, string(resp.Body), "was uploaded as image")
	require.Equal(t, messages, count(t, in, "messages"), "nothing sent")
}

// TestMediaRetention: with MEDIA_RETENTION set, the bytes of files whose conversation has been
// quiet for that long are deleted (unless another file keeps the same bytes) and uploads never
// sent are deleted after a day; the messages stay, their files marked deleted with the reason.
func TestMediaRetention(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, &apptest.Options{Env: map[string]string{"MEDIA_RETENTION": "720h"}})
	tok := in.AdminToken()
	ctx := context.Background()
	shared, own := simulator.SampleMedia("image/png"), simulator.SampleMedia("application/pdf")
	quiet := customerSendsMedia(t, in, "16505558501", simulator.InboundInput{Type: "image", MimeType: "image/png", Data: shared})
	busy := customerSendsMedia(t, in, "16505558502", simulator.InboundInput{Type: "image", MimeType: "image/png", Data: shared})
	alone := customerSendsMedia(t, in, "16505558503", simulator.InboundInput{Type: "document", MimeType: "application/pdf", Data: own})
	files := map[int64]mediaAnswer{}
	for _, id := range []int64{quiet, busy, alone} {
		files[id] = waitForMedia(t, in, tok, id)
		require.Equal(t, inbox.MediaStored, files[id].Status)
	}
	var busyConv int64
	require.NoError(t, in.Pool().QueryRow(ctx, `SELECT conversation_id FROM messages WHERE id = $1`, busy).Scan(&busyConv))
	var unsent mediaAnswer
	resp := upload(t, in, tok, busyConv, "image", "draft.jpg", simulator.SampleMedia("image/jpeg"))
	require.Equal(t, http.StatusCreated, resp.Status, "%s", resp.Body)
	require.NoError(t, jsonUnmarshal(resp.Body, &unsent))
	// Thirty-one days pass for the quiet conversations and the files; the unsent upload is two days old.
	_, err := in.Pool().Exec(ctx, `UPDATE conversations SET last_message_at = now() - interval '31 days'
		WHERE id IN (SELECT conversation_id FROM messages WHERE id = ANY($1))`, []int64{quiet, alone})
	require.NoError(t, err)
	_, err = in.Pool().Exec(ctx, `UPDATE media_files SET created_at = now() - interval '31 days' WHERE direction = 'in'`)
	require.NoError(t, err)
	_, err = in.Pool().Exec(ctx, `UPDATE media_files SET created_at = now() - interval '2 days' WHERE id = $1`, unsent.ID)
	require.NoError(t, err)

	res, err := in.River().Insert(ctx, jobs.MediaRetentionArgs{}, nil)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		var state string
		require.NoError(t, in.Pool().QueryRow(ctx, `SELECT state FROM river_job WHERE id = $1`, res.Job.ID).Scan(&state))
		return state == "completed"
	}, 30*time.Second, 20*time.Millisecond)

	status := func(msgID int64) mediaAnswer {
		var m struct {
			Media *mediaAnswer `json:"media"`
		}
		in.Do("GET", fmt.Sprintf("/api/messages/%d", msgID), tok, nil, http.StatusOK, &m)
		return *m.Media
	}
	for _, id := range []int64{quiet, alone} {
		f := status(id)
		require.Equal(t, inbox.MediaDeleted, f.Status, "the message stays, its file is gone")
		require.Contains(t, f.Error, "retention")
		resp := getMedia(t, in, tok, f.URL, nil)
		require.Equal(t, http.StatusConflict, resp.StatusCode)
		require.Contains(t, string(readAll(t, resp.Body)), "was deleted")
	}
	require.Equal(t, inbox.MediaStored, status(busy).Status, "a conversation with recent messages keeps its files")
	require.Equal(t, shared, readAll(t, getMedia(t, in, tok, files[busy].URL, nil).Body), "bytes another file keeps stay")
	objects := func(b []byte) int {
		var n int
		require.NoError(t, in.Pool().QueryRow(ctx, `SELECT count(*) FROM media_objects WHERE sha256 = $1`, sha256Bytes(b)).Scan(&n))
		return n
	}
	require.Zero(t, objects(own), "the bytes nobody keeps are deleted")
	var unsentStatus, unsentError string
	require.NoError(t, in.Pool().QueryRow(ctx, `SELECT status, error FROM media_files WHERE id = $1`, unsent.ID).Scan(&unsentStatus, &unsentError))
	require.Equal(t, inbox.MediaDeleted, unsentStatus)
	require.Contains(t, unsentError, "never sent")
	require.Equal(t, 3, count(t, in, "messages WHERE media_id IS NOT NULL"), "messages are never deleted")
}

// TestMediaSendThroughUploadFaults: an upload to Meta that fails is retried and the message then
// goes, once; an upload Meta refuses fails the message with Meta's reason, and the conversation's
// next message goes after it.
func TestMediaSendThroughUploadFaults(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	tok := in.AdminToken()
	sim := in.Simulator()
	conv, _ := openConversation(t, in, tok, "16505558601")
	send := func(body map[string]any) int64 {
		var m struct {
			ID int64 `json:"id"`
		}
		body["client_id"] = uuid.NewString()
		in.Do("POST", fmt.Sprintf("/api/conversations/%d/messages", conv), tok, body, http.StatusAccepted, &m)
		return m.ID
	}
	image := func() string {
		var up mediaAnswer
		resp := upload(t, in, tok, conv, "image", "p.jpg", simulator.SampleMedia("image/jpeg"))
		require.Equal(t, http.StatusCreated, resp.Status, "%s", resp.Body)
		require.NoError(t, jsonUnmarshal(resp.Body, &up))
		return fmt.Sprint(up.ID)
	}
	sends := func(id int64) int {
		n := 0
		for _, s := range sim.Sends() {
			if s.BizOpaqueCallbackData == fmt.Sprint(id) && s.WAMessageID != "" {
				n++
			}
		}
		return n
	}

	sim.SetFaults(simulator.Faults{UploadFailNext: []int{131000, 500}})
	retried := send(map[string]any{"type": "image", "image": map[string]any{"id": image()}})
	require.NotEqual(t, "failed", waitSent(t, in, tok, retried).Status)
	require.Equal(t, 1, sends(retried), "sent once, after the upload went through")

	sim.SetFaults(simulator.Faults{UploadFailNext: []int{131053}})
	refused := send(map[string]any{"type": "image", "image": map[string]any{"id": image()}})
	after := send(map[string]any{"type": "text", "text": map[string]any{"body": "and a text after it"}})
	var failed struct {
		Status string `json:"status"`
		Error  struct {
			Code  int    `json:"code"`
			Title string `json:"title"`
		} `json:"error"`
	}
	require.Eventually(t, func() bool {
		in.Do("GET", fmt.Sprintf("/api/messages/%d", refused), tok, nil, http.StatusOK, &failed)
		return failed.Status == "failed"
	}, 30*time.Second, 20*time.Millisecond)
	require.Equal(t, 131053, failed.Error.Code, "Meta's reason")
	require.NotEmpty(t, failed.Error.Title)
	require.Zero(t, sends(refused))
	require.NotEqual(t, "failed", waitSent(t, in, tok, after).Status, "the next message is not held back")
}
