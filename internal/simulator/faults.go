package simulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"time"
)

// Faults are the failures the simulator injects, to test retries, throttling and
// timeouts against real HTTP. The zero value injects nothing. In JSON (GET and
// PUT /simulator/faults) durations are strings such as "250ms".
type Faults struct {
	// Latency delays every Graph API answer.
	Latency time.Duration
	// ErrorRates maps a Meta error code to the probability (0..1) that a send is
	// refused with it. Codes are rolled in ascending order.
	ErrorRates map[int]float64
	// TimeoutRate is the probability that a send hangs until the client gives up.
	TimeoutRate float64
	// FailNext are Meta codes answered to the next sends, one per send, in order.
	// 500 answers a plain HTTP 500 with a non-JSON body; 429 answers HTTP 429 with
	// code 130429. FailNext is consumed before the rates are rolled.
	FailNext []int
	// GeminiFailNext are HTTP statuses (429, 500, 503, ...) answered to the next
	// Gemini calls, one per call, in Google's error shape.
	GeminiFailNext []int
	// GeminiLatency delays every Gemini answer.
	GeminiLatency time.Duration
	// LostAnswerRate is the probability (0..1) that a send that would otherwise be
	// accepted is a lost answer: Meta takes the message (it gets a wamid and its
	// status webhooks) but the HTTP answer never reaches the client, which cannot
	// tell whether the message went out. It is rolled after every other fault.
	LostAnswerRate float64
	// LostAnswerNext makes the next N sends that would otherwise be accepted lost
	// answers, one per send. It is consumed before LostAnswerRate is rolled.
	LostAnswerNext int
	// LostAnswerHang makes a lost answer hang until the client gives up or the
	// simulator closes, like a timeout, instead of closing the connection at once.
	LostAnswerHang bool
	// MediaFailNext makes the next N media downloads (with a valid URL) answer a
	// plain HTTP 500, one per download.
	MediaFailNext int
	// MediaCorruptNext makes the next N media downloads that are not failed serve
	// bytes that do not match the announced sha256 (same size, one byte changed).
	MediaCorruptNext int
	// UploadFailNext are Meta codes answered to the next media uploads, one per upload, in order
	// (131053 for a file Meta refuses, 131000 or 500 for a failure worth retrying).
	UploadFailNext []int
}

// faultsJSON is the wire form of Faults.
type faultsJSON struct {
	Latency          string          `json:"latency"`
	ErrorRates       map[int]float64 `json:"error_rates"`
	TimeoutRate      float64         `json:"timeout_rate"`
	FailNext         []int           `json:"fail_next"`
	GeminiFailNext   []int           `json:"gemini_fail_next"`
	GeminiLatency    string          `json:"gemini_latency"`
	LostAnswerRate   float64         `json:"lost_answer_rate"`
	LostAnswerNext   int             `json:"lost_answer_next"`
	LostAnswerHang   bool            `json:"lost_answer_hang"`
	MediaFailNext    int             `json:"media_fail_next"`
	MediaCorruptNext int             `json:"media_corrupt_next"`
	UploadFailNext   []int           `json:"upload_fail_next"`
}

// MarshalJSON writes durations as strings, readable by the humans who inject
// faults with curl.
func (f Faults) MarshalJSON() ([]byte, error) {
	return json.Marshal(faultsJSON{
		Latency:          f.Latency.String(),
		ErrorRates:       nonNilMap(f.ErrorRates),
		TimeoutRate:      f.TimeoutRate,
		FailNext:         nonNilSlice(f.FailNext),
		GeminiFailNext:   nonNilSlice(f.GeminiFailNext),
		GeminiLatency:    f.GeminiLatency.String(),
		LostAnswerRate:   f.LostAnswerRate,
		LostAnswerNext:   f.LostAnswerNext,
		LostAnswerHang:   f.LostAnswerHang,
		MediaFailNext:    f.MediaFailNext,
		MediaCorruptNext: f.MediaCorruptNext,
		UploadFailNext:   nonNilSlice(f.UploadFailNext),
	})
}

// UnmarshalJSON reads durations as strings ("250ms"); a missing field is zero.
func (f *Faults) UnmarshalJSON(data []byte) error {
	var wire faultsJSON
	if err := json.Unmarshal(data, &wire); err != nil {
		return err
	}
	latency, err := parseDuration(wire.Latency)
	if err != nil {
		return fmt.Errorf("latency: %w", err)
	}
	geminiLatency, err := parseDuration(wire.GeminiLatency)
	if err != nil {
		return fmt.Errorf("gemini_latency: %w", err)
	}
	*f = Faults{
		Latency: latency, ErrorRates: wire.ErrorRates, TimeoutRate: wire.TimeoutRate,
		FailNext: wire.FailNext, GeminiFailNext: wire.GeminiFailNext, GeminiLatency: geminiLatency,
		LostAnswerRate: wire.LostAnswerRate, LostAnswerNext: wire.LostAnswerNext, LostAnswerHang: wire.LostAnswerHang,
		MediaFailNext: wire.MediaFailNext, MediaCorruptNext: wire.MediaCorruptNext, UploadFailNext: wire.UploadFailNext,
	}
	return nil
}

func parseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	return time.ParseDuration(s)
}

func nonNilMap(m map[int]float64) map[int]float64 {
	if m == nil {
		return map[int]float64{}
	}
	return m
}

func nonNilSlice(s []int) []int {
	if s == nil {
		return []int{}
	}
	return s
}

// validate rejects faults that cannot be applied, so a typo in a PUT is reported
// instead of silently injecting nothing.
func (f *Faults) validate() error {
	var errs []error
	if f.Latency < 0 || f.GeminiLatency < 0 {
		errs = append(errs, errors.New("latencies must not be negative"))
	}
	if f.TimeoutRate < 0 || f.TimeoutRate > 1 {
		errs = append(errs, errors.New("timeout_rate must be between 0 and 1"))
	}
	if f.LostAnswerRate < 0 || f.LostAnswerRate > 1 {
		errs = append(errs, errors.New("lost_answer_rate must be between 0 and 1"))
	}
	if f.LostAnswerNext < 0 {
		errs = append(errs, fmt.Errorf("lost_answer_next %d must not be negative", f.LostAnswerNext))
	}
	if f.MediaFailNext < 0 || f.MediaCorruptNext < 0 {
		errs = append(errs, errors.New("media_fail_next and media_corrupt_next must not be negative"))
	}
	for code, rate := range f.ErrorRates {
		if code <= 0 || rate < 0 || rate > 1 {
			errs = append(errs, fmt.Errorf("error_rates[%d] = %v: want a positive code and a rate between 0 and 1", code, rate))
		}
	}
	for _, code := range f.FailNext {
		if code <= 0 {
			errs = append(errs, fmt.Errorf("fail_next code %d must be positive", code))
		}
	}
	for _, code := range f.UploadFailNext {
		if code <= 0 {
			errs = append(errs, fmt.Errorf("upload_fail_next code %d must be positive", code))
		}
	}
	for _, status := range f.GeminiFailNext {
		if status < 400 || status > 599 {
			errs = append(errs, fmt.Errorf("gemini_fail_next status %d must be an HTTP error status", status))
		}
	}
	return errors.Join(errs...)
}

func (f Faults) clone() Faults {
	f.ErrorRates = maps.Clone(f.ErrorRates)
	f.FailNext = slices.Clone(f.FailNext)
	f.GeminiFailNext = slices.Clone(f.GeminiFailNext)
	f.UploadFailNext = slices.Clone(f.UploadFailNext)
	return f
}

// SetFaults replaces the injected faults. It copies f, so the caller may reuse it.
func (s *Simulator) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f.clone()
}

// currentFaults returns a copy of the faults, with FailNext lists and
// LostAnswerNext as still pending.
func (s *Simulator) currentFaults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults.clone()
}

// takeFault decides the fault of one send: the next FailNext code, else a timeout
// or an error code rolled from the rates. It returns the code to answer (0 for
// none) and the fault's name for the record.
func (s *Simulator) takeFault() (int, string) {
	s.mu.Lock()
	if len(s.faults.FailNext) > 0 {
		code := s.faults.FailNext[0]
		s.faults.FailNext = s.faults.FailNext[1:]
		s.mu.Unlock()
		return code, "fail_next"
	}
	timeoutRate := s.faults.TimeoutRate
	rates := maps.Clone(s.faults.ErrorRates)
	s.mu.Unlock()

	if timeoutRate > 0 && rand.Float64() < timeoutRate {
		return 0, "timeout"
	}
	for _, code := range slices.Sorted(maps.Keys(rates)) {
		if rate := rates[code]; rate > 0 && rand.Float64() < rate {
			return code, "error_rate"
		}
	}
	return 0, ""
}

// takeLostAnswer decides whether a send that passed every other fault loses its
// answer: LostAnswerNext first, then LostAnswerRate. It also reports whether the
// lost answer hangs instead of closing the connection.
func (s *Simulator) takeLostAnswer() (lost, hang bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	hang = s.faults.LostAnswerHang
	if s.faults.LostAnswerNext > 0 {
		s.faults.LostAnswerNext--
		return true, hang
	}
	rate := s.faults.LostAnswerRate
	return rate > 0 && rand.Float64() < rate, hang
}

// takeMediaFault decides the fault of one media download: a plain 500
// (MediaFailNext) first, else corrupt bytes (MediaCorruptNext).
func (s *Simulator) takeMediaFault() (fail, corrupt bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults.MediaFailNext > 0 {
		s.faults.MediaFailNext--
		return true, false
	}
	if s.faults.MediaCorruptNext > 0 {
		s.faults.MediaCorruptNext--
		return false, true
	}
	return false, false
}

// takeUploadFault returns the Meta code to answer the next media upload with, or 0.
func (s *Simulator) takeUploadFault() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.faults.UploadFailNext) == 0 {
		return 0
	}
	code := s.faults.UploadFailNext[0]
	s.faults.UploadFailNext = s.faults.UploadFailNext[1:]
	return code
}

// takeGeminiFault returns the next injected Gemini status, or 0.
func (s *Simulator) takeGeminiFault() (int, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	latency := s.faults.GeminiLatency
	if len(s.faults.GeminiFailNext) == 0 {
		return 0, latency
	}
	status := s.faults.GeminiFailNext[0]
	s.faults.GeminiFailNext = s.faults.GeminiFailNext[1:]
	return status, latency
}

func (s *Simulator) handleGetFaults(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.currentFaults())
}

func (s *Simulator) handlePutFaults(w http.ResponseWriter, r *http.Request) {
	var f Faults
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err := dec.Decode(&f); err != nil {
		writeAPIError(w, http.StatusBadRequest, "invalid_json", "The body must be a JSON faults object: "+err.Error())
		return
	}
	if err := f.validate(); err != nil {
		writeAPIError(w, http.StatusBadRequest, "invalid_faults", err.Error())
		return
	}
	s.SetFaults(f)
	writeJSON(w, http.StatusOK, s.currentFaults())
}
