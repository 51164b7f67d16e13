package simulator

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

const (
	// CustomerServiceWindow is how long after a customer's last message the
	// business may send them free-form messages; after it, only templates.
	CustomerServiceWindow = 24 * time.Hour

	// codeReengagement is Meta's code for a free-form message outside the window.
	codeReengagement = 131047
	// reengagementDetails is Meta's error_data.details of codeReengagement.
	reengagementDetails = "Message failed to send because more than 24 hours have passed since the customer last replied to this number."
)

// WindowSettings say whether and how the simulator enforces the 24-hour
// customer-service window. In JSON (GET and PUT /simulator/window) they are
// {"enforce":true,"fail_async":false}.
type WindowSettings struct {
	// Enforce refuses a free-form send (any type but template) to a customer
	// whose last message to the business number is more than 24 hours old, or
	// who never wrote, with Meta's error 131047.
	Enforce bool `json:"enforce"`
	// FailAsync reports 131047 the way Cloud API usually does instead of in the
	// answer: the send is accepted with a wamid, then a failed status webhook
	// carries the error (with AutoStatuses on). The record has the wamid and
	// ErrorCode 131047.
	FailAsync bool `json:"fail_async"`
}

// SetWindow replaces the window settings, for example to turn enforcement on in
// a test of an application whose simulator was created without it.
func (s *Simulator) SetWindow(ws WindowSettings) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.window = ws
}

// Window returns the window settings.
func (s *Simulator) Window() WindowSettings {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.window
}

// normalizeWaID makes "+16505551234" and "16505551234" the same customer.
func normalizeWaID(waID string) string {
	return strings.TrimPrefix(strings.TrimSpace(waID), "+")
}

// SetLastInbound sets when a customer last wrote to the business number, as if
// the fake phone had sent a message then; tests age a window with it. A zero
// time forgets the customer, as if they never wrote.
func (s *Simulator) SetLastInbound(waID string, at time.Time) {
	waID = normalizeWaID(waID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if at.IsZero() {
		delete(s.lastInbound, waID)
		return
	}
	s.lastInbound[waID] = at
}

// LastInbound returns when a customer last wrote to the business number through
// the fake phone (or SetLastInbound), and false if never.
func (s *Simulator) LastInbound(waID string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.lastInbound[normalizeWaID(waID)]
	return at, ok
}

// windowOpen reports whether a free-form message may go to waID at now: the
// customer wrote at most 24 hours before.
func (s *Simulator) windowOpen(waID string, now time.Time) bool {
	at, ok := s.LastInbound(waID)
	return ok && !now.After(at.Add(CustomerServiceWindow))
}

func (s *Simulator) handleGetWindow(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Window())
}

func (s *Simulator) handlePutWindow(w http.ResponseWriter, r *http.Request) {
	var ws WindowSettings
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ws); err != nil {
		writeAPIError(w, http.StatusBadRequest, "invalid_json", `The body must be {"enforce":bool,"fail_async":bool}: `+err.Error())
		return
	}
	s.SetWindow(ws)
	writeJSON(w, http.StatusOK, s.Window())
}

// customerWindow answers GET and PUT /simulator/customers/{wa_id}.
type customerWindow struct {
	WaID           string     `json:"wa_id"`
	LastInboundAt  *time.Time `json:"last_inbound_at"`
	WindowOpen     bool       `json:"window_open"`
	WindowClosesAt *time.Time `json:"window_closes_at"`
}

func (s *Simulator) customerWindow(waID string) customerWindow {
	cw := customerWindow{WaID: normalizeWaID(waID)}
	if at, ok := s.LastInbound(waID); ok {
		closes := at.Add(CustomerServiceWindow)
		cw.LastInboundAt, cw.WindowClosesAt = &at, &closes
		cw.WindowOpen = s.windowOpen(waID, time.Now())
	}
	return cw
}

func (s *Simulator) handleGetCustomer(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.customerWindow(r.PathValue("wa_id")))
}

// handlePutCustomer sets a customer's last inbound time:
// {"last_inbound_at":"2025-06-01T10:00:00Z"}, or null to forget it.
func (s *Simulator) handlePutCustomer(w http.ResponseWriter, r *http.Request) {
	waID := normalizeWaID(r.PathValue("wa_id"))
	if !isDigits(waID) {
		writeAPIError(w, http.StatusBadRequest, "invalid_wa_id", "wa_id must be a phone number made of digits")
		return
	}
	var in struct {
		LastInboundAt *time.Time `json:"last_inbound_at"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		writeAPIError(w, http.StatusBadRequest, "invalid_json", `The body must be {"last_inbound_at": an RFC 3339 time or null}: `+err.Error())
		return
	}
	var at time.Time
	if in.LastInboundAt != nil {
		at = *in.LastInboundAt
	}
	s.SetLastInbound(waID, at)
	writeJSON(w, http.StatusOK, s.customerWindow(waID))
}
