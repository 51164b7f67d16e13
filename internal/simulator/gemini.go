package simulator

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// GeminiAPIKey is the key wainbox's bot presents to the fake Gemini, which takes any: the Gemini
// client is not built without one.
const GeminiAPIKey = "simulator-gemini-key"

// GeminiRequest is one call received by the fake Gemini, kept so that tests can
// check the context the bot sent.
type GeminiRequest struct {
	Model string `json:"model"`
	Body  []byte `json:"body"`
}

// GeminiRequests returns a copy of every call the fake Gemini received, in order.
func (s *Simulator) GeminiRequests() []GeminiRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.geminiRequests)
}

// BotReply is the JSON object the fake Gemini puts in its reply text: the bot is
// expected to ask Gemini for exactly this shape.
type BotReply struct {
	Reply   string `json:"reply"`
	Handoff bool   `json:"handoff"`
}

type geminiContent struct {
	Role  string `json:"role,omitempty"`
	Parts []struct {
		Text string `json:"text,omitempty"`
	} `json:"parts"`
}

type geminiGenerateRequest struct {
	Contents          []geminiContent `json:"contents"`
	SystemInstruction *geminiContent  `json:"systemInstruction"`
}

type geminiPart struct {
	Text string `json:"text"`
}

type geminiResponse struct {
	Candidates    []geminiCandidate `json:"candidates"`
	UsageMetadata geminiUsage       `json:"usageMetadata"`
	ModelVersion  string            `json:"modelVersion"`
}

type geminiCandidate struct {
	Content      geminiReplyContent `json:"content"`
	FinishReason string             `json:"finishReason"`
	Index        int                `json:"index"`
}

type geminiReplyContent struct {
	Role  string       `json:"role"`
	Parts []geminiPart `json:"parts"`
}

type geminiUsage struct {
	PromptTokenCount     int `json:"promptTokenCount"`
	CandidatesTokenCount int `json:"candidatesTokenCount"`
	TotalTokenCount      int `json:"totalTokenCount"`
}

func (s *Simulator) handleGemini(w http.ResponseWriter, r *http.Request) {
	modelAction := r.PathValue("model_action")
	i := strings.LastIndexByte(modelAction, ':')
	if i <= 0 || modelAction[i+1:] != "generateContent" {
		writeGeminiError(w, http.StatusNotFound, "The simulator only implements models/{model}:generateContent.")
		return
	}
	model := modelAction[:i]
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		writeGeminiError(w, http.StatusBadRequest, "The request body could not be read.")
		return
	}
	s.mu.Lock()
	s.geminiRequests = append(s.geminiRequests, GeminiRequest{Model: model, Body: raw})
	s.mu.Unlock()

	status, latency := s.takeGeminiFault()
	if !s.sleep(r.Context(), latency) {
		return
	}
	if status != 0 {
		writeGeminiError(w, status, "Injected by the wainbox simulator.")
		return
	}
	var req geminiGenerateRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		writeGeminiError(w, http.StatusBadRequest, "Invalid JSON payload received.")
		return
	}
	if len(req.Contents) == 0 {
		writeGeminiError(w, http.StatusBadRequest, "* GenerateContentRequest.contents: contents is not specified")
		return
	}

	reply, err := json.Marshal(fakeBotReply(lastUserText(req.Contents)))
	if err != nil {
		writeGeminiError(w, http.StatusInternalServerError, "The simulator could not encode its reply.")
		return
	}
	promptCount, replyCount := promptTokens(&req), tokens(string(reply))
	resp := geminiResponse{
		Candidates: []geminiCandidate{{
			Content:      geminiReplyContent{Role: "model", Parts: []geminiPart{{Text: string(reply)}}},
			FinishReason: "STOP",
		}},
		UsageMetadata: geminiUsage{
			PromptTokenCount: promptCount, CandidatesTokenCount: replyCount, TotalTokenCount: promptCount + replyCount,
		},
		ModelVersion: model,
	}
	writeJSON(w, http.StatusOK, resp)
}

// lastUserText returns the text of the last user turn, which is what the fake
// answers.
func lastUserText(contents []geminiContent) string {
	for i := len(contents) - 1; i >= 0; i-- {
		c := contents[i]
		if c.Role != "" && c.Role != "user" {
			continue
		}
		var texts []string
		for _, p := range c.Parts {
			if p.Text != "" {
				texts = append(texts, p.Text)
			}
		}
		if len(texts) > 0 {
			return strings.Join(texts, "\n")
		}
	}
	return ""
}

// fakeBotReply answers deterministically: in Spanish when the text looks Spanish,
// handing off to a human when the customer asks for one.
func fakeBotReply(text string) BotReply {
	lower := strings.ToLower(text)
	spanish := looksSpanish(lower)
	handoff := false
	for _, word := range []string{"agente", "humano", "persona", "agent", "human"} {
		if strings.Contains(lower, word) {
			handoff = true
			break
		}
	}
	echo := text
	if utf8.RuneCountInString(echo) > 200 {
		echo = string([]rune(echo)[:200]) + "…"
	}
	switch {
	case spanish && handoff:
		return BotReply{Reply: "Claro, te comunico con un agente. En breve una persona te atenderá.", Handoff: true}
	case handoff:
		return BotReply{Reply: "Sure, I'm connecting you with an agent. A person will be with you shortly.", Handoff: true}
	case spanish:
		return BotReply{Reply: fmt.Sprintf("¡Hola! Soy el asistente virtual. Recibí tu mensaje: %q. ¿En qué más puedo ayudarte?", echo)}
	case strings.TrimSpace(text) == "":
		return BotReply{Reply: "Hi! I'm the virtual assistant. How can I help you today?"}
	default:
		return BotReply{Reply: fmt.Sprintf("Hi! I'm the virtual assistant. I got your message: %q. How else can I help?", echo)}
	}
}

func looksSpanish(lower string) bool {
	if strings.ContainsAny(lower, "áéíóúñ¿¡") {
		return true
	}
	for _, word := range strings.FieldsFunc(lower, func(r rune) bool { return !unicode.IsLetter(r) }) {
		switch word {
		case "hola", "gracias", "quiero":
			return true
		}
	}
	return false
}

// tokens estimates a token count the way a reader would: about four characters
// a token, at least one.
func tokens(s string) int {
	return max(1, (utf8.RuneCountInString(s)+3)/4)
}

func promptTokens(req *geminiGenerateRequest) int {
	var b strings.Builder
	contents := req.Contents
	if req.SystemInstruction != nil {
		contents = append([]geminiContent{*req.SystemInstruction}, contents...)
	}
	for _, c := range contents {
		for _, p := range c.Parts {
			b.WriteString(p.Text)
		}
	}
	return tokens(b.String())
}

// writeGeminiError answers in Google's error shape, with the status name Google
// uses for each HTTP status.
func writeGeminiError(w http.ResponseWriter, status int, message string) {
	name := map[int]string{
		http.StatusBadRequest:          "INVALID_ARGUMENT",
		http.StatusUnauthorized:        "UNAUTHENTICATED",
		http.StatusForbidden:           "PERMISSION_DENIED",
		http.StatusNotFound:            "NOT_FOUND",
		http.StatusTooManyRequests:     "RESOURCE_EXHAUSTED",
		http.StatusInternalServerError: "INTERNAL",
		http.StatusServiceUnavailable:  "UNAVAILABLE",
		http.StatusGatewayTimeout:      "DEADLINE_EXCEEDED",
	}[status]
	if name == "" {
		name = "UNKNOWN"
	}
	writeJSON(w, status, map[string]any{"error": map[string]any{
		"code": status, "message": message, "status": name,
	}})
}
