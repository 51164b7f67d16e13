package simulator

import (
	"encoding/json"
	"net/http"

	"github.com/wainbox/wainbox/internal/whatsapp"
)

// NumberSettings are how the fake Graph API rates the business number (GET /{phone-number-id})
// and whether it treats the access token as expired. The zero value is replaced by a healthy
// number: GREEN, TIER_1K, STANDARD.
type NumberSettings struct {
	QualityRating      string `json:"quality_rating"`
	MessagingLimitTier string `json:"messaging_limit_tier"`
	ThroughputLevel    string `json:"throughput_level"`
	// TokenExpired makes every Graph API call answer 401 with code 190, as Meta does once a
	// system-user token has expired or been revoked: every send fails until it is replaced.
	TokenExpired bool `json:"token_expired"`
}

func defaultNumber() NumberSettings {
	return NumberSettings{QualityRating: "GREEN", MessagingLimitTier: "TIER_1K", ThroughputLevel: "STANDARD"}
}

// SetNumber changes the number's rating and the token's validity; empty fields keep their value.
func (s *Simulator) SetNumber(n NumberSettings) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n.QualityRating != "" {
		s.number.QualityRating = n.QualityRating
	}
	if n.MessagingLimitTier != "" {
		s.number.MessagingLimitTier = n.MessagingLimitTier
	}
	if n.ThroughputLevel != "" {
		s.number.ThroughputLevel = n.ThroughputLevel
	}
	s.number.TokenExpired = n.TokenExpired
}

// Number returns the number's current settings.
func (s *Simulator) Number() NumberSettings {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.number
}

// tokenExpired is Meta's answer to any call once the token has expired.
func tokenExpired() *graphError {
	return &graphError{HTTPStatus: http.StatusUnauthorized, Code: 190, Subcode: 463, Type: "OAuthException",
		Message: "Error validating access token: Session has expired.",
		Details: "The access token has expired (simulator number settings, token_expired)."}
}

// handleGraphObject serves GET /{version}/{id}: the business number when id is its id, media
// info otherwise (Meta's one path for every object).
func (s *Simulator) handleGraphObject(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("media_id") != s.phoneNumberID {
		s.handleMediaInfo(w, r)
		return
	}
	if gerr := s.checkToken(r); gerr != nil {
		writeGraphError(w, gerr)
		return
	}
	n := s.Number()
	out := whatsapp.PhoneNumber{
		ID: s.phoneNumberID, VerifiedName: "wainbox simulator", DisplayPhoneNumber: s.displayPhoneNumber,
		QualityRating: n.QualityRating, MessagingLimitTier: n.MessagingLimitTier, NameStatus: "APPROVED",
	}
	out.Throughput.Level = n.ThroughputLevel
	writeJSON(w, http.StatusOK, out)
}

func (s *Simulator) handleGetNumber(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Number())
}

func (s *Simulator) handlePutNumber(w http.ResponseWriter, r *http.Request) {
	var n NumberSettings
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&n); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be JSON number settings: " + err.Error()})
		return
	}
	s.SetNumber(n)
	writeJSON(w, http.StatusOK, s.Number())
}
