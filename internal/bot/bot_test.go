package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"google.golang.org/genai"

	"github.com/wainbox/wainbox/internal/simulator"
)

func TestContentsAlternateAndFitTheBudget(t *testing.T) {
	t.Parallel()
	biz := func(s string) Turn { return Turn{Text: s} }
	cus := func(s string) Turn { return Turn{Customer: true, Text: s} }
	tests := []struct {
		name  string
		turns []Turn
		max   int
		want  []string // "role: part|part"
	}{
		{"one message", []Turn{cus("hola")}, 100, []string{"user: hola"}},
		{"a burst is one user turn", []Turn{cus("hola"), cus("tienen envíos?"), cus("a Bogotá")}, 100,
			[]string{"user: hola|tienen envíos?|a Bogotá"}},
		{"history alternates", []Turn{cus("hi"), biz("hello!"), biz("anything else?"), cus("price?")}, 100,
			[]string{"user: hi", "model: hello!|anything else?", "user: price?"}},
		{"a business opening is dropped", []Turn{biz("Your order shipped"), cus("thanks! when?")}, 100,
			[]string{"user: thanks! when?"}},
		{"oldest turns go first", []Turn{cus("aaaaaaaaaa"), biz("bbbbbbbbbb"), cus("cccccccccc")}, 25,
			[]string{"user: cccccccccc"}},
		{"budget keeps whole newest turns", []Turn{cus("aaaaa"), biz("bbbbb"), cus("ccccc")}, 10,
			[]string{"user: ccccc"}},
		{"a single long message is cut", []Turn{cus(strings.Repeat("x", 50))}, 20, []string{"user: " + strings.Repeat("x", 20)}},
		{"empty turns are skipped", []Turn{cus("  "), biz(""), cus("hola")}, 100, []string{"user: hola"}},
		{"nothing", nil, 100, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, c := range Contents(tt.turns, tt.max) {
				var parts []string
				for _, p := range c.Parts {
					parts = append(parts, p.Text)
				}
				got = append(got, c.Role+": "+strings.Join(parts, "|"))
			}
			require.Equal(t, tt.want, got)
		})
	}
}

func TestParseResponse(t *testing.T) {
	t.Parallel()
	text := func(s string, finish genai.FinishReason) *genai.GenerateContentResponse {
		return &genai.GenerateContentResponse{
			Candidates:    []*genai.Candidate{{Content: genai.NewContentFromText(s, genai.RoleModel), FinishReason: finish}},
			UsageMetadata: &genai.GenerateContentResponseUsageMetadata{PromptTokenCount: 10, CandidatesTokenCount: 5, TotalTokenCount: 15},
		}
	}
	tests := []struct {
		name    string
		resp    *genai.GenerateContentResponse
		reply   string
		handoff bool
		problem string
	}{
		{"structured", text(`{"reply":"¡Hola!","handoff":false}`, "STOP"), "¡Hola!", false, ""},
		{"structured hand-off", text(`{"reply":"Te comunico con una persona.","handoff":true}`, "STOP"), "Te comunico con una persona.", true, ""},
		{"hand-off without words", text(`{"reply":"","handoff":true}`, "STOP"), "", true, ""},
		{"fenced JSON", text("```json\n{\"reply\":\"Hi\",\"handoff\":false}\n```", "STOP"), "Hi", false, ""},
		{"plain text is tolerated", text("We open at 9.", "STOP"), "We open at 9.", false, ""},
		{"cut JSON is not shown to the customer", text(`{"reply":"We open at`, "MAX_TOKENS"), "", false, ProblemEmpty},
		{"empty reply", text(`{"reply":"  ","handoff":false}`, "STOP"), "", false, ProblemEmpty},
		{"empty text", text("", "STOP"), "", false, ProblemEmpty},
		{"answer blocked", text("", genai.FinishReasonSafety), "", false, ProblemBlocked},
		{"no candidates", &genai.GenerateContentResponse{}, "", false, ProblemEmpty},
		{"prompt blocked", &genai.GenerateContentResponse{
			PromptFeedback: &genai.GenerateContentResponsePromptFeedback{BlockReason: genai.BlockedReasonSafety},
		}, "", false, ProblemBlocked},
		{"blocked without content", &genai.GenerateContentResponse{
			Candidates: []*genai.Candidate{{FinishReason: genai.FinishReasonProhibitedContent}},
		}, "", false, ProblemBlocked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ans := parseResponse(tt.resp)
			require.Equal(t, tt.problem, ans.Problem, ans.Detail)
			if tt.problem == "" {
				require.Equal(t, tt.reply, ans.Reply)
				require.Equal(t, tt.handoff, ans.Handoff)
			}
		})
	}
	ans := parseResponse(text(`{"reply":"x","handoff":false}`, "STOP"))
	require.Equal(t, Usage{Prompt: 10, Candidates: 5, Total: 15}, ans.Usage)
	long := parseResponse(text(strings.Repeat("a", MaxReplyChars+10), "STOP"))
	require.Equal(t, MaxReplyChars, len([]rune(long.Reply)), "a reply fits in one WhatsApp message")
}

func TestAsksForHuman(t *testing.T) {
	t.Parallel()
	b := &Bot{}
	for _, p := range append(DefaultHandoffPhrases, "hablar con alguien") {
		b.phrases = append(b.phrases, normalize(p))
	}
	for text, want := range map[string]bool{
		"Quiero hablar con un AGENTE":           true,
		"¿me pasas con un humano?":              true,
		"Humano!":                               true,
		"can I talk to a human, please":         true,
		"necesito un asesor":                    true,
		"quiero HABLAR con álguien ya":          true,
		"Quiero atención personalizada":         false,
		"the agentic workflow is broken":        false,
		"hola, ¿a qué hora abren?":              false,
		"":                                      false,
		"PERSONA":                               true,
		"I'd like to speak to a representative": true,
	} {
		require.Equal(t, want, b.AsksForHuman(text), "%q", text)
	}
}

func TestIsRetryable(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{genai.APIError{Code: 429}, true},
		{genai.APIError{Code: 500}, true},
		{genai.APIError{Code: 503}, true},
		{genai.APIError{Code: 400}, false},
		{genai.APIError{Code: 403}, false},
		{genai.APIError{Code: 404}, false},
		{fmt.Errorf("call: %w", genai.APIError{Code: 401}), false},
		{context.DeadlineExceeded, true},
		{errors.New("connection refused"), true},
	} {
		err, want := tt.err, tt.want
		require.Equal(t, want, IsRetryable(err), "%v", err)
	}
}

// newSimulatorBot runs the simulator's fake Gemini on loopback and a Bot that talks to it.
func newSimulatorBot(t *testing.T, cfg *Config) (*Bot, *simulator.Simulator) {
	t.Helper()
	sim, err := simulator.New(&simulator.Config{})
	require.NoError(t, err)
	t.Cleanup(sim.Close)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	cfg.APIKey = "test-key"
	cfg.BaseURL = srv.URL + "/simulator/gemini/"
	b, err := New(t.Context(), cfg)
	require.NoError(t, err)
	return b, sim
}

func TestAnswerAsksGeminiForStructuredJSON(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	b, sim := newSimulatorBot(t, &Config{Instructions: "Eres el asistente de Panadería Ana. Abrimos de 8 a 20.", Registerer: reg})

	ans, err := b.Answer(t.Context(), []Turn{
		{Customer: true, Text: "hola"}, {Text: "¡Hola! ¿En qué te ayudo?"}, {Customer: true, Text: "¿a qué hora abren?"},
	})
	require.NoError(t, err)
	require.Empty(t, ans.Problem)
	require.False(t, ans.Handoff)
	require.Contains(t, ans.Reply, "¿a qué hora abren?")
	require.Positive(t, ans.Usage.Total)

	reqs := sim.GeminiRequests()
	require.Len(t, reqs, 1)
	require.Equal(t, "gemini-2.5-flash", reqs[0].Model)
	var sent struct {
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
		GenerationConfig struct {
			ResponseMIMEType string         `json:"responseMimeType"`
			ResponseSchema   map[string]any `json:"responseSchema"`
		} `json:"generationConfig"`
	}
	require.NoError(t, json.Unmarshal(reqs[0].Body, &sent), "%s", reqs[0].Body)
	require.Len(t, sent.Contents, 3)
	require.Equal(t, []string{"user", "model", "user"}, []string{sent.Contents[0].Role, sent.Contents[1].Role, sent.Contents[2].Role})
	require.Equal(t, "¿a qué hora abren?", sent.Contents[2].Parts[0].Text)
	require.Contains(t, sent.SystemInstruction.Parts[0].Text, "Panadería Ana")
	require.Contains(t, sent.SystemInstruction.Parts[0].Text, `{"reply": string, "handoff": boolean}`)
	require.Equal(t, "application/json", sent.GenerationConfig.ResponseMIMEType)
	require.NotEmpty(t, sent.GenerationConfig.ResponseSchema)

	families, err := reg.Gather()
	require.NoError(t, err)
	values := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			name := f.GetName()
			for _, l := range m.GetLabel() {
				name += "," + l.GetName() + "=" + l.GetValue()
			}
			values[name] = m.GetCounter().GetValue()
		}
	}
	require.Equal(t, float64(ans.Usage.Total), values["wainbox_bot_gemini_tokens_total,kind=total"])
	require.Equal(t, float64(ans.Usage.Prompt), values["wainbox_bot_gemini_tokens_total,kind=prompt"])
	require.Equal(t, 1.0, values["wainbox_bot_gemini_calls_total,result=ok"])
}

func TestAnswerErrorsAndTimeout(t *testing.T) {
	t.Parallel()
	b, sim := newSimulatorBot(t, &Config{Timeout: 300 * time.Millisecond})
	turns := []Turn{{Customer: true, Text: "hi"}}

	sim.SetFaults(simulator.Faults{GeminiFailNext: []int{429}})
	_, err := b.Answer(t.Context(), turns)
	require.Error(t, err)
	require.True(t, IsRetryable(err), "%v", err)

	sim.SetFaults(simulator.Faults{GeminiFailNext: []int{400}})
	_, err = b.Answer(t.Context(), turns)
	require.False(t, IsRetryable(err), "%v", err)

	sim.SetFaults(simulator.Faults{GeminiLatency: 5 * time.Second})
	start := time.Now()
	_, err = b.Answer(t.Context(), turns)
	require.Error(t, err)
	require.Less(t, time.Since(start), 3*time.Second, "the call gives up at its timeout")
	require.True(t, IsRetryable(err), "%v", err)

	sim.SetFaults(simulator.Faults{})
	ans, err := b.Answer(t.Context(), []Turn{{Customer: true, Text: "I want to talk to a human"}})
	require.NoError(t, err)
	require.True(t, ans.Handoff)
}
