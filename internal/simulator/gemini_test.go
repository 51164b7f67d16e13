package simulator_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/genai"

	"github.com/wainbox/wainbox/internal/simulator"
)

type geminiAnswer struct {
	Candidates []struct {
		Content struct {
			Role  string `json:"role"`
			Parts []struct {
				Text string `json:"text"`
			} `json:"parts"`
		} `json:"content"`
		FinishReason string `json:"finishReason"`
		Index        int    `json:"index"`
	} `json:"candidates"`
	UsageMetadata struct {
		PromptTokenCount     int `json:"promptTokenCount"`
		CandidatesTokenCount int `json:"candidatesTokenCount"`
		TotalTokenCount      int `json:"totalTokenCount"`
	} `json:"usageMetadata"`
	ModelVersion string `json:"modelVersion"`
}

func geminiBody(texts ...string) map[string]any {
	var contents []map[string]any
	for i, text := range texts {
		role := "user"
		if i%2 == 1 {
			role = "model"
		}
		contents = append(contents, map[string]any{"role": role, "parts": []map[string]any{{"text": text}}})
	}
	return map[string]any{
		"contents":          contents,
		"systemInstruction": map[string]any{"parts": []map[string]any{{"text": "You are a helpful shop assistant."}}},
		"generationConfig":  map[string]any{"responseMimeType": "application/json"},
	}
}

func TestGeminiReplies(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)

	tests := []struct {
		name  string
		texts []string
		want  simulator.BotReply
	}{
		{"english", []string{"Does it come in blue?"},
			simulator.BotReply{Reply: `Hi! I'm the virtual assistant. I got your message: "Does it come in blue?". How else can I help?`}},
		{"spanish by accent", []string{"¿Tienen envío?"},
			simulator.BotReply{Reply: `¡Hola! Soy el asistente virtual. Recibí tu mensaje: "¿Tienen envío?". ¿En qué más puedo ayudarte?`}},
		{"spanish by word", []string{"hola, quiero una camisa"},
			simulator.BotReply{Reply: `¡Hola! Soy el asistente virtual. Recibí tu mensaje: "hola, quiero una camisa". ¿En qué más puedo ayudarte?`}},
		{"english handoff", []string{"Let me talk to a HUMAN"},
			simulator.BotReply{Reply: "Sure, I'm connecting you with an agent. A person will be with you shortly.", Handoff: true}},
		{"spanish handoff", []string{"quiero hablar con un agente"},
			simulator.BotReply{Reply: "Claro, te comunico con un agente. En breve una persona te atenderá.", Handoff: true}},
		{"answers the last user turn", []string{"hola", "¡Hola!", "What are your hours?"},
			simulator.BotReply{Reply: `Hi! I'm the virtual assistant. I got your message: "What are your hours?". How else can I help?`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var answer geminiAnswer
			require.Equal(t, http.StatusOK, h.do(t, http.MethodPost,
				"/simulator/gemini/v1beta/models/gemini-2.5-flash:generateContent", geminiBody(tt.texts...), &answer))
			require.Len(t, answer.Candidates, 1)
			c := answer.Candidates[0]
			require.Equal(t, "model", c.Content.Role)
			require.Equal(t, "STOP", c.FinishReason)
			require.Len(t, c.Content.Parts, 1)
			var reply simulator.BotReply
			require.NoError(t, json.Unmarshal([]byte(c.Content.Parts[0].Text), &reply))
			require.Equal(t, tt.want, reply)
			u := answer.UsageMetadata
			require.Positive(t, u.PromptTokenCount)
			require.Positive(t, u.CandidatesTokenCount)
			require.Equal(t, u.PromptTokenCount+u.CandidatesTokenCount, u.TotalTokenCount)
			require.Equal(t, "gemini-2.5-flash", answer.ModelVersion)
		})
	}
}

func TestGeminiErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)

	type googleError struct {
		Error struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
			Status  string `json:"status"`
		} `json:"error"`
	}
	var e googleError
	require.Equal(t, http.StatusNotFound, h.do(t, http.MethodPost,
		"/simulator/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent", geminiBody("hi"), &e))
	require.Equal(t, "NOT_FOUND", e.Error.Status)
	require.Equal(t, http.StatusBadRequest, h.do(t, http.MethodPost,
		"/simulator/gemini/v1beta/models/gemini-2.5-flash:generateContent", map[string]any{"contents": []any{}}, &e))
	require.Equal(t, "INVALID_ARGUMENT", e.Error.Status)

	h.sim.SetFaults(simulator.Faults{GeminiFailNext: []int{429, 500, 503}})
	for _, want := range []struct {
		status int
		name   string
	}{{429, "RESOURCE_EXHAUSTED"}, {500, "INTERNAL"}, {503, "UNAVAILABLE"}} {
		var e googleError
		require.Equal(t, want.status, h.do(t, http.MethodPost,
			"/simulator/gemini/v1beta/models/gemini-2.5-flash:generateContent", geminiBody("hi"), &e))
		require.Equal(t, want.status, e.Error.Code)
		require.Equal(t, want.name, e.Error.Status)
		require.NotEmpty(t, e.Error.Message)
	}
	var answer geminiAnswer
	require.Equal(t, http.StatusOK, h.do(t, http.MethodPost,
		"/simulator/gemini/v1beta/models/gemini-2.5-flash:generateContent", geminiBody("hi"), &answer))
}

func TestGeminiWithGenaiClient(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)

	client, err := genai.NewClient(t.Context(), &genai.ClientConfig{
		APIKey: "x", Backend: genai.BackendGeminiAPI,
		HTTPOptions: genai.HTTPOptions{BaseURL: h.url + "/simulator/gemini/"},
	})
	require.NoError(t, err)
	config := &genai.GenerateContentConfig{
		SystemInstruction: genai.NewContentFromText("Answer as a shop assistant, in JSON.", genai.RoleUser),
		ResponseMIMEType:  "application/json",
	}
	history := []*genai.Content{
		genai.NewContentFromText("Hola", genai.RoleUser),
		genai.NewContentFromText(`{"reply":"¡Hola!","handoff":false}`, genai.RoleModel),
		genai.NewContentFromText("Quiero hablar con una persona", genai.RoleUser),
	}
	resp, err := client.Models.GenerateContent(t.Context(), "gemini-2.5-flash", history, config)
	require.NoError(t, err)
	var reply simulator.BotReply
	require.NoError(t, json.Unmarshal([]byte(resp.Text()), &reply))
	require.True(t, reply.Handoff)
	require.Equal(t, "Claro, te comunico con un agente. En breve una persona te atenderá.", reply.Reply)
	require.Equal(t, "gemini-2.5-flash", resp.ModelVersion)
	require.Positive(t, resp.UsageMetadata.TotalTokenCount)

	// The recorded request shows the context the client sent.
	requests := h.sim.GeminiRequests()
	require.Len(t, requests, 1)
	require.Equal(t, "gemini-2.5-flash", requests[0].Model)
	var sent struct {
		Contents []struct {
			Role string `json:"role"`
		} `json:"contents"`
		SystemInstruction struct {
			Parts []struct {
				Text string `json:"text"`
			} `json:"parts"`
		} `json:"systemInstruction"`
	}
	require.NoError(t, json.Unmarshal(requests[0].Body, &sent))
	require.Len(t, sent.Contents, 3)
	require.Equal(t, "Answer as a shop assistant, in JSON.", sent.SystemInstruction.Parts[0].Text)

	h.sim.SetFaults(simulator.Faults{GeminiFailNext: []int{429}})
	_, err = client.Models.GenerateContent(t.Context(), "gemini-2.5-flash", history, config)
	var apiErr genai.APIError
	require.True(t, errors.As(err, &apiErr), "got %v", err)
	require.Equal(t, 429, apiErr.Code)
	require.Equal(t, "RESOURCE_EXHAUSTED", apiErr.Status)
}
