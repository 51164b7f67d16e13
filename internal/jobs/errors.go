package jobs

import (
	"context"
	"log/slog"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// ErrorHandler logs job failures that workers did not handle themselves. Panics are logged with
// their stack; River then retries the job like any other error.
type ErrorHandler struct {
	Logger *slog.Logger
}

// HandleError implements river.ErrorHandler.
func (h *ErrorHandler) HandleError(ctx context.Context, job *rivertype.JobRow, err error) *river.ErrorHandlerResult {
	h.Logger.DebugContext(ctx, "job error", "job_id", job.ID, "kind", job.Kind, "attempt", job.Attempt, "error", err)
	return nil
}

// HandlePanic implements river.ErrorHandler.
func (h *ErrorHandler) HandlePanic(ctx context.Context, job *rivertype.JobRow, panicVal any, trace string) *river.ErrorHandlerResult {
	h.Logger.ErrorContext(ctx, "job panicked", "job_id", job.ID, "kind", job.Kind, "attempt", job.Attempt, "panic", panicVal, "stack", trace)
	return nil
}
