package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/apptest"
	"github.com/wainbox/wainbox/internal/simulator"
)

type message struct {
	ID             int64   `json:"id"`
	ConversationID int64   `json:"conversation_id"`
	Status         string  `json:"status"`
	Body           string  `json:"body"`
	Sender         string  `json:"sender"`
	WaMessageID    *string `json:"wa_message_id"`
	Attempts       int     `json:"attempts"`
	Error          *struct {
		Code  *int    `json:"code"`
		Title *string `json:"title"`
	} `json:"error"`
}

type startAnswer struct {
	Conversation struct {
		ID      int64 `json:"id"`
		Contact struct {
			WaID string `json:"wa_id"`
		} `json:"contact"`
	} `json:"conversation"`
	Message message `json:"message"`
}

func textBody(clientID, text string) map[string]any {
	return map[string]any{"client_id": clientID, "type": "text", "text": map[string]any{"body": text}}
}

// startConversation opens a conversation with a customer through the API and returns its id.
func startConversation(t *testing.T, in *apptest.Instance, token, waID string) (int64, message) {
	t.Helper()
	in.CustomerWrote(waID, time.Now())
	body := textBody(uuid.NewString(), "Hello from the shop")
	body["wa_id"] = waID
	var ans startAnswer
	in.Do("POST", "/api/conversations", token, body, http.StatusAccepted, &ans)
	require.Equal(t, waID, ans.Conversation.Contact.WaID)
	return ans.Conversation.ID, ans.Message
}

// waitStatus waits until message id has status want, or for sent and delivered, a later tick: the
// simulator's status webhooks move a sent message on to delivered and read within tens of
// milliseconds, which a poll can miss.
func waitStatus(t *testing.T, in *apptest.Instance, token string, id int64, want string) message {
	t.Helper()
	ticks := map[string]int{"sent": 1, "delivered": 2, "read": 3}
	var m message
	require.Eventually(t, func() bool {
		// No require in here: Eventually runs this on another goroutine.
		resp := in.Request("GET", fmt.Sprintf("/api/messages/%d", id), token, nil)
		if resp.Status != http.StatusOK || jsonUnmarshal(resp.Body, &m) != nil {
			return false
		}
		return m.Status == want || (ticks[want] > 0 && ticks[m.Status] > ticks[want])
	}, 30*time.Second, 20*time.Millisecond, "message %d never became %s", id, want)
	return m
}

// waitSettled waits until the instance's only sent message is read and the simulator's three
// status webhooks (sent, delivered, read) are all processed, so that nothing writes any more.
// Seeing "read" is not enough: the webhooks are processed concurrently, and a "delivered" applied
// after "read" still records its timestamp (and an event).
func waitSettled(t *testing.T, in *apptest.Instance, token string, id int64) {
	t.Helper()
	waitStatus(t, in, token, id, "read")
	require.Eventually(t, func() bool {
		var processed int
		err := in.Pool().QueryRow(context.Background(),
			"SELECT count(*) FROM webhook_events WHERE processed_at IS NOT NULL").Scan(&processed)
		return err == nil && processed == 3
	}, 30*time.Second, 20*time.Millisecond, "the status webhooks were never all processed")
}

// sendJobs counts send jobs only: the simulator's status webhooks queue jobs of their own.
const sendJobs = "river_job WHERE kind = 'send_message'"

func count(t *testing.T, in *apptest.Instance, table string) int {
	t.Helper()
	var n int
	require.NoError(t, in.Pool().QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n))
	return n
}

func TestSendMessageIsStoredQueuedAndSent(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	tok := in.AdminToken()

	convID, first := startConversation(t, in, tok, "16505551234")
	require.Equal(t, "pending", first.Status)

	var m message
	in.Do("POST", fmt.Sprintf("/api/conversations/%d/messages", convID), tok, textBody(uuid.NewString(), "Your order shipped"), http.StatusAccepted, &m)
	require.Equal(t, "pending", m.Status)
	require.Equal(t, "agent", m.Sender)

	sent := waitStatus(t, in, tok, m.ID, "sent")
	require.NotNil(t, sent.WaMessageID)
	require.Equal(t, 1, sent.Attempts)

	sends, err := in.Simulator().WaitForSends(context.Background(), 2)
	require.NoError(t, err)
	var got simulator.Send
	for _, s := range sends {
		if s.WAMessageID == *sent.WaMessageID {
			got = s
		}
	}
	require.Equal(t, "16505551234", got.To)
	require.Equal(t, "Your order shipped", got.Body)
	require.Equal(t, fmt.Sprint(m.ID), got.BizOpaqueCallbackData)

	// The conversation lists both messages, newest first.
	var page struct {
		Data       []message `json:"data"`
		NextCursor *string   `json:"next_cursor"`
	}
	in.Do("GET", fmt.Sprintf("/api/conversations/%d/messages?limit=1", convID), tok, nil, http.StatusOK, &page)
	require.Len(t, page.Data, 1)
	require.Equal(t, m.ID, page.Data[0].ID)
	require.NotNil(t, page.NextCursor)
	in.Do("GET", fmt.Sprintf("/api/conversations/%d/messages?limit=1&cursor=%s", convID, *page.NextCursor), tok, nil, http.StatusOK, &page)
	require.Len(t, page.Data, 1)
	require.Equal(t, first.ID, page.Data[0].ID)
}

func TestSendIsAtomicWhenTheJobInsertFails(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	tok := in.AdminToken()
	convID, first := startConversation(t, in, tok, "16505550001")
	waitSettled(t, in, tok, first.ID)
	ctx := context.Background()
	messagesBefore, eventsBefore := count(t, in, "messages"), count(t, in, "events")

	// A trigger makes River's job insert fail inside the send transaction.
	_, err := in.Pool().Exec(ctx, `
		CREATE FUNCTION refuse_job() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'job insert refused by test'; END $$;
		CREATE TRIGGER refuse_job BEFORE INSERT ON river_job FOR EACH ROW EXECUTE FUNCTION refuse_job();`)
	require.NoError(t, err)

	resp := in.Request("POST", fmt.Sprintf("/api/conversations/%d/messages", convID), tok, textBody(uuid.NewString(), "lost?"))
	require.Equal(t, http.StatusInternalServerError, resp.Status)
	require.Contains(t, string(resp.Body), `"internal_error"`)
	require.NotContains(t, string(resp.Body), "refused by test", "internal error text must not reach the client")

	require.Equal(t, messagesBefore, count(t, in, "messages"), "no message row without its job")
	require.Equal(t, eventsBefore, count(t, in, "events"))
}

func TestSendIsIdempotentOnClientID(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	tok := in.AdminToken()
	convID, first := startConversation(t, in, tok, "16505550002")
	path := fmt.Sprintf("/api/conversations/%d/messages", convID)
	// The first message is sent before counting: a message written while an earlier one of its
	// conversation is pending waits for it, and the hand-over queues its send as a second job.
	waitStatus(t, in, tok, first.ID, "sent")
	jobsBefore := count(t, in, sendJobs)

	// Twenty concurrent requests with one client_id: one message, one job, and every answer is it.
	clientID := uuid.NewString()
	const n = 20
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		ids      = map[int64]int{}
		statuses = map[int]int{}
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var m message
			resp := in.Request("POST", path, tok, textBody(clientID, "only once"))
			require.NoError(t, jsonUnmarshal(resp.Body, &m))
			mu.Lock()
			ids[m.ID]++
			statuses[resp.Status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	require.Len(t, ids, 1, "all answers carry the same message")
	require.Equal(t, 1, statuses[http.StatusAccepted])
	require.Equal(t, n-1, statuses[http.StatusOK])
	var rows int
	require.NoError(t, in.Pool().QueryRow(context.Background(), "SELECT count(*) FROM messages WHERE client_id = $1", clientID).Scan(&rows))
	require.Equal(t, 1, rows)
	require.Equal(t, jobsBefore+1, count(t, in, sendJobs))

	// Later repeats still answer 200 with the first message; the same key for other content is a 409.
	var again message
	in.Do("POST", path, tok, textBody(clientID, "only once"), http.StatusOK, &again)
	for id := range ids {
		require.Equal(t, id, again.ID)
	}
	resp := in.Request("POST", path, tok, textBody(clientID, "something else"))
	require.Equal(t, http.StatusConflict, resp.Status, "%s", resp.Body)

	// client_id is unique per sender: another agent may use the same UUID.
	_, other := in.CreateUser("agent2@example.com", "agent")
	in.Do("POST", path, other, textBody(clientID, "only once"), http.StatusAccepted, nil)
}

func TestSendWorkerRetriesTransientErrors(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	tok := in.AdminToken()
	convID, first := startConversation(t, in, tok, "16505550003")
	waitStatus(t, in, tok, first.ID, "sent")

	in.Simulator().SetFaults(simulator.Faults{FailNext: []int{131000, 133004}})
	var m message
	in.Do("POST", fmt.Sprintf("/api/conversations/%d/messages", convID), tok, textBody(uuid.NewString(), "third time lucky"), http.StatusAccepted, &m)
	sent := waitStatus(t, in, tok, m.ID, "sent")
	require.Equal(t, 3, sent.Attempts)
	require.Nil(t, sent.Error)
}

func TestSendWorkerFailsPermanentErrorsAtOnce(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	tok := in.AdminToken()
	in.Simulator().SetFaults(simulator.Faults{FailNext: []int{131026}})
	_, m := startConversation(t, in, tok, "16505550004")

	failed := waitStatus(t, in, tok, m.ID, "failed")
	require.NotNil(t, failed.Error)
	require.Equal(t, 131026, *failed.Error.Code)
	require.NotEmpty(t, *failed.Error.Title)
	require.Equal(t, 1, failed.Attempts)

	// The job was cancelled, not retried: Meta saw exactly one attempt.
	require.Eventually(t, func() bool { return onlySendJob(t, in).State == rivertype.JobStateCancelled },
		10*time.Second, 20*time.Millisecond)
	require.Len(t, in.Simulator().Sends(), 1)
}

func TestSendWorkerDiscardsAfterLastAttemptAndRetryEndpointResends(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, &apptest.Options{Env: map[string]string{"SEND_MAX_ATTEMPTS": "2"}})
	tok := in.AdminToken()
	in.Simulator().SetFaults(simulator.Faults{FailNext: []int{133004, 131000}})
	_, m := startConversation(t, in, tok, "16505550005")

	failed := waitStatus(t, in, tok, m.ID, "failed")
	require.Equal(t, 2, failed.Attempts)
	require.NotNil(t, failed.Error)
	require.Equal(t, 131000, *failed.Error.Code)
	require.Eventually(t, func() bool { return onlySendJob(t, in).State == rivertype.JobStateDiscarded },
		10*time.Second, 20*time.Millisecond, "the job is the dead letter")

	// Retry from the API: a new send, and the message follows to sent.
	var retried message
	in.Do("POST", fmt.Sprintf("/api/messages/%d/retry", m.ID), tok, nil, http.StatusAccepted, &retried)
	require.Equal(t, "pending", retried.Status)
	sent := waitStatus(t, in, tok, m.ID, "sent")
	require.Nil(t, sent.Error)

	// Retrying a message that is not failed is a conflict; an unknown one is not found.
	resp := in.Request("POST", fmt.Sprintf("/api/messages/%d/retry", m.ID), tok, nil)
	require.Equal(t, http.StatusConflict, resp.Status)
	resp = in.Request("POST", "/api/messages/999999/retry", tok, nil)
	require.Equal(t, http.StatusNotFound, resp.Status)

	// Retrying the old discarded job from River UI does not send the message a second time.
	sendsBefore := len(in.Simulator().Sends())
	var discarded *rivertype.JobRow
	jobs, err := in.River().JobList(context.Background(), river.NewJobListParams().Kinds("send_message").States(rivertype.JobStateDiscarded))
	require.NoError(t, err)
	require.Len(t, jobs.Jobs, 1)
	discarded = jobs.Jobs[0]
	_, err = in.River().JobRetry(context.Background(), discarded.ID)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		j, err := in.River().JobGet(context.Background(), discarded.ID)
		return err == nil && j.State == rivertype.JobStateCompleted
	}, 10*time.Second, 20*time.Millisecond)
	require.Len(t, in.Simulator().Sends(), sendsBefore)
}

func onlySendJob(t *testing.T, in *apptest.Instance) *rivertype.JobRow {
	t.Helper()
	res, err := in.River().JobList(context.Background(), river.NewJobListParams().Kinds("send_message"))
	require.NoError(t, err)
	require.Len(t, res.Jobs, 1)
	return res.Jobs[0]
}

func TestSendRejectsBadInputAndWritesNothing(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	tok := in.AdminToken()
	convID, first := startConversation(t, in, tok, "16505550006")
	path := fmt.Sprintf("/api/conversations/%d/messages", convID)
	// Nothing else writes while the bad requests are counted.
	waitSettled(t, in, tok, first.ID)
	valid := func() map[string]any { return textBody(uuid.NewString(), "hi") }
	with := func(k string, v any) map[string]any { b := valid(); b[k] = v; return b }

	tests := []struct {
		name   string
		method string
		path   string
		ctype  string
		body   any
		status int
		code   string
	}{
		{"empty body", "POST", path, "", "", 400, "invalid_json"},
		{"not json", "POST", path, "", "{nope", 400, "invalid_json"},
		{"two objects", "POST", path, "", `{"type":"text"} {}`, 400, "invalid_json"},
		{"array", "POST", path, "", `[]`, 400, "invalid_request"},
		{"unknown field", "POST", path, "", with("client-id", "x"), 400, "invalid_request"},
		{"missing client_id", "POST", path, "", with("client_id", ""), 400, "invalid_request"},
		{"client_id not a uuid", "POST", path, "", with("client_id", "123"), 400, "invalid_request"},
		{"client_id wrong type", "POST", path, "", with("client_id", 5), 400, "invalid_request"},
		{"missing type", "POST", path, "", with("type", ""), 400, "invalid_request"},
		{"unsupported type", "POST", path, "", with("type", "sticker"), 400, "invalid_request"},
		{"missing text", "POST", path, "", with("text", nil), 400, "invalid_request"},
		{"empty text", "POST", path, "", with("text", map[string]any{"body": ""}), 400, "invalid_request"},
		{"blank text", "POST", path, "", with("text", map[string]any{"body": "  \n "}), 400, "invalid_request"},
		{"text too long", "POST", path, "", with("text", map[string]any{"body": strings.Repeat("ñ", 4097)}), 400, "invalid_request"},
		{"wrong content type", "POST", path, "text/plain", valid(), 415, "unsupported_media_type"},
		{"body too large", "POST", path, "", `{"client_id":"` + strings.Repeat("x", 2<<20) + `"}`, 413, "body_too_large"},
		{"unknown conversation", "POST", "/api/conversations/987654/messages", "", valid(), 404, "not_found"},
		{"bad conversation id", "POST", "/api/conversations/abc/messages", "", valid(), 404, "not_found"},
		{"start: bad wa_id", "POST", "/api/conversations", "", with("wa_id", "+1 (650) 555"), 400, "invalid_request"},
		{"start: missing wa_id", "POST", "/api/conversations", "", valid(), 400, "invalid_request"},
		{"bad limit", "GET", path + "?limit=0", "", nil, 400, "invalid_limit"},
		{"bad cursor", "GET", "/api/conversations?cursor=nope", "", nil, 400, "invalid_cursor"},
		{"bad message cursor", "GET", path + "?cursor=-4", "", nil, 400, "invalid_cursor"},
		{"unknown route", "GET", "/api/nope", "", nil, 404, "not_found"},
	}
	messages, events, jobs := count(t, in, "messages"), count(t, in, "events"), count(t, in, sendJobs)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body []byte
			switch b := tt.body.(type) {
			case string:
				body = []byte(b)
			case nil:
			default:
				var err error
				body, err = jsonMarshal(b)
				require.NoError(t, err)
			}
			req, err := http.NewRequest(tt.method, in.URL+tt.path, strings.NewReader(string(body)))
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+tok)
			if tt.ctype != "" {
				req.Header.Set("Content-Type", tt.ctype)
			}
			resp, err := in.Client.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			var e struct {
				Error struct {
					Code    string `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			require.NoError(t, jsonDecode(resp.Body, &e))
			require.Equal(t, tt.status, resp.StatusCode)
			require.Equal(t, tt.code, e.Error.Code)
			require.NotEmpty(t, e.Error.Message)
			require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		})
	}
	require.Equal(t, messages, count(t, in, "messages"))
	require.Equal(t, events, count(t, in, "events"))
	require.Equal(t, jobs, count(t, in, sendJobs))
}
