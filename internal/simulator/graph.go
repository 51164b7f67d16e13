package simulator

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wainbox/wainbox/internal/waformat"
	"github.com/wainbox/wainbox/internal/whatsapp"
)

const (
	// maxTextBody is Meta's limit for text.body, counted in characters.
	maxTextBody = 4096
	// maxCallbackData is Meta's limit for biz_opaque_callback_data.
	maxCallbackData = 512
	// plainHTTP500 and plainHTTP429 are the pseudo-codes of Faults.FailNext for a
	// plain HTTP 500 and for HTTP 429 with Meta's code 130429.
	plainHTTP500 = 500
	plainHTTP429 = 429
)

// knownType reports whether the fake Graph API accepts a message type. Text is
// validated here, the others' payloads with waformat in checkPayload.
func knownType(t string) bool {
	switch t {
	case "text", "image", "video", "audio", "document", "sticker",
		"location", "contacts", "interactive", "template", "reaction":
		return true
	}
	return false
}

// graphRequest is what the fake reads from a send or mark-as-read body.
type graphRequest struct {
	MessagingProduct string `json:"messaging_product"`
	RecipientType    string `json:"recipient_type"`
	To               string `json:"to"`
	Type             string `json:"type"`
	Text             *struct {
		Body *string `json:"body"`
	} `json:"text"`
	BizOpaqueCallbackData string `json:"biz_opaque_callback_data"`
	Status                string `json:"status"`
	MessageID             string `json:"message_id"`
}

// graphError is one answer in Meta's error shape.
type graphError struct {
	HTTPStatus int
	Code       int
	Subcode    int
	Type       string
	Message    string
	Details    string
}

func (s *Simulator) handleGraphMessages(w http.ResponseWriter, r *http.Request) {
	// Reading the whole body first also lets the server notice a client that hangs up.
	raw, readErr := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	send := Send{At: time.Now(), PhoneNumberID: r.PathValue("phone_number_id"), Raw: raw}

	s.mu.Lock()
	latency := s.faults.Latency
	s.mu.Unlock()
	if !s.sleep(r.Context(), latency) {
		send.Fault = "client_gone"
		s.record(send)
		return
	}

	var req graphRequest
	decodeErr := json.Unmarshal(raw, &req)
	send.To, send.Type, send.BizOpaqueCallbackData = req.To, req.Type, req.BizOpaqueCallbackData
	if req.Text != nil && req.Text.Body != nil {
		send.Body = *req.Text.Body
	}
	if req.Status == "read" {
		send.Type, send.ReadMessageID = "read", req.MessageID
	}

	if gerr := s.checkRequest(r, send.PhoneNumberID, raw, readErr, decodeErr, &req); gerr != nil {
		s.refuse(w, send, gerr, "")
		return
	}
	if req.Status == "read" {
		// Faults are not applied to mark-as-read, so that reads never consume a
		// FailNext code meant for a send.
		s.record(send)
		writeJSON(w, http.StatusOK, map[string]bool{"success": true})
		return
	}
	send.Type = req.Type // checkRequest applied Meta's default type
	if gerr := s.checkPayload(raw, &send); gerr != nil {
		s.refuse(w, send, gerr, "")
		return
	}
	to := strings.TrimPrefix(req.To, "+")
	if ws := s.Window(); ws.Enforce && send.Type != waformat.TypeTemplate && !s.windowOpen(to, time.Now()) {
		gerr := invalidParam(codeReengagement, reengagementDetails)
		if !ws.FailAsync {
			s.refuse(w, send, gerr, "")
			return
		}
		// Cloud API takes the message and fails it afterwards: a wamid now, the
		// error in a failed status webhook. Faults are not rolled for it.
		send.WAMessageID, send.ErrorCode = newWAMID(), gerr.Code
		s.record(send)
		writeJSON(w, http.StatusOK, sendResponse(req.To, to, send.WAMessageID))
		s.startFailure(send.WAMessageID, to, send.BizOpaqueCallbackData, gerr)
		return
	}

	switch code, fault := s.takeFault(); {
	case fault == "timeout":
		send.Fault = fault
		s.record(send)
		select {
		case <-r.Context().Done():
		case <-s.ctx.Done():
			http.Error(w, "simulator closed", http.StatusServiceUnavailable)
		}
		return
	case code != 0:
		s.refuse(w, send, faultError(code), fault)
		return
	}

	send.WAMessageID = newWAMID()
	lost, hang := s.takeLostAnswer()
	if lost {
		send.Fault = "lost_answer"
	}
	s.record(send)
	if lost {
		// The message went out, so its statuses come as for any accepted send;
		// only the answer that would tell the client so is lost.
		s.startStatuses(send.WAMessageID, to, send.BizOpaqueCallbackData)
		s.loseAnswer(w, r, hang)
		return
	}
	writeJSON(w, http.StatusOK, sendResponse(req.To, to, send.WAMessageID))
	s.startStatuses(send.WAMessageID, to, send.BizOpaqueCallbackData)
}

// sendResponse is Meta's answer to an accepted send.
func sendResponse(input, waID, wamid string) whatsapp.SendResponse {
	return whatsapp.SendResponse{
		MessagingProduct: whatsapp.MessagingProduct,
		Contacts:         []whatsapp.SendContact{{Input: input, WaID: waID}},
		Messages:         []whatsapp.SentMessage{{ID: wamid}},
	}
}

// startFailure posts the failed status webhook of an accepted send in the
// background when AutoStatuses is on.
func (s *Simulator) startFailure(wamid, recipient, callbackData string, gerr *graphError) {
	if s.autoStatuses && s.webhookURL != "" {
		s.goBackground(func() { s.postFailure(wamid, recipient, callbackData, gerr) })
	}
}

// startStatuses posts the status webhooks of an accepted send in the background
// when AutoStatuses is on.
func (s *Simulator) startStatuses(wamid, recipient, callbackData string) {
	if s.autoStatuses && s.webhookURL != "" {
		s.goBackground(func() { s.postStatuses(wamid, recipient, callbackData) })
	}
}

// loseAnswer ends the request of an accepted send without answering it, as when
// Meta's answer is lost to a timeout or a reset connection: it closes the TCP
// connection without writing a byte, after waiting for the client to give up or
// the simulator to close when hang is set. The client sees a transport error and
// cannot tell that the message went out.
func (s *Simulator) loseAnswer(w http.ResponseWriter, r *http.Request, hang bool) {
	if hang {
		select {
		case <-r.Context().Done():
		case <-s.ctx.Done():
		}
	}
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// HTTP/2 and writers that cannot be hijacked: aborting the handler resets
		// the stream or closes the connection, still without an answer.
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close() // the client learns nothing either way
}

// checkToken checks the bearer token of a Graph API request as Meta does.
func (s *Simulator) checkToken(r *http.Request) *graphError {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || strings.TrimSpace(token) == "" {
		return &graphError{HTTPStatus: http.StatusUnauthorized, Code: 190, Type: "OAuthException",
			Message: "An active access token must be used to query information about the current user.",
			Details: "The request has no bearer access token."}
	}
	if s.Number().TokenExpired {
		return tokenExpired()
	}
	if s.accessToken != "" && token != s.accessToken {
		return &graphError{HTTPStatus: http.StatusUnauthorized, Code: 190, Subcode: 463, Type: "OAuthException",
			Message: "Error validating access token: The session is invalid.",
			Details: "The access token is not the one this simulator was configured with."}
	}
	return nil
}

// unknownObject is Meta's answer for an object id it does not know, such as a
// phone number id or a business account id other than the simulator's own.
func unknownObject(method, id, known string) *graphError {
	return &graphError{HTTPStatus: http.StatusBadRequest, Code: 100, Subcode: 33, Type: "GraphMethodException",
		Message: fmt.Sprintf("Unsupported %s request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation.", method, id),
		Details: "This simulator only knows " + known + "."}
}

// checkRequest validates a messages request in Meta's order: token, phone number
// id, then the body.
func (s *Simulator) checkRequest(r *http.Request, phoneNumberID string, raw []byte, readErr, decodeErr error, req *graphRequest) *graphError {
	if gerr := s.checkToken(r); gerr != nil {
		return gerr
	}
	if phoneNumberID != s.phoneNumberID {
		return unknownObject("post", phoneNumberID, "phone number id "+s.phoneNumberID)
	}
	switch {
	case readErr != nil || len(raw) > maxBodyBytes:
		return invalidParam(100, "The request body could not be read.")
	case decodeErr != nil:
		return invalidParam(100, "The request body is not valid JSON.")
	case req.MessagingProduct == "":
		return invalidParam(100, "The parameter messaging_product is required.")
	case req.MessagingProduct != whatsapp.MessagingProduct:
		return invalidParam(100, "Param messaging_product must be one of {WHATSAPP}.")
	}
	if req.Status != "" {
		switch {
		case req.Status != "read":
			return invalidParam(100, "Param status must be one of {READ}.")
		case req.MessageID == "":
			return invalidParam(100, "The parameter message_id is required.")
		}
		return nil
	}
	if req.Type == "" {
		req.Type = "text" // Meta's default type
	}
	switch to := strings.TrimPrefix(req.To, "+"); {
	case req.To == "":
		return invalidParam(100, "The parameter to is required.")
	case !isDigits(to):
		return invalidParam(131009, "Param to must be a phone number made of digits.")
	case req.RecipientType != "" && req.RecipientType != "individual":
		return invalidParam(100, "Param recipient_type must be one of {INDIVIDUAL}.")
	case !knownType(req.Type):
		return invalidParam(131009, fmt.Sprintf("Param type %q is not a valid message type.", req.Type))
	case utf8.RuneCountInString(req.BizOpaqueCallbackData) > maxCallbackData:
		return invalidParam(131009, "Param biz_opaque_callback_data must be at most 512 characters long.")
	}
	if req.Type == "text" {
		switch {
		case req.Text == nil || req.Text.Body == nil:
			return invalidParam(100, "The parameter text['body'] is required.")
		case strings.TrimSpace(*req.Text.Body) == "":
			return invalidParam(131009, "Param text['body'] must be a non-empty string.")
		case utf8.RuneCountInString(*req.Text.Body) > maxTextBody:
			return invalidParam(131009, "Param text['body'] must be at most 4096 characters long.")
		}
		return nil
	}
	var objects map[string]json.RawMessage
	_ = json.Unmarshal(raw, &objects) // raw already decoded once above
	if obj, ok := objects[req.Type]; !ok || bytes.Equal(obj, []byte("null")) {
		return invalidParam(100, fmt.Sprintf("The parameter %s is required.", req.Type))
	}
	return nil
}

func invalidParam(code int, details string) *graphError {
	title := "Invalid parameter"
	if info, ok := whatsapp.LookupError(code); ok {
		title = info.Title
	} else if t, ok := extraTitles[code]; ok {
		title = t
	}
	return &graphError{HTTPStatus: http.StatusBadRequest, Code: code, Type: "OAuthException",
		Message: fmt.Sprintf("(#%d) %s", code, title), Details: details}
}

// faultError is the answer for an injected Meta code. Meta answers most errors
// with HTTP 400; this simulator uses 401 for 190, 429 for 130429, 500 for 1 and
// 131000, and 503 for 2, 131016 and 133004, so that both the code and the status
// paths of the client are exercised.
func faultError(code int) *graphError {
	status := http.StatusBadRequest
	switch code {
	case plainHTTP500:
		return &graphError{HTTPStatus: http.StatusInternalServerError, Code: plainHTTP500}
	case plainHTTP429:
		code, status = 130429, http.StatusTooManyRequests
	case 190:
		status = http.StatusUnauthorized
	case 130429:
		status = http.StatusTooManyRequests
	case 1, 131000:
		status = http.StatusInternalServerError
	case 2, 131016, 133004:
		status = http.StatusServiceUnavailable
	}
	title := "Simulated error"
	if info, ok := whatsapp.LookupError(code); ok {
		title = info.Title
	}
	return &graphError{HTTPStatus: status, Code: code, Type: "OAuthException",
		Message: fmt.Sprintf("(#%d) %s", code, title),
		Details: "Injected by the wainbox simulator: " + title + "."}
}

// refuse records a refused send and answers Meta's error, or a plain-text 500
// for the pseudo-code 500.
func (s *Simulator) refuse(w http.ResponseWriter, send Send, gerr *graphError, fault string) {
	send.ErrorCode = gerr.Code
	send.Fault = fault
	s.record(send)
	writeGraphError(w, gerr)
}

// writeGraphError answers Meta's error body, or a plain-text 500 for the
// pseudo-code 500.
func writeGraphError(w http.ResponseWriter, gerr *graphError) {
	if gerr.Code == plainHTTP500 {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, "<html><body>500 Internal Server Error</body></html>")
		return
	}
	type errorData struct {
		MessagingProduct string `json:"messaging_product"`
		Details          string `json:"details"`
	}
	type metaError struct {
		Message      string    `json:"message"`
		Type         string    `json:"type"`
		Code         int       `json:"code"`
		ErrorSubcode int       `json:"error_subcode,omitempty"`
		ErrorData    errorData `json:"error_data"`
		FBTraceID    string    `json:"fbtrace_id"`
	}
	writeJSON(w, gerr.HTTPStatus, map[string]metaError{"error": {
		Message: gerr.Message, Type: gerr.Type, Code: gerr.Code, ErrorSubcode: gerr.Subcode,
		ErrorData: errorData{MessagingProduct: whatsapp.MessagingProduct, Details: gerr.Details},
		FBTraceID: newTraceID(),
	}})
}

// newTraceID returns an id in the look of Meta's fbtrace_id.
func newTraceID() string {
	return "A" + strings.NewReplacer("+", "x", "/", "y").Replace(base64.RawStdEncoding.EncodeToString(randomBytes(16)))
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
