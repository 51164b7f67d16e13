package templates

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/database"
	"github.com/wainbox/wainbox/internal/dbtest"
	"github.com/wainbox/wainbox/internal/simulator"
	"github.com/wainbox/wainbox/internal/waformat"
	"github.com/wainbox/wainbox/internal/whatsapp"
)

const testWABA = "102290129340398"

func newService(t *testing.T) *Service {
	t.Helper()
	pool, _ := dbtest.New(t)
	sim, err := simulator.New(&simulator.Config{AccessToken: "token", BusinessAccountID: testWABA})
	require.NoError(t, err)
	t.Cleanup(sim.Close)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	wa, err := whatsapp.NewClient(&whatsapp.Config{BaseURL: srv.URL + "/simulator/graph", AccessToken: "token"})
	require.NoError(t, err)
	s, err := New(&Config{Pool: pool, Graph: wa, WABAID: testWABA})
	require.NoError(t, err)
	return s
}

// A sync copies every template from Meta; a page it read before a status webhook arrived does not
// undo the webhook's newer status, and the next sync brings Meta's current state.
func TestASyncDoesNotUndoANewerStatusWebhook(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newService(t)
	res, err := s.Sync(ctx)
	require.NoError(t, err)
	require.Positive(t, res.Seen)
	hello, err := s.q.TemplateGetByName(ctx, s.pool, templateKey("hello_world"))
	require.NoError(t, err)
	require.Equal(t, "APPROVED", hello.Status)

	// A sync starts and reads the page (APPROVED); Meta pauses the template and its webhook is
	// applied; then the sync stores what it read.
	started := time.Now()
	tmpl, err := Template(&hello)
	require.NoError(t, err)
	require.NoError(t, database.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		known, err := s.ApplyStatusTx(ctx, tx, &StatusUpdate{MetaID: hello.MetaID, Event: "PAUSED", Reason: "LOW_QUALITY"})
		require.True(t, known)
		return err
	}))
	stale := *tmpl
	stale.Status = waformat.StatusApproved
	stored, err := s.store(ctx, s.pool, &stale, started)
	require.NoError(t, err)
	require.Equal(t, "PAUSED", stored.Status, "the webhook's status is newer than the page")
	require.Equal(t, "LOW_QUALITY", stored.RejectedReason)

	// A sync that starts after the webhook takes Meta's state as it is.
	_, err = s.store(ctx, s.pool, &stale, time.Now())
	require.NoError(t, err)
	row, err := s.q.TemplateGetByName(ctx, s.pool, templateKey("hello_world"))
	require.NoError(t, err)
	require.Equal(t, "APPROVED", row.Status)
}

func templateKey(name string) db.TemplateGetByNameParams {
	return db.TemplateGetByNameParams{WabaID: testWABA, Name: name, Language: "en_US"}
}
