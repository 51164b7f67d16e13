package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/inbox"
	"github.com/wainbox/wainbox/internal/waformat"
)

// Files move through two routes that are not bound by HTTP_REQUEST_TIMEOUT and HTTP_BODY_TIMEOUT
// (a 100 MB document takes longer than an API call): the upload and the download each get
// MEDIA_TRANSFER_TIMEOUT instead (Config.MediaTimeout).

// maxUploadBytes bounds an upload's body: the largest file WhatsApp sends (a 100 MB document) and
// room for the multipart envelope.
const maxUploadBytes = waformat.MaxDocumentBytes + 1<<20

// mediaTransfer reports whether r moves a file (an upload or a download), which has its own
// deadlines.
func mediaTransfer(r *http.Request) bool {
	p := r.URL.Path
	return (r.Method == http.MethodGet && strings.HasPrefix(p, "/api/media/")) ||
		(r.Method == http.MethodPost && strings.HasPrefix(p, "/api/conversations/") && strings.HasSuffix(p, "/media"))
}

// mediaJSON is a message's file: where to read it and whether it is there yet.
type mediaJSON struct {
	ID     int64  `json:"id"`
	Kind   string `json:"kind"`
	Status string `json:"status"`
	// Error says why a file failed (or why it is still pending: the last attempt's error).
	Error    string `json:"error,omitempty"`
	MimeType string `json:"mime_type"`
	Size     *int64 `json:"size"`
	Filename string `json:"filename,omitempty"`
	// URL serves the bytes (GET, with the bearer token) once the status is stored.
	URL string `json:"url"`
}

// uploadJSON is the answer to an upload: the id to send the file with.
type uploadJSON struct {
	mediaJSON
	SHA256 string `json:"sha256"`
}

func mediaView(f *db.MediaFile) *mediaJSON {
	return &mediaJSON{
		ID: f.ID, Kind: f.Kind, Status: f.Status, Error: f.Error, MimeType: f.MimeType, Size: f.Size,
		Filename: f.Filename, URL: "/api/media/" + strconv.FormatInt(f.ID, 10),
	}
}

// messageViews renders messages with their files.
func (s *Server) messageViews(ctx context.Context, msgs ...*db.Message) ([]*messageJSON, error) {
	files, err := s.cfg.Inbox.MessageFiles(ctx, msgs...)
	if err != nil {
		return nil, err
	}
	views := make([]*messageJSON, len(msgs))
	for i, m := range msgs {
		views[i] = messageView(m)
		if m.MediaID != nil {
			if f, ok := files[*m.MediaID]; ok {
				views[i].Media = mediaView(&f)
			}
		}
	}
	return views, nil
}

// messageWithMedia renders one message with its file.
func (s *Server) messageWithMedia(ctx context.Context, m *db.Message) (*messageJSON, error) {
	views, err := s.messageViews(ctx, m)
	if err != nil {
		return nil, err
	}
	return views[0], nil
}

// uploadMedia stores a file to send in a conversation: multipart/form-data with the file in the
// part named "file" (and optionally "type" before it), or the raw bytes as the body with
// ?type= and ?filename=. The type is the kind of message it will be sent as; without one, the
// kind its content says. The content is sniffed from the bytes; the declared Content-Type is
// ignored.
func (s *Server) uploadMedia(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.MediaTimeout)
	defer cancel()
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.cfg.MediaTimeout))
	r.Body = http.MaxBytesReader(w, r.Body, maxUploadBytes)
	in := inbox.UploadInput{ConversationID: id, Kind: r.URL.Query().Get("type"), Filename: r.URL.Query().Get("filename"), Body: r.Body}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" {
		part, kind, err := filePart(w, r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		defer part.Close()
		in.Body, in.Filename = part, part.FileName()
		if kind != "" {
			in.Kind = kind
		}
	}
	f, err := s.cfg.Inbox.Upload(ctx, auth.FromContext(r.Context()), in)
	if err != nil {
		if tooLarge := (*http.MaxBytesError)(nil); errors.As(err, &tooLarge) {
			err = &apiError{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large", Message: fmt.Sprintf("the body exceeds %d bytes", maxUploadBytes)}
		}
		writeError(w, r, err)
		return
	}
	logger(r).Info("file uploaded", "media_id", f.ID, "conversation_id", id, "kind", f.Kind, "size", f.Size)
	writeJSON(w, http.StatusCreated, uploadJSON{mediaJSON: *mediaView(&f), SHA256: fmt.Sprintf("%x", f.Sha256)})
}

// filePart reads a multipart body up to its "file" part, taking a "type" part met before it.
func filePart(w http.ResponseWriter, r *http.Request) (*multipart.Part, string, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, "", errBadRequest("invalid_request", "the multipart body cannot be read: %v", err)
	}
	kind := ""
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, "", errBadRequest("invalid_request", `the multipart body has no part named "file"`)
		}
		if err != nil {
			return nil, "", bodyReadError(w, err)
		}
		switch part.FormName() {
		case "file":
			return part, kind, nil
		case "type":
			b, err := io.ReadAll(io.LimitReader(part, 64))
			if err != nil {
				return nil, "", bodyReadError(w, err)
			}
			kind = strings.TrimSpace(string(b))
		}
		_ = part.Close()
	}
}

// getMedia serves a file's bytes to a caller allowed to read its conversation: with its sniffed
// Content-Type, Range requests (audio and video seek), an ETag (its SHA-256: the bytes of a file
// never change) and nosniff. Images, audio and video are shown inline; anything else is an
// attachment, so a document is never rendered on wainbox's origin.
func (s *Server) getMedia(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.MediaTimeout)
	defer cancel()
	body, f, err := s.cfg.Inbox.OpenMedia(ctx, auth.FromContext(r.Context()), id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	defer body.Close()
	h := w.Header()
	h.Set("Content-Type", f.MimeType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("ETag", fmt.Sprintf(`"%x"`, f.Sha256))
	// Private: only this user may read it. Immutable: a file's bytes never change.
	h.Set("Cache-Control", "private, max-age=31536000, immutable")
	disposition := "attachment"
	if f.Kind == waformat.TypeImage || f.Kind == waformat.TypeAudio || f.Kind == waformat.TypeVideo || f.Kind == waformat.TypeSticker {
		disposition = "inline"
	}
	name := f.Filename
	if name == "" {
		name = fmt.Sprintf("%s-%d%s", f.Kind, f.ID, extension(f.MimeType))
	}
	h.Set("Content-Disposition", mime.FormatMediaType(disposition, map[string]string{"filename": name}))
	modified := time.Time{}
	if f.StoredAt != nil {
		modified = *f.StoredAt
	}
	http.ServeContent(w, r, "", modified, body)
}

// extension is a file name extension for a MIME type, for files that came without a name.
func extension(mimeType string) string {
	if exts, _ := mime.ExtensionsByType(mimeType); len(exts) > 0 {
		return exts[0]
	}
	return ""
}
