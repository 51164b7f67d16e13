package inbox

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/apperr"
	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/database"
	"github.com/wainbox/wainbox/internal/eventlog"
	"github.com/wainbox/wainbox/internal/media"
	"github.com/wainbox/wainbox/internal/waformat"
	"github.com/wainbox/wainbox/internal/whatsapp"
)

// QueueMedia is the queue of media transfers (fetching customers' files from Meta, uploading
// agents' files to Meta). They are long (up to 100 MB) and each holds a database connection while
// it streams into the store, so they have workers of their own, few of them, and never delay a
// send or a webhook.
const QueueMedia = "media"

// Statuses of a media file (media_files.status).
const (
	MediaPending = "pending" // an inbound file not fetched yet
	MediaStored  = "stored"
	MediaFailed  = "failed"  // fetching gave up; error says why
	MediaDeleted = "deleted" // its bytes were removed by the retention policy
)

// MaxInboundMediaBytes bounds a customer's file: WhatsApp's largest media (documents) are 100 MB.
const MaxInboundMediaBytes = waformat.MaxDocumentBytes

// WaMediaReuse is how long an id Meta gave an upload is reused. Meta keeps uploaded media for 30
// days; a day's margin keeps a send from carrying an id that expires on its way.
const WaMediaReuse = 29 * 24 * time.Hour

// Attempts of the media jobs. A customer's file is fetched for about a week (with the default
// backoff, jobs.MediaWorkerConfig), through any outage of ours or Meta's, for as long as Meta is
// likely to keep it; an id Meta no longer knows fails the file at once. An upload is tried for
// about an hour: agents are waiting for the message to leave.
const (
	FetchMediaMaxAttempts  = 180
	UploadMediaMaxAttempts = 12
)

// FetchMediaArgs is the fetch_media job: download a customer's file from Meta and store it. It is
// queued in the transaction that stores the message, so a stored media message always has its
// fetch coming.
type FetchMediaArgs struct {
	MediaID int64 `json:"media_id"`
}

// Kind is the River job kind.
func (FetchMediaArgs) Kind() string { return "fetch_media" }

// InsertOpts puts the job on the media queue.
func (FetchMediaArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueMedia, MaxAttempts: FetchMediaMaxAttempts}
}

// UploadMediaArgs is the upload_media job: upload an agent's file to Meta, which answers with the
// media id that the sends carrying the file name. The send jobs of those messages wait for it.
type UploadMediaArgs struct {
	MediaID int64 `json:"media_id"`
}

// Kind is the River job kind.
func (UploadMediaArgs) Kind() string { return "upload_media" }

// InsertOpts puts the job on the media queue, once per file at a time: messages sending the same
// file share one upload.
func (UploadMediaArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueMedia, Priority: PriorityAgent, MaxAttempts: UploadMediaMaxAttempts, UniqueOpts: river.UniqueOpts{
		ByArgs: true,
		ByState: []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
			rivertype.JobStateRetryable, rivertype.JobStateScheduled},
	}}
}

// inboundMedia is the kind and the media object of a customer's media message; nil when the
// message carries none.
func inboundMedia(m *whatsapp.InboundMessage) (string, *whatsapp.Media) {
	for kind, md := range map[string]*whatsapp.Media{
		waformat.TypeImage: m.Image, waformat.TypeVideo: m.Video, waformat.TypeAudio: m.Audio,
		waformat.TypeDocument: m.Document, waformat.TypeSticker: m.Sticker,
	} {
		if md != nil && md.ID != "" {
			return kind, md
		}
	}
	return "", nil
}

// receiveMediaTx records the file of a customer's media message just stored in tx and queues its
// fetch; a message without media changes nothing.
func (s *Service) receiveMediaTx(ctx context.Context, tx pgx.Tx, msg *db.Message, m *whatsapp.InboundMessage) error {
	kind, md := inboundMedia(m)
	if md == nil {
		return nil
	}
	// Recorded as sent, made storable: an odd value fails this file's fetch later, never the batch.
	waID := database.Text(md.ID, 512)
	f, err := s.q.MediaFileInsertInbound(ctx, tx, db.MediaFileInsertInboundParams{
		ConversationID: msg.ConversationID, Kind: kind, MimeType: database.Text(md.MimeType, 255),
		Filename: cleanFilename(md.Filename), WaMediaID: &waID, WaSha256: database.Text(md.SHA256, 255), MessageID: msg.ID,
	})
	if err != nil {
		return fmt.Errorf("error recording the file of message %d: %w", msg.ID, err)
	}
	msg.MediaID = &f.ID
	if _, err := s.queue.InsertTx(ctx, tx, FetchMediaArgs{MediaID: f.ID}, nil); err != nil {
		return fmt.Errorf("error queueing the fetch of file %d: %w", f.ID, err)
	}
	return nil
}

// UploadInput is a file an agent uploads to send in a conversation.
type UploadInput struct {
	ConversationID int64
	// Kind is the kind of message it will be sent as (image, video, audio, document, sticker);
	// empty: the kind its content says (waformat.MediaKindOf).
	Kind string
	// Filename is the name the customer sees on a document.
	Filename string
	Body     io.Reader
}

// Upload stores a file that p may send in a conversation, after checking its content (sniffed
// from its bytes, never the declared type) and size against what WhatsApp accepts for its kind:
// a refused file stores nothing. The bytes stream into the store; memory stays bounded.
func (s *Service) Upload(ctx context.Context, p *auth.Principal, in UploadInput) (db.MediaFile, error) {
	if s.media == nil {
		return db.MediaFile{}, errors.New("inbox: no media store is configured")
	}
	if in.Kind != "" && !waformat.IsMediaType(in.Kind) {
		return db.MediaFile{}, &apperr.FieldError{Field: "type", Message: fmt.Sprintf("%q is not a kind of media; use one of %s", in.Kind, strings.Join(waformat.MediaKinds, ", "))}
	}
	// Refuse before reading a byte when p may not send here (checked again when it is recorded).
	if err := s.mayUpload(ctx, s.pool, p, in.ConversationID); err != nil {
		return db.MediaFile{}, err
	}
	br := bufio.NewReaderSize(in.Body, media.SniffLen)
	head, err := br.Peek(media.SniffLen)
	if err != nil && !errors.Is(err, io.EOF) {
		return db.MediaFile{}, fmt.Errorf("error reading the upload: %w", err)
	}
	if len(head) == 0 {
		return db.MediaFile{}, &apperr.FieldError{Field: "file", Message: "is empty"}
	}
	mime := media.Sniff(head)
	kind := in.Kind
	if kind == "" {
		kind = waformat.MediaKindOf(mime)
	}
	limit, err := waformat.MediaLimit(kind, mime, head)
	if err != nil {
		return db.MediaFile{}, &apperr.FieldError{Field: "file", Message: err.Error()}
	}
	obj, err := s.media.Put(ctx, br, limit)
	if _, ok := errors.AsType[*media.TooLargeError](err); ok {
		return db.MediaFile{}, &apperr.TooLargeError{What: kind, Limit: limit}
	}
	if err != nil {
		return db.MediaFile{}, fmt.Errorf("error storing the upload: %w", err)
	}
	var f db.MediaFile
	err = database.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if err := s.mayUpload(ctx, tx, p, in.ConversationID); err != nil {
			return err
		}
		f, err = s.q.MediaFileInsertUpload(ctx, tx, db.MediaFileInsertUploadParams{
			ConversationID: in.ConversationID, Kind: kind, Sha256: obj.SHA256[:], Size: &obj.Size,
			MimeType: obj.MIME, Filename: cleanFilename(in.Filename), UploadedBy: userID(p.UserID),
		})
		if err != nil {
			return fmt.Errorf("error recording the upload: %w", err)
		}
		return nil
	})
	return f, err
}

// mayUpload decides whether p may send files in a conversation: as for sending a message.
func (s *Service) mayUpload(ctx context.Context, q db.DBTX, p *auth.Principal, conversationID int64) error {
	if p == nil {
		return errNoCaller
	}
	c, err := s.q.ConversationGet(ctx, q, conversationID)
	if err != nil {
		return notFound(err, "conversation", conversationID)
	}
	return authorize(p, &c.Conversation, true)
}

// OpenMedia opens the bytes of a file for p, who must be allowed to read its conversation: any
// other file does not exist for them. A file not stored (still being fetched, failed, deleted) is
// a conflict that says why.
func (s *Service) OpenMedia(ctx context.Context, p *auth.Principal, id int64) (io.ReadSeekCloser, db.MediaFile, error) {
	if p == nil {
		return nil, db.MediaFile{}, errNoCaller
	}
	row, err := s.q.MediaFileWithAccess(ctx, s.pool, id)
	if err != nil {
		return nil, db.MediaFile{}, notFound(err, "file", id)
	}
	f := row.MediaFile
	if !auth.CanReadConversation(p, auth.ConversationRef{AssigneeID: row.ConvAssigneeID, GroupID: row.ConvGroupID}) {
		return nil, db.MediaFile{}, apperr.NotFound("file", id)
	}
	switch f.Status {
	case MediaPending:
		return nil, f, apperr.Conflict("file %d is still being fetched from WhatsApp", id)
	case MediaFailed:
		return nil, f, apperr.Conflict("file %d could not be fetched from WhatsApp: %s", id, f.Error)
	case MediaDeleted:
		return nil, f, apperr.Conflict("file %d was deleted: %s", id, f.Error)
	}
	r, err := s.OpenStored(ctx, &f)
	return r, f, err
}

// MessageFiles returns the files of msgs by id, for messages the caller was allowed to read.
func (s *Service) MessageFiles(ctx context.Context, msgs ...*db.Message) (map[int64]db.MediaFile, error) {
	var ids []int64
	for _, m := range msgs {
		if m.MediaID != nil {
			ids = append(ids, *m.MediaID)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	files, err := s.q.MediaFilesByID(ctx, s.pool, ids)
	if err != nil {
		return nil, fmt.Errorf("error loading the files of %d messages: %w", len(ids), err)
	}
	byID := make(map[int64]db.MediaFile, len(files))
	for _, f := range files {
		byID[f.ID] = f
	}
	return byID, nil
}

// composeMedia checks a media message's object: its id must be a file uploaded to this
// conversation as this kind of media. It returns the stored object (the id left out: the send
// job sets Meta's id once the file is uploaded there) and the file.
func (s *Service) composeMedia(ctx context.Context, tx pgx.Tx, conversationID int64, m *waformat.Message) (*db.MediaFile, error) {
	md := map[string]*waformat.Media{
		waformat.TypeImage: m.Image, waformat.TypeVideo: m.Video, waformat.TypeAudio: m.Audio,
		waformat.TypeDocument: m.Document, waformat.TypeSticker: m.Sticker,
	}[m.Type]
	field := m.Type + ".id"
	if md.Link != "" {
		return nil, &apperr.FieldError{Field: m.Type + ".link", Message: "is not supported: upload the file (POST /api/conversations/{id}/media) and send its id, so a copy is kept"}
	}
	id, err := strconv.ParseInt(md.ID, 10, 64)
	if err != nil || id <= 0 {
		return nil, &apperr.FieldError{Field: field, Message: "must be the id of a file uploaded to this conversation (POST /api/conversations/{id}/media)"}
	}
	f, err := s.q.MediaFileGet(ctx, tx, id)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, &apperr.FieldError{Field: field, Message: "is not a file uploaded to this conversation"}
	case err != nil:
		return nil, fmt.Errorf("error loading file %d: %w", id, err)
	case f.ConversationID != conversationID || f.Direction != "out":
		return nil, &apperr.FieldError{Field: field, Message: "is not a file uploaded to this conversation"}
	case f.Status != MediaStored:
		return nil, &apperr.FieldError{Field: field, Message: "is a file that was deleted: " + f.Error}
	case f.Kind != m.Type:
		return nil, &apperr.FieldError{Field: field, Message: fmt.Sprintf("was uploaded as %s; send it as %s or upload it again as %s", f.Kind, f.Kind, m.Type)}
	}
	md.ID = ""
	if m.Type == waformat.TypeDocument && md.Filename == "" {
		md.Filename = f.Filename
	}
	return &f, nil
}

// queueUploadTx queues the upload of file f to Meta unless Meta has it already (an id it gave
// within WaMediaReuse).
func (s *Service) queueUploadTx(ctx context.Context, tx pgx.Tx, f *db.MediaFile) error {
	if WaMediaFresh(f, time.Now()) {
		return nil
	}
	if _, err := s.queue.InsertTx(ctx, tx, UploadMediaArgs{MediaID: f.ID}, nil); err != nil {
		return fmt.Errorf("error queueing the upload of file %d: %w", f.ID, err)
	}
	return nil
}

// WaMediaFresh reports whether Meta's id for an uploaded file may still be sent at now.
func WaMediaFresh(f *db.MediaFile, now time.Time) bool {
	return f.WaMediaID != nil && f.WaUploadedAt != nil && now.Sub(*f.WaUploadedAt) < WaMediaReuse
}

// EnsureUpload queues the upload of file id to Meta, unless it is queued or running already or
// Meta has a fresh id for it: a send that finds its file without one asks for it.
func (s *Service) EnsureUpload(ctx context.Context, id int64) error {
	return database.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		f, err := s.q.MediaFileGet(ctx, tx, id)
		if err != nil {
			return notFound(err, "file", id)
		}
		return s.queueUploadTx(ctx, tx, &f)
	})
}

// MediaUploadTarget is a file to upload to Meta with the phone number that will send it; the
// upload worker reads it without deciding any permission.
func (s *Service) MediaUploadTarget(ctx context.Context, id int64) (db.MediaFileUploadTargetRow, error) {
	row, err := s.q.MediaFileUploadTarget(ctx, s.pool, id)
	if err != nil {
		return row, notFound(err, "file", id)
	}
	return row, nil
}

// LoadMediaFile reads a file for the system's own work (the fetch and upload workers); it decides
// no permission.
func (s *Service) LoadMediaFile(ctx context.Context, id int64) (db.MediaFile, error) {
	f, err := s.q.MediaFileGet(ctx, s.pool, id)
	if err != nil {
		return f, notFound(err, "file", id)
	}
	return f, nil
}

// OpenStored opens the bytes of a stored file for the system's own work (an upload to Meta).
func (s *Service) OpenStored(ctx context.Context, f *db.MediaFile) (io.ReadSeekCloser, error) {
	if s.media == nil {
		return nil, errors.New("inbox: no media store is configured")
	}
	sum, err := fileSum(f)
	if err != nil {
		return nil, err
	}
	r, _, err := s.media.Open(ctx, sum)
	if err != nil {
		return nil, fmt.Errorf("error opening file %d: %w", f.ID, err)
	}
	return r, nil
}

// fileSum is the address of a stored file's bytes.
func fileSum(f *db.MediaFile) (media.Sum, error) {
	var sum media.Sum
	if len(f.Sha256) != len(sum) {
		return sum, fmt.Errorf("file %d has no stored bytes (status %s)", f.ID, f.Status)
	}
	copy(sum[:], f.Sha256)
	return sum, nil
}

// MediaUploaded keeps the id Meta gave an uploaded file.
func (s *Service) MediaUploaded(ctx context.Context, id int64, waMediaID string) error {
	if err := s.q.MediaFileSetWaMedia(ctx, s.pool, db.MediaFileSetWaMediaParams{ID: id, WaMediaID: &waMediaID}); err != nil {
		return fmt.Errorf("error recording the upload of file %d: %w", id, err)
	}
	return nil
}

// FailMediaSends fails the messages still waiting to be sent with file id: Meta refused the file,
// or its upload ran out of attempts. Each fails as a send does, visibly, and hands over to the
// next message of its conversation.
func (s *Service) FailMediaSends(ctx context.Context, id int64, f Failure) (int, error) {
	ids, err := s.q.MediaFilePendingSends(ctx, s.pool, &id)
	if err != nil {
		return 0, fmt.Errorf("error listing the sends of file %d: %w", id, err)
	}
	for _, msgID := range ids {
		if _, err := s.MarkFailed(ctx, msgID, f); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}

// MediaStored records the fetched bytes of a customer's file and tells the agents following its
// conversation. A file no longer pending (fetched by an earlier attempt that was thought lost)
// changes nothing.
func (s *Service) MediaStored(ctx context.Context, id int64, obj media.Object) error {
	return s.settleMedia(ctx, id, func(tx pgx.Tx) (db.MediaFile, error) {
		return s.q.MediaFileMarkStored(ctx, tx, db.MediaFileMarkStoredParams{ID: id, Sha256: obj.SHA256[:], Size: &obj.Size, MimeType: obj.MIME})
	})
}

// MediaFailed records that a customer's file cannot be fetched, and why.
func (s *Service) MediaFailed(ctx context.Context, id int64, reason string) error {
	return s.settleMedia(ctx, id, func(tx pgx.Tx) (db.MediaFile, error) {
		return s.q.MediaFileMarkFailed(ctx, tx, db.MediaFileMarkFailedParams{ID: id, Error: database.Text(reason, 1000)})
	})
}

// NoteMediaError notes why the last fetch of a pending file failed, for agents waiting on it.
func (s *Service) NoteMediaError(ctx context.Context, id int64, reason string) error {
	if err := s.q.MediaFileSetError(ctx, s.pool, db.MediaFileSetErrorParams{ID: id, Error: database.Text(reason, 1000)}); err != nil {
		return fmt.Errorf("error noting the fetch error of file %d: %w", id, err)
	}
	return nil
}

func (s *Service) settleMedia(ctx context.Context, id int64, update func(pgx.Tx) (db.MediaFile, error)) error {
	return database.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		f, err := s.q.MediaFileGetForUpdate(ctx, tx, id)
		if err != nil {
			return notFound(err, "file", id)
		}
		if f.Status != MediaPending {
			return nil
		}
		if f, err = update(tx); err != nil {
			return fmt.Errorf("error settling file %d: %w", id, err)
		}
		return s.mediaEventsTx(ctx, tx, &f)
	})
}

// mediaEventsTx writes message.media for each message carrying f.
func (s *Service) mediaEventsTx(ctx context.Context, tx pgx.Tx, f *db.MediaFile) error {
	msgs, err := s.q.MediaFileMessages(ctx, tx, &f.ID)
	if err != nil {
		return fmt.Errorf("error listing the messages of file %d: %w", f.ID, err)
	}
	for i := range msgs {
		err := s.events.Append(ctx, tx, eventlog.MessageMedia, msgs[i].ConversationID, map[string]any{
			"message_id": msgs[i].ID, "media": MediaEvent(f),
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// MediaEvent is a file as events carry it.
func MediaEvent(f *db.MediaFile) map[string]any {
	ev := map[string]any{"id": f.ID, "status": f.Status, "mime_type": f.MimeType, "size": f.Size}
	if f.Error != "" {
		ev["error"] = f.Error
	}
	return ev
}

// PruneMedia applies the retention policy (MEDIA_RETENTION): the bytes of files whose
// conversation has had no message since before, and of uploads never sent older than
// unsentBefore, are deleted (an object shared with a file that keeps it stays); the files and
// their messages stay, marked deleted. It returns how many files it deleted, at most limit.
func (s *Service) PruneMedia(ctx context.Context, before, unsentBefore time.Time, limit int32) (int, error) {
	if s.media == nil {
		return 0, nil
	}
	files, err := s.q.MediaFilesPastRetention(ctx, s.pool, db.MediaFilesPastRetentionParams{
		Before: before, UnsentBefore: unsentBefore, MaxRows: limit,
	})
	if err != nil {
		return 0, fmt.Errorf("error listing files past retention: %w", err)
	}
	for i := range files {
		f := &files[i]
		reason := "removed by the retention policy: the conversation had no message for the retention period"
		if f.Direction == "out" && f.CreatedAt.Before(unsentBefore) {
			reason = "removed: uploaded but never sent"
		}
		var shared bool
		err := database.InTx(ctx, s.pool, func(tx pgx.Tx) error {
			if shared, err = s.q.MediaFileSHA256InUse(ctx, tx, db.MediaFileSHA256InUseParams{Sha256: f.Sha256, ID: f.ID}); err != nil {
				return fmt.Errorf("error checking who else keeps file %d: %w", f.ID, err)
			}
			if err := s.q.MediaFileMarkDeleted(ctx, tx, db.MediaFileMarkDeletedParams{ID: f.ID, Error: reason}); err != nil {
				return fmt.Errorf("error marking file %d deleted: %w", f.ID, err)
			}
			f.Status, f.Error = MediaDeleted, reason
			return s.mediaEventsTx(ctx, tx, f)
		})
		if err != nil {
			return i, err
		}
		if shared {
			continue
		}
		// After the commit: a crash between the two leaves bytes nobody names, never a file
		// whose bytes are gone while it says stored.
		sum, err := fileSum(f)
		if err == nil {
			err = s.media.Delete(ctx, sum)
		}
		if err != nil {
			return i, fmt.Errorf("error deleting the bytes of file %d: %w", f.ID, err)
		}
	}
	return len(files), nil
}

// cleanFilename keeps the last element of a name a browser or a customer's phone gave, without
// control characters, at most 240 bytes.
func cleanFilename(name string) string {
	name = strings.ReplaceAll(name, "\\", "/")
	name = path.Base(strings.TrimSpace(name))
	if name == "." || name == "/" {
		return ""
	}
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, name)
	return database.Text(name, 240)
}
