package inbox

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/db"
)

func TestNextStatusOnlyMovesForward(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1750030000, 0)
	at := func(s int) *time.Time { v := t0.Add(time.Duration(s) * time.Second); return &v }
	code := int32(131026)
	title := "Message undeliverable"
	tests := []struct {
		name    string
		msg     db.Message
		update  StatusUpdate
		outcome StatusOutcome
		status  string
		check   func(t *testing.T, p *statusColumns)
	}{
		{"sent to delivered", db.Message{Status: "sent", SentAt: at(0)}, StatusUpdate{Status: "delivered", At: *at(5)},
			StatusApplied, "delivered", func(t *testing.T, p *statusColumns) { require.Equal(t, at(5), p.DeliveredAt) }},
		{"sent to read skips delivered", db.Message{Status: "sent"}, StatusUpdate{Status: "read", At: *at(9)},
			StatusApplied, "read", func(t *testing.T, p *statusColumns) {
				require.Equal(t, at(9), p.ReadAt)
				require.Nil(t, p.DeliveredAt, "no timestamp is invented")
			}},
		{"delivered after read fills its time only", db.Message{Status: "read", ReadAt: at(9)}, StatusUpdate{Status: "delivered", At: *at(5)},
			StatusApplied, "read", func(t *testing.T, p *statusColumns) { require.Equal(t, at(5), p.DeliveredAt) }},
		{"sent after read keeps the earliest sent time", db.Message{Status: "read", SentAt: at(3)}, StatusUpdate{Status: "sent", At: *at(1)},
			StatusApplied, "read", func(t *testing.T, p *statusColumns) { require.Equal(t, at(1), p.SentAt) }},
		{"duplicate read", db.Message{Status: "read", ReadAt: at(9)}, StatusUpdate{Status: "read", At: *at(10)}, StatusUnchanged, "read", nil},
		{"late sent already recorded", db.Message{Status: "delivered", SentAt: at(0)}, StatusUpdate{Status: "sent", At: *at(0)}, StatusUnchanged, "delivered", nil},
		{"failed after sent", db.Message{Status: "sent"}, StatusUpdate{Status: "failed", At: *at(4), ErrorCode: 131026, ErrorTitle: title, ErrorDetails: "d"},
			StatusApplied, "failed", func(t *testing.T, p *statusColumns) {
				require.Equal(t, at(4), p.FailedAt)
				require.Equal(t, &code, p.ErrorCode)
				require.Equal(t, title, *p.ErrorTitle)
				require.Equal(t, "d", *p.ErrorDetails)
			}},
		{"delivered after failed", db.Message{Status: "failed"}, StatusUpdate{Status: "delivered", At: *at(5)}, StatusIgnored, "failed", nil},
		{"read after failed", db.Message{Status: "failed"}, StatusUpdate{Status: "read", At: *at(5)}, StatusIgnored, "failed", nil},
		{"failed twice", db.Message{Status: "failed"}, StatusUpdate{Status: "failed", At: *at(5)}, StatusUnchanged, "failed", nil},
		{"failed after delivered", db.Message{Status: "delivered"}, StatusUpdate{Status: "failed", At: *at(5)}, StatusIgnored, "delivered", nil},
		{"failed after read", db.Message{Status: "read"}, StatusUpdate{Status: "failed", At: *at(5)}, StatusIgnored, "read", nil},
		{"an earlier send's status on a requeued message", db.Message{Status: "pending"}, StatusUpdate{Status: "read", At: *at(5)}, StatusIgnored, "pending", nil},
		{"error code beyond int32 is dropped", db.Message{Status: "sent"}, StatusUpdate{Status: "failed", At: *at(4), ErrorCode: 1 << 40},
			StatusApplied, "failed", func(t *testing.T, p *statusColumns) { require.Nil(t, p.ErrorCode) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.msg.Direction = "out"
			p, outcome, reason := nextStatus(&tt.msg, &tt.update)
			require.Equal(t, tt.outcome, outcome)
			require.Equal(t, tt.status, p.Status)
			if outcome == StatusIgnored {
				require.NotEmpty(t, reason)
			}
			if tt.check != nil {
				tt.check(t, &p)
			}
		})
	}
	in := db.Message{Direction: "in", Status: "received"}
	_, outcome, _ := nextStatus(&in, &StatusUpdate{Status: "read", At: t0})
	require.Equal(t, StatusIgnored, outcome, "a customer's message has no delivery statuses")
}

func TestStatusUpdateValidation(t *testing.T) {
	t.Parallel()
	for _, u := range []StatusUpdate{
		{WaMessageID: "w", Status: "played"},
		{WaMessageID: "w", Status: ""},
		{WaMessageID: "", Status: "read"},
		{WaMessageID: string(make([]byte, 600)), Status: "read"},
	} {
		require.Error(t, u.Validate(), "%+v", u.Status)
	}
	require.NoError(t, (&StatusUpdate{WaMessageID: "w", Status: "read"}).Validate())
}
