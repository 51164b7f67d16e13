package jobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/wainbox/wainbox/internal/apperr"
	"github.com/wainbox/wainbox/internal/inbox"
	"github.com/wainbox/wainbox/internal/media"
	"github.com/wainbox/wainbox/internal/waformat"
	"github.com/wainbox/wainbox/internal/whatsapp"
)

// Media transfers. A file is up to 100 MB, so an attempt may take minutes: the media jobs have a
// Timeout of their own (MediaWorkerConfig.Timeout), and the Rescuer waits for it before it
// takes such a job back from a dead instance. Both transfers are safe to run twice: the store is
// content-addressed, a file settles once, and an upload Meta got twice only leaves an unused id.
//
// With the default MEDIA_RETRY_BASE (5 s) doubling up to mediaRetryMax, a fetch's attempts
// (inbox.FetchMediaMaxAttempts) span about a week and an upload's about an hour.
const mediaRetryMax = time.Hour

// errChecksum refuses downloaded bytes whose SHA-256 is not the one Meta announced.
var errChecksum = errors.New("the downloaded bytes do not have the SHA-256 Meta announced")

// MediaWorkerConfig configures the fetch_media and upload_media workers.
type MediaWorkerConfig struct {
	Inbox    *inbox.Service
	WhatsApp *whatsapp.Client
	Store    media.Store
	// Timeout bounds one attempt (MEDIA_TRANSFER_TIMEOUT; required).
	Timeout time.Duration
	// RetryBase is the first backoff after a failed transfer, doubling up to an hour
	// (MEDIA_RETRY_BASE; required).
	RetryBase time.Duration
	Logger    *slog.Logger
}

func (c *MediaWorkerConfig) check() error {
	if c.Inbox == nil || c.WhatsApp == nil || c.Store == nil {
		return errors.New("jobs: the media workers need the inbox, the WhatsApp client and the media store")
	}
	if c.Timeout <= 0 || c.RetryBase <= 0 {
		return errors.New("jobs: the media workers need a positive Timeout and RetryBase")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// FetchMediaWorker works fetch_media jobs: it asks Meta where a customer's file is, downloads
// it with the access token straight into the store (checking Meta's SHA-256 before the store
// keeps it) and records the outcome on the file, which agents see as media.status.
type FetchMediaWorker struct {
	river.WorkerDefaults[inbox.FetchMediaArgs]
	cfg   MediaWorkerConfig
	retry *RetryPolicy
}

// NewFetchMediaWorker validates cfg and returns the fetch_media worker.
func NewFetchMediaWorker(cfg *MediaWorkerConfig) (*FetchMediaWorker, error) {
	w := &FetchMediaWorker{cfg: *cfg}
	if err := w.cfg.check(); err != nil {
		return nil, err
	}
	w.retry = &RetryPolicy{Base: cfg.RetryBase, Max: mediaRetryMax}
	return w, nil
}

// Timeout bounds one attempt: a whole download.
func (w *FetchMediaWorker) Timeout(*river.Job[inbox.FetchMediaArgs]) time.Duration {
	return w.cfg.Timeout
}

// NextRetry backs off from RetryBase up to an hour.
func (w *FetchMediaWorker) NextRetry(job *river.Job[inbox.FetchMediaArgs]) time.Time {
	return w.retry.NextRetry(job.JobRow)
}

// Work fetches the file once. A failure that may pass (Meta or the network down, an expired
// download URL, bytes that do not match Meta's digest) is noted on the file and retried; one that
// cannot (Meta no longer knows the id, a file over 100 MB) fails the file with its reason, as does
// the last attempt.
func (w *FetchMediaWorker) Work(ctx context.Context, job *river.Job[inbox.FetchMediaArgs]) error {
	id := job.Args.MediaID
	log := w.cfg.Logger.With("media_id", id, "job_id", job.ID, "attempt", job.Attempt)
	f, err := w.cfg.Inbox.LoadMediaFile(ctx, id)
	if _, ok := errors.AsType[*apperr.NotFoundError](err); ok {
		return river.JobCancel(err)
	}
	if err != nil {
		return err
	}
	if f.Status != inbox.MediaPending || f.WaMediaID == nil {
		return nil
	}
	obj, err := w.fetch(ctx, *f.WaMediaID, f.WaSha256)
	if err == nil {
		if err := w.cfg.Inbox.MediaStored(ctx, id, obj); err != nil {
			return err
		}
		log.Info("media stored", "size", obj.Size, "mime_type", obj.MIME)
		return nil
	}
	reason := fetchFailure(err)
	if whatsapp.Classify(err) == whatsapp.ClassPermanent || job.Attempt >= job.MaxAttempts {
		log.Warn("media fetch failed for good", "error", err)
		if err := w.cfg.Inbox.MediaFailed(ctx, id, reason); err != nil {
			return err
		}
		return river.JobCancel(err)
	}
	log.Warn("media fetch failed; River will retry", "error", err)
	if nerr := w.cfg.Inbox.NoteMediaError(ctx, id, reason); nerr != nil {
		log.Warn("could not note the fetch error", "error", nerr)
	}
	return fmt.Errorf("error fetching file %d: %w", id, err)
}

// fetch downloads Meta's media waID into the store. The download writes into a pipe the store
// reads from; the pipe reports the end of the bytes only once their digest matched, so bytes that
// do not match (or are cut short) fail the put and are never kept.
func (w *FetchMediaWorker) fetch(ctx context.Context, waID, announced string) (media.Object, error) {
	info, err := w.cfg.WhatsApp.MediaInfo(ctx, waID)
	if err != nil {
		return media.Object{}, err
	}
	if info.FileSize > inbox.MaxInboundMediaBytes {
		return media.Object{}, fmt.Errorf("%w: Meta says the file has %d bytes", whatsapp.ErrMediaTooLarge, info.FileSize)
	}
	if announced == "" {
		announced = info.SHA256
	}
	pr, pw := io.Pipe()
	downloaded := make(chan error, 1)
	go func() {
		res, err := w.cfg.WhatsApp.Download(ctx, info.URL, pw, inbox.MaxInboundMediaBytes)
		if err == nil && announced != "" && !res.Matches(announced) {
			err = errChecksum
		}
		pw.CloseWithError(err) // nil: the reader sees the end of the file
		downloaded <- err
	}()
	obj, putErr := w.cfg.Store.Put(ctx, pr, inbox.MaxInboundMediaBytes)
	// A put that stopped early (the database failed) must not leave the download blocked on the pipe.
	pr.CloseWithError(errors.New("the store stopped reading"))
	dlErr := <-downloaded
	switch {
	case dlErr != nil:
		return media.Object{}, dlErr
	case putErr != nil:
		return media.Object{}, fmt.Errorf("error storing the file: %w", putErr)
	}
	return obj, nil
}

// fetchFailure is why a fetch failed, for agents: no URL, token or internal error text.
func fetchFailure(err error) string {
	switch {
	case errors.Is(err, whatsapp.ErrMediaNotFound):
		return "WhatsApp no longer has this file (its media id expired or is unknown)"
	case errors.Is(err, whatsapp.ErrMediaTooLarge):
		return "the file is larger than the 100 MB WhatsApp allows"
	case errors.Is(err, errChecksum):
		return "the downloaded file did not match its SHA-256 checksum"
	case errors.Is(err, whatsapp.ErrMediaURLExpired):
		return "the download link expired before the file arrived"
	}
	var apiErr *whatsapp.APIError
	if errors.As(err, &apiErr) {
		return "WhatsApp refused the download: " + apiErr.Message + " (code " + strconv.Itoa(apiErr.Code) + ")"
	}
	return "the download did not complete (network or WhatsApp unavailable)"
}

// UploadMediaWorker works upload_media jobs: it uploads an agent's file to Meta and keeps the id
// Meta gives it, which the waiting send jobs of its messages then send. A file Meta refuses (or
// whose attempts run out) fails those messages with the reason.
type UploadMediaWorker struct {
	river.WorkerDefaults[inbox.UploadMediaArgs]
	cfg   MediaWorkerConfig
	retry *RetryPolicy
}

// NewUploadMediaWorker validates cfg and returns the upload_media worker.
func NewUploadMediaWorker(cfg *MediaWorkerConfig) (*UploadMediaWorker, error) {
	w := &UploadMediaWorker{cfg: *cfg}
	if err := w.cfg.check(); err != nil {
		return nil, err
	}
	w.retry = &RetryPolicy{Base: cfg.RetryBase, Max: 10 * time.Minute}
	return w, nil
}

// Timeout bounds one attempt: a whole upload.
func (w *UploadMediaWorker) Timeout(*river.Job[inbox.UploadMediaArgs]) time.Duration {
	return w.cfg.Timeout
}

// NextRetry backs off from RetryBase up to ten minutes.
func (w *UploadMediaWorker) NextRetry(job *river.Job[inbox.UploadMediaArgs]) time.Time {
	return w.retry.NextRetry(job.JobRow)
}

// Work uploads the file unless Meta has a fresh id for it already.
func (w *UploadMediaWorker) Work(ctx context.Context, job *river.Job[inbox.UploadMediaArgs]) error {
	id := job.Args.MediaID
	log := w.cfg.Logger.With("media_id", id, "job_id", job.ID, "attempt", job.Attempt)
	t, err := w.cfg.Inbox.MediaUploadTarget(ctx, id)
	if _, ok := errors.AsType[*apperr.NotFoundError](err); ok {
		return river.JobCancel(err)
	}
	if err != nil {
		return err
	}
	f := &t.MediaFile
	if inbox.WaMediaFresh(f, time.Now()) {
		return nil
	}
	if f.Status != inbox.MediaStored {
		return w.failSends(ctx, id, inbox.Failure{Title: "The file was deleted before it was sent", Err: f.Error}, log)
	}
	r, err := w.cfg.Inbox.OpenStored(ctx, f)
	if err != nil {
		return err
	}
	waID, upErr := w.cfg.WhatsApp.UploadMedia(ctx, t.PhoneNumberID, waformat.MetaMediaType(f.MimeType), f.Filename, r)
	_ = r.Close()
	if upErr == nil {
		if err := w.cfg.Inbox.MediaUploaded(ctx, id, waID); err != nil {
			return err
		}
		log.Info("media uploaded to Meta", "wa_media_id", waID)
		return nil
	}
	class := whatsapp.Classify(upErr)
	if class == whatsapp.ClassPermanent || class == whatsapp.ClassStopNumber || job.Attempt >= job.MaxAttempts {
		log.Warn("media upload failed for good; its messages fail", "error", upErr)
		fail := failure(asAPIError(upErr), upErr)
		if fail.Title == "" {
			fail.Title = "The file could not be uploaded to WhatsApp"
		}
		if err := w.failSends(ctx, id, fail, log); err != nil {
			return err
		}
		return river.JobCancel(upErr)
	}
	log.Warn("media upload failed; River will retry", "error", upErr)
	return fmt.Errorf("error uploading file %d: %w", id, upErr)
}

func (w *UploadMediaWorker) failSends(ctx context.Context, id int64, f inbox.Failure, log *slog.Logger) error {
	n, err := w.cfg.Inbox.FailMediaSends(ctx, id, f)
	if err != nil {
		return err
	}
	log.Warn("messages failed with their file", "messages", n, "title", f.Title)
	return nil
}

func asAPIError(err error) *whatsapp.APIError {
	var apiErr *whatsapp.APIError
	errors.As(err, &apiErr)
	return apiErr
}

// Media retention.
const (
	// MediaRetentionInterval is how often the leader applies the retention policy.
	MediaRetentionInterval = time.Hour
	// UnsentUploadRetention is how long an upload never sent is kept: an agent who attached a
	// file and then did not send it has long moved on.
	UnsentUploadRetention = 24 * time.Hour
	mediaRetentionBatch   = 500
)

// MediaRetentionArgs is the periodic media_retention job.
type MediaRetentionArgs struct{}

// Kind is the River job kind.
func (MediaRetentionArgs) Kind() string { return "media_retention" }

// InsertOpts keeps one media_retention job queued or running at a time.
func (MediaRetentionArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateRetryable, rivertype.JobStateScheduled,
	}}}
}

// PeriodicMediaRetention queues MediaRetentionArgs every MediaRetentionInterval (and at start).
func PeriodicMediaRetention() *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(MediaRetentionInterval),
		func() (river.JobArgs, *river.InsertOpts) { return MediaRetentionArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true})
}

// MediaRetentionWorker deletes the bytes of files past the retention policy (MEDIA_RETENTION;
// 0 keeps them forever) and of uploads never sent.
type MediaRetentionWorker struct {
	river.WorkerDefaults[MediaRetentionArgs]
	inbox     *inbox.Service
	retention time.Duration
	logger    *slog.Logger
	now       func() time.Time
}

// NewMediaRetentionWorker returns the media_retention worker; retention 0 keeps media forever.
func NewMediaRetentionWorker(in *inbox.Service, retention time.Duration, logger *slog.Logger) *MediaRetentionWorker {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &MediaRetentionWorker{inbox: in, retention: retention, logger: logger, now: time.Now}
}

// Work deletes in batches until nothing is past retention or the attempt's time is nearly up.
func (w *MediaRetentionWorker) Work(ctx context.Context, _ *river.Job[MediaRetentionArgs]) error {
	now := w.now()
	before := time.Time{} // keep: nothing is older than the zero time
	if w.retention > 0 {
		before = now.Add(-w.retention)
	}
	total := 0
	for ctx.Err() == nil {
		n, err := w.inbox.PruneMedia(ctx, before, now.Add(-UnsentUploadRetention), mediaRetentionBatch)
		total += n
		if err != nil {
			return err
		}
		if n < mediaRetentionBatch {
			break
		}
	}
	if total > 0 {
		w.logger.Info("media past retention deleted", "files", total)
	}
	return nil
}
