package bot_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/apptest"
	"github.com/wainbox/wainbox/internal/config"
	"github.com/wainbox/wainbox/internal/simulator"
)

// These tests run whole instances (real PostgreSQL, River, HTTP, the simulator's phone, Graph API
// and Gemini) and play the customer through the signed webhook.

const customer = "16505551234"

// startBot starts an instance whose bot waits little for bursts and retries Gemini quickly.
func startBot(t *testing.T, env map[string]string) *apptest.Instance {
	t.Helper()
	all := map[string]string{"BOT_DEBOUNCE": "200ms", "BOT_RETRY_BASE": "100ms"}
	for k, v := range env {
		all[k] = v
	}
	return apptest.Start(t, &apptest.Options{Env: all})
}

func writes(t *testing.T, in *apptest.Instance, text string) {
	t.Helper()
	_, err := in.Simulator().SendInbound(context.Background(), &simulator.InboundInput{From: customer, Name: "Ana", Text: text})
	require.NoError(t, err)
}

// conversationID waits for the customer's conversation to be stored.
func conversationID(t *testing.T, in *apptest.Instance) int64 {
	t.Helper()
	var id int64
	require.Eventually(t, func() bool {
		err := in.Pool().QueryRow(context.Background(),
			`SELECT c.id FROM conversations c JOIN contacts ct ON ct.id = c.contact_id WHERE ct.wa_id = $1`, customer).Scan(&id)
		return err == nil
	}, 20*time.Second, 10*time.Millisecond)
	return id
}

type run struct {
	Outcome, Reason string
	MessageID       *int64
	TotalTokens     int
}

func runs(t *testing.T, in *apptest.Instance, convID int64) []run {
	t.Helper()
	rows, err := in.Pool().Query(context.Background(),
		`SELECT outcome, reason, message_id, total_tokens FROM bot_runs WHERE conversation_id = $1 ORDER BY id`, convID)
	require.NoError(t, err)
	defer rows.Close()
	var out []run
	for rows.Next() {
		var r run
		require.NoError(t, rows.Scan(&r.Outcome, &r.Reason, &r.MessageID, &r.TotalTokens))
		out = append(out, r)
	}
	require.NoError(t, rows.Err())
	return out
}

// waitRuns waits until the bot has finished n runs of the conversation and returns them.
func waitRuns(t *testing.T, in *apptest.Instance, convID int64, n int) []run {
	t.Helper()
	require.Eventually(t, func() bool { return len(runs(t, in, convID)) >= n }, 30*time.Second, 20*time.Millisecond,
		"bot run %d of conversation %d", n, convID)
	got := runs(t, in, convID)
	require.Len(t, got, n)
	return got
}

// botJobsDone waits until every bot_reply job has finished (completed, discarded or cancelled).
func botJobsDone(t *testing.T, in *apptest.Instance, want int) {
	t.Helper()
	require.Eventually(t, func() bool {
		var total, done int
		require.NoError(t, in.Pool().QueryRow(context.Background(), `SELECT count(*),
			count(*) FILTER (WHERE state IN ('completed', 'discarded', 'cancelled')) FROM river_job WHERE kind = 'bot_reply'`).Scan(&total, &done))
		return total == want && done == want
	}, 30*time.Second, 20*time.Millisecond, "%d finished bot_reply jobs", want)
}

type apiMessage struct {
	ID        int64  `json:"id"`
	Direction string `json:"direction"`
	Sender    string `json:"sender"`
	Body      string `json:"body"`
	Status    string `json:"status"`
}

// messages lists the conversation through the API, oldest first.
func messages(t *testing.T, in *apptest.Instance, convID int64) []apiMessage {
	t.Helper()
	var page struct {
		Data []apiMessage `json:"data"`
	}
	in.Do("GET", fmt.Sprintf("/api/conversations/%d/messages", convID), in.AdminToken(), nil, http.StatusOK, &page)
	slices.Reverse(page.Data)
	return page.Data
}

type apiConversation struct {
	ID         int64  `json:"id"`
	Status     string `json:"status"`
	AssigneeID *int64 `json:"assignee_id"`
}

func conversation(t *testing.T, in *apptest.Instance, convID int64) apiConversation {
	t.Helper()
	var c apiConversation
	in.Do("GET", fmt.Sprintf("/api/conversations/%d", convID), in.AdminToken(), nil, http.StatusOK, &c)
	return c
}

// textSends returns the text messages the fake Graph API accepted for the customer.
func textSends(in *apptest.Instance) []simulator.Send {
	var out []simulator.Send
	for _, s := range in.Simulator().Sends() {
		if s.Type == "text" && s.To == customer && s.WAMessageID != "" {
			out = append(out, s)
		}
	}
	return out
}

// waitSent waits until the fake Graph API accepted a text with body for the customer.
func waitSent(t *testing.T, in *apptest.Instance, body string) {
	t.Helper()
	require.Eventually(t, func() bool {
		return slices.ContainsFunc(textSends(in), func(s simulator.Send) bool { return s.Body == body })
	}, 30*time.Second, 20*time.Millisecond, "send of %q", body)
}

// geminiRequest is the part of a generateContent request the tests look at.
type geminiRequest struct {
	Contents []struct {
		Role  string `json:"role"`
		Parts []struct {
			Text string `json:"text"`
		} `json:"parts"`
	} `json:"contents"`
	SystemInstruction struct {
		Parts []struct {
			Text string `json:"text"`
		} `json:"parts"`
	} `json:"systemInstruction"`
}

func geminiRequests(t *testing.T, in *apptest.Instance) []geminiRequest {
	t.Helper()
	var out []geminiRequest
	for _, r := range in.Simulator().GeminiRequests() {
		var g geminiRequest
		require.NoError(t, json.Unmarshal(r.Body, &g), "%s", r.Body)
		out = append(out, g)
	}
	return out
}

func (g *geminiRequest) turns() []string {
	var out []string
	for _, c := range g.Contents {
		var parts []string
		for _, p := range c.Parts {
			parts = append(parts, p.Text)
		}
		out = append(out, c.Role+": "+strings.Join(parts, " | "))
	}
	return out
}

func TestBotRepliesWithTheConversationAsContext(t *testing.T) {
	t.Parallel()
	instructions := filepath.Join(t.TempDir(), "bot.txt")
	require.NoError(t, os.WriteFile(instructions, []byte("Eres el asistente de Panadería Ana. Abrimos de 8 a 20 h.\n"), 0o600))
	in := startBot(t, map[string]string{"BOT_INSTRUCTIONS_FILE": instructions})

	writes(t, in, "hola")
	convID := conversationID(t, in)
	require.Equal(t, "bot", conversation(t, in, convID).Status)
	first := waitRuns(t, in, convID, 1)[0]
	require.Equal(t, "replied", first.Outcome)
	require.Positive(t, first.TotalTokens, "tokens are recorded per reply")
	msgs := messages(t, in, convID)
	require.Len(t, msgs, 2)
	reply := msgs[1]
	require.Equal(t, "bot", reply.Sender, "bot replies are marked as such in the API")
	require.Equal(t, "out", reply.Direction)
	require.Equal(t, *first.MessageID, reply.ID)
	require.Contains(t, reply.Body, "hola")
	waitSent(t, in, reply.Body)

	writes(t, in, "¿a qué hora abren?")
	second := waitRuns(t, in, convID, 2)[1]
	require.Equal(t, "replied", second.Outcome)

	reqs := geminiRequests(t, in)
	require.Len(t, reqs, 2)
	system := reqs[1].SystemInstruction.Parts[0].Text
	require.Contains(t, system, "Panadería Ana", "the business's instruction")
	require.Contains(t, system, "language of the customer", "and the rules the code relies on")
	require.Equal(t, []string{"user: hola", "model: " + reply.Body, "user: ¿a qué hora abren?"}, reqs[1].turns(),
		"the history and the new message")

	msgs = messages(t, in, convID)
	require.Equal(t, []string{"contact", "bot", "contact", "bot"}, []string{msgs[0].Sender, msgs[1].Sender, msgs[2].Sender, msgs[3].Sender})
	waitSent(t, in, msgs[3].Body)
	require.Equal(t, "bot", conversation(t, in, convID).Status)
}

func TestBotReplyLosesToATakeover(t *testing.T) {
	t.Parallel()
	in := startBot(t, nil)
	// Gemini takes a while: the job is inside the call when the agent takes over.
	in.Simulator().SetFaults(simulator.Faults{GeminiLatency: 1500 * time.Millisecond})

	writes(t, in, "hola")
	convID := conversationID(t, in)
	require.Eventually(t, func() bool { return len(in.Simulator().GeminiRequests()) == 1 }, 20*time.Second, 10*time.Millisecond)
	var taken apiConversation
	in.Do("POST", fmt.Sprintf("/api/conversations/%d/takeover", convID), in.AdminToken(), nil, http.StatusOK, &taken)
	require.Equal(t, "open", taken.Status)

	r := waitRuns(t, in, convID, 1)[0]
	require.Equal(t, run{Outcome: "skipped", Reason: "not_bot", TotalTokens: r.TotalTokens}, r, "Gemini answered, but the agent's takeover committed first")
	require.Positive(t, r.TotalTokens, "the tokens spent are recorded all the same")
	require.Len(t, messages(t, in, convID), 1, "no bot message")
	require.Empty(t, textSends(in), "nothing was sent to the customer")
	c := conversation(t, in, convID)
	require.Equal(t, "open", c.Status)
	require.NotNil(t, c.AssigneeID)
}

func TestBotAnswersABurstOnce(t *testing.T) {
	t.Parallel()
	in := startBot(t, map[string]string{"BOT_DEBOUNCE": "800ms"})

	for _, text := range []string{"hola", "tienen pan integral?", "y a domicilio?"} {
		writes(t, in, text)
	}
	convID := conversationID(t, in)
	botJobsDone(t, in, 3)

	var bot []apiMessage
	for _, m := range messages(t, in, convID) {
		if m.Sender == "bot" {
			bot = append(bot, m)
		}
	}
	require.Len(t, bot, 1, "one reply to the burst")
	reqs := geminiRequests(t, in)
	require.Len(t, reqs, 1)
	// The webhooks are processed in parallel, so the three may be stored in any order.
	turns := reqs[0].turns()
	require.Len(t, turns, 1, "the reply answers the whole burst, as one customer turn")
	for _, text := range []string{"hola", "tienen pan integral?", "y a domicilio?"} {
		require.Contains(t, turns[0], text)
	}
	waitSent(t, in, bot[0].Body)
	require.Len(t, textSends(in), 1)
}

func TestBotHandsOffWhenTheCustomerAsksForAPerson(t *testing.T) {
	t.Parallel()
	in := startBot(t, nil)

	writes(t, in, "hola")
	convID := conversationID(t, in)
	waitRuns(t, in, convID, 1)
	writes(t, in, "Quiero hablar con un AGENTE, por favor")
	r := waitRuns(t, in, convID, 2)[1]
	require.Equal(t, "handed_off", r.Outcome)
	require.Equal(t, "customer_asked", r.Reason)
	require.Len(t, in.Simulator().GeminiRequests(), 1, "the phrase hands off without asking Gemini")

	c := conversation(t, in, convID)
	require.Equal(t, "pending", c.Status)
	require.Nil(t, c.AssigneeID)
	msgs := messages(t, in, convID)
	notice := msgs[len(msgs)-1]
	require.Equal(t, "system", notice.Sender)
	require.Equal(t, config.DefaultBotHandoffMessage, notice.Body)
	waitSent(t, in, config.DefaultBotHandoffMessage)

	var events int
	require.NoError(t, in.Pool().QueryRow(context.Background(), `SELECT count(*) FROM events
		WHERE conversation_id = $1 AND kind = 'conversation.updated' AND payload->>'status' = 'pending'`, convID).Scan(&events))
	require.Equal(t, 1, events, "agents are told at once")

	// The conversation is the humans' now: the customer's next message queues no bot reply.
	writes(t, in, "¿hola?")
	require.Eventually(t, func() bool { return len(messages(t, in, convID)) == len(msgs)+1 }, 20*time.Second, 10*time.Millisecond)
	botJobsDone(t, in, 2)
}

func TestBotHandsOffOnTheModelsSignal(t *testing.T) {
	t.Parallel()
	// No phrase matches, so the decision is Gemini's.
	in := startBot(t, map[string]string{"BOT_HANDOFF_PHRASES": "operadora"})

	writes(t, in, "I'd like to talk to a human")
	convID := conversationID(t, in)
	r := waitRuns(t, in, convID, 1)[0]
	require.Equal(t, "handed_off", r.Outcome)
	require.Equal(t, "model", r.Reason)
	require.Len(t, in.Simulator().GeminiRequests(), 1)

	msgs := messages(t, in, convID)
	require.Len(t, msgs, 2, "the model's words are the only message: no second notice")
	require.Equal(t, "bot", msgs[1].Sender)
	require.Equal(t, "Sure, I'm connecting you with an agent. A person will be with you shortly.", msgs[1].Body)
	waitSent(t, in, msgs[1].Body)
	require.Equal(t, "pending", conversation(t, in, convID).Status)
}

func TestBotHandsOffAfterMaxReplies(t *testing.T) {
	t.Parallel()
	in := startBot(t, map[string]string{"BOT_MAX_REPLIES": "2", "BOT_HANDOFF_MESSAGE": "Te atiende una persona."})

	writes(t, in, "hola")
	convID := conversationID(t, in)
	waitRuns(t, in, convID, 1)
	writes(t, in, "no entiendo")
	waitRuns(t, in, convID, 2)
	writes(t, in, "sigo sin entender")
	r := waitRuns(t, in, convID, 3)[2]
	require.Equal(t, "handed_off", r.Outcome)
	require.Equal(t, "max_replies", r.Reason)
	require.Len(t, in.Simulator().GeminiRequests(), 2)
	waitSent(t, in, "Te atiende una persona.")
	require.Equal(t, "pending", conversation(t, in, convID).Status)
}

func TestBotRetriesAThrottledGemini(t *testing.T) {
	t.Parallel()
	in := startBot(t, nil)
	in.Simulator().SetFaults(simulator.Faults{GeminiFailNext: []int{429}})

	writes(t, in, "hello")
	convID := conversationID(t, in)
	r := waitRuns(t, in, convID, 1)[0]
	require.Equal(t, "replied", r.Outcome)
	require.Len(t, in.Simulator().GeminiRequests(), 2, "one 429, then the answer")
	var attempt int
	require.NoError(t, in.Pool().QueryRow(context.Background(),
		`SELECT attempt FROM river_job WHERE kind = 'bot_reply' AND state = 'completed'`).Scan(&attempt))
	require.Equal(t, 2, attempt)
	msgs := messages(t, in, convID)
	waitSent(t, in, msgs[len(msgs)-1].Body)
	require.Equal(t, "bot", conversation(t, in, convID).Status)
}

func TestBotHandsOffWhenGeminiIsDown(t *testing.T) {
	t.Parallel()
	in := startBot(t, nil)
	in.Simulator().SetFaults(simulator.Faults{GeminiFailNext: []int{503, 500, 503, 503, 503, 503}})

	writes(t, in, "hola")
	convID := conversationID(t, in)
	r := waitRuns(t, in, convID, 1)[0]
	require.Equal(t, "handed_off", r.Outcome)
	require.Equal(t, "gemini_error", r.Reason)
	require.Len(t, in.Simulator().GeminiRequests(), 4, "four attempts, then a person")
	// The customer is not left without an answer.
	waitSent(t, in, config.DefaultBotHandoffMessage)
	c := conversation(t, in, convID)
	require.Equal(t, "pending", c.Status)
	require.Nil(t, c.AssigneeID)
}

func TestBotSendsNoFreeFormTextOutsideTheWindow(t *testing.T) {
	t.Parallel()
	in := startBot(t, nil)
	in.Simulator().SetFaults(simulator.Faults{GeminiLatency: 1500 * time.Millisecond})

	writes(t, in, "hola")
	convID := conversationID(t, in)
	require.Eventually(t, func() bool { return len(in.Simulator().GeminiRequests()) == 1 }, 20*time.Second, 10*time.Millisecond)
	// While Gemini thinks, the customer's 24 hours run out (the job ran late, say).
	_, err := in.Pool().Exec(context.Background(), `UPDATE contacts SET last_inbound_at = now() - interval '25 hours' WHERE wa_id = $1`, customer)
	require.NoError(t, err)

	r := waitRuns(t, in, convID, 1)[0]
	require.Equal(t, "handed_off", r.Outcome)
	require.Equal(t, "window_closed", r.Reason)
	require.Nil(t, r.MessageID, "neither the reply nor the notice: only a template may be sent now")
	require.Len(t, messages(t, in, convID), 1)
	require.Empty(t, textSends(in))
	require.Equal(t, "pending", conversation(t, in, convID).Status, "a person decides, with a template")
}

func TestBotToggleOnAConversation(t *testing.T) {
	t.Parallel()
	in := startBot(t, nil)
	tok := in.AdminToken()

	writes(t, in, "hola")
	convID := conversationID(t, in)
	waitRuns(t, in, convID, 1)
	path := fmt.Sprintf("/api/conversations/%d/bot", convID)

	var c apiConversation
	in.Do("POST", path, tok, map[string]any{"enabled": false}, http.StatusOK, &c)
	require.Equal(t, "pending", c.Status)
	in.Do("POST", path, tok, map[string]any{"enabled": false}, http.StatusOK, &c)
	require.Equal(t, "pending", c.Status, "repeating changes nothing")

	writes(t, in, "¿siguen ahí?")
	require.Eventually(t, func() bool { return len(messages(t, in, convID)) == 3 }, 20*time.Second, 10*time.Millisecond)
	botJobsDone(t, in, 1)
	require.Len(t, in.Simulator().GeminiRequests(), 1, "the bot stays quiet while it is off")

	in.Do("POST", path, tok, map[string]any{"enabled": true}, http.StatusOK, &c)
	require.Equal(t, "bot", c.Status)
	require.Nil(t, c.AssigneeID)
	in.Do("POST", path, tok, map[string]any{"enabled": true}, http.StatusOK, &c)
	require.Equal(t, "bot", c.Status)
	writes(t, in, "hola otra vez")
	require.Equal(t, "replied", waitRuns(t, in, convID, 2)[1].Outcome)

	in.Do("POST", path, tok, map[string]any{}, http.StatusBadRequest, nil)
	in.Do("POST", path, tok, `{"enabled": "yes"}`, http.StatusBadRequest, nil)
	in.Do("POST", "/api/conversations/999999/bot", tok, map[string]any{"enabled": true}, http.StatusNotFound, nil)
	in.Do("POST", path, "", map[string]any{"enabled": true}, http.StatusUnauthorized, nil)
}

func TestBotSwitchedOffLeavesConversationsToPeople(t *testing.T) {
	t.Parallel()
	in := startBot(t, map[string]string{"BOT_ENABLED": "0"})

	writes(t, in, "hola")
	convID := conversationID(t, in)
	require.Equal(t, "pending", conversation(t, in, convID).Status)
	in.Do("POST", fmt.Sprintf("/api/conversations/%d/bot", convID), in.AdminToken(), map[string]any{"enabled": true}, http.StatusConflict, nil)
	var jobs int
	require.NoError(t, in.Pool().QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE kind = 'bot_reply'`).Scan(&jobs))
	require.Zero(t, jobs)
	require.Empty(t, in.Simulator().GeminiRequests())
}
