package simulator

import (
	"embed"
	"encoding/json"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"
)

// The phone page (GET /simulator/phone) plays one or more customers in a browser: it sends their
// messages through POST /simulator/phone/messages and shows the chat each customer sees, read
// from GET /simulator/phone/chats/{wa_id}, which the page polls. Files are embedded, with the
// same strict Content-Security-Policy as the agent panel: no inline code.

//go:embed phoneui
var phoneUI embed.FS

// PhoneMessage is one message of a customer's chat as their phone shows it.
type PhoneMessage struct {
	// ID is the message's wamid.
	ID string    `json:"id"`
	At time.Time `json:"at"`
	// From is "customer" or "business".
	From string `json:"from"`
	Type string `json:"type"`
	// Text is what the phone shows: the text, a caption, or the readable text of a business
	// message (a template with its parameters filled in).
	Text string `json:"text"`
	// Status of a customer's message: "delivered" (the business's webhook took it), "failed"
	// (it did not), "read" (the business sent a read receipt for it or a later message).
	Status string `json:"status,omitempty"`
	// Interactive is a business interactive message in Meta's shape (buttons, list rows), for
	// the page to offer them.
	Interactive json.RawMessage `json:"interactive,omitempty"`
}

// phoneEntry is a message a customer sent through the fake phone.
type phoneEntry struct {
	waID string
	msg  PhoneMessage
}

// recordPhone keeps a customer's message for the phone page's chat.
func (s *Simulator) recordPhone(waID string, m PhoneMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.phone = append(s.phone, phoneEntry{waID: waID, msg: m})
}

// PhoneChat is the chat of customer waID in time order: what they sent through the fake phone
// and what the business sent them (accepted sends only, as a refused one never reaches a phone).
func (s *Simulator) PhoneChat(waID string) []PhoneMessage {
	chat := []PhoneMessage{}
	read := map[string]bool{}
	s.mu.Lock()
	for _, e := range s.phone {
		if e.waID == waID {
			chat = append(chat, e.msg)
		}
	}
	for _, send := range s.sends {
		if send.Type == "read" && send.ReadMessageID != "" {
			read[send.ReadMessageID] = true
			continue
		}
		if send.To != waID || send.WAMessageID == "" {
			continue
		}
		m := PhoneMessage{ID: send.WAMessageID, At: send.At, From: "business", Type: send.Type, Text: send.Body}
		if send.Type == "interactive" {
			var raw struct {
				Interactive json.RawMessage `json:"interactive"`
			}
			if json.Unmarshal(send.Raw, &raw) == nil {
				m.Interactive = raw.Interactive
			}
		}
		chat = append(chat, m)
	}
	s.mu.Unlock()
	slices.SortStableFunc(chat, func(a, b PhoneMessage) int { return a.At.Compare(b.At) })
	// A read receipt marks that message and every earlier one of the customer read, as
	// WhatsApp shows it.
	for i := len(chat) - 1; i >= 0; i-- {
		if chat[i].From != "customer" || !read[chat[i].ID] {
			continue
		}
		for j := i; j >= 0; j-- {
			if chat[j].From == "customer" && chat[j].Status == "delivered" {
				chat[j].Status = "read"
			}
		}
		break
	}
	return chat
}

func (s *Simulator) handlePhoneChat(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, s.PhoneChat(strings.TrimPrefix(r.PathValue("wa_id"), "+")))
}

// handlePhonePage serves the page and its two files.
func (s *Simulator) handlePhonePage(w http.ResponseWriter, r *http.Request) {
	name := "phone.html"
	if f := r.PathValue("file"); f != "" {
		name = f
	}
	b, err := phoneUI.ReadFile("phoneui/" + name)
	if err != nil || strings.Contains(name, "/") {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-cache")
	switch path.Ext(name) {
	case ".html":
		h.Set("Content-Type", "text/html; charset=utf-8")
	case ".js":
		h.Set("Content-Type", "text/javascript; charset=utf-8")
	case ".css":
		h.Set("Content-Type", "text/css; charset=utf-8")
	}
	_, _ = w.Write(b)
}
