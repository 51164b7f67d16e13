package simulator

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wainbox/wainbox/internal/waformat"
)

const (
	// DefaultTemplateReviewDelay is how long a template created through the fake
	// Graph API stays PENDING before the simulator approves it. Meta reviews take
	// minutes to a day; two seconds keeps a demo moving.
	DefaultTemplateReviewDelay = 2 * time.Second

	// defaultTemplatePage is the Graph API's default page size; maxTemplatePage
	// is the simulator's cap on limit (larger values are cut to it, as the Graph
	// API cuts silently).
	defaultTemplatePage = 25
	maxTemplatePage     = 100

	// firstTemplateID numbers the seeded templates; created ones follow. Meta's
	// template ids are numbers of this size, written as strings.
	firstTemplateID = 1000000000000001

	// fieldTemplateStatus is the webhook field of template status changes.
	fieldTemplateStatus = "message_template_status_update"
)

// seedTemplates are the templates of the simulator's business account when it
// starts: Meta's hello_world, one with a text header parameter, positional body
// parameters and a URL button with a dynamic suffix, one with named parameters
// and quick replies, one rejected and one paused.
func seedTemplates() []waformat.Template {
	return []waformat.Template{
		{
			Name: "hello_world", Language: "en_US", Status: waformat.StatusApproved, Category: waformat.CategoryUtility,
			ParameterFormat: waformat.ParameterFormatPositional,
			Components:      []waformat.Component{{Type: waformat.ComponentBody, Text: "Hello World"}},
		},
		{
			Name: "order_shipped", Language: "en_US", Status: waformat.StatusApproved, Category: waformat.CategoryUtility,
			ParameterFormat: waformat.ParameterFormatPositional,
			Components: []waformat.Component{
				{Type: waformat.ComponentHeader, Format: waformat.FormatText, Text: "Order {{1}} shipped",
					Example: &waformat.Example{HeaderText: []string{"A-1001"}}},
				{Type: waformat.ComponentBody, Text: "Hi {{1}}, your order {{2}} is on its way and should arrive on {{3}}.",
					Example: &waformat.Example{BodyText: [][]string{{"Ana", "A-1001", "Tuesday"}}}},
				{Type: waformat.ComponentFooter, Text: "Reply STOP to opt out"},
				{Type: waformat.ComponentButtons, Buttons: []waformat.Button{
					{Type: waformat.ButtonURL, Text: "Track order", URL: "https://shop.example.com/track/{{1}}",
						Example: []string{"https://shop.example.com/track/A-1001"}},
					{Type: waformat.ButtonPhoneNumber, Text: "Call us", PhoneNumber: "+15550783881"},
				}},
			},
		},
		{
			Name: "appointment_reminder", Language: "es", Status: waformat.StatusApproved, Category: waformat.CategoryUtility,
			ParameterFormat: waformat.ParameterFormatNamed,
			Components: []waformat.Component{
				{Type: waformat.ComponentBody, Text: "Hola {{customer_name}}, te esperamos el {{date}} a las {{time}}.",
					Example: &waformat.Example{BodyTextNamedParams: []waformat.NamedExample{
						{ParamName: "customer_name", Example: "Ana"}, {ParamName: "date", Example: "martes 3"}, {ParamName: "time", Example: "10:00"},
					}}},
				{Type: waformat.ComponentButtons, Buttons: []waformat.Button{
					{Type: waformat.ButtonQuickReply, Text: "Confirmar"},
					{Type: waformat.ButtonQuickReply, Text: "Cambiar cita"},
				}},
			},
		},
		{
			Name: "winter_promo", Language: "en_US", Status: waformat.StatusRejected, Category: waformat.CategoryMarketing,
			ParameterFormat: waformat.ParameterFormatPositional, RejectedReason: "INVALID_FORMAT",
			Components: []waformat.Component{
				{Type: waformat.ComponentBody, Text: "Winter sale: {{1}} off everything this week.",
					Example: &waformat.Example{BodyText: [][]string{{"30%"}}}},
			},
		},
		{
			Name: "feedback_survey", Language: "en_US", Status: waformat.StatusPaused, Category: waformat.CategoryMarketing,
			ParameterFormat: waformat.ParameterFormatPositional,
			Components: []waformat.Component{
				{Type: waformat.ComponentBody, Text: "How did we do, {{1}}? Reply with a number from 1 to 5.",
					Example: &waformat.Example{BodyText: [][]string{{"Ana"}}}},
			},
		},
	}
}

// cloneTemplate returns a deep copy, so that callers never share the store's slices.
func cloneTemplate(t *waformat.Template) waformat.Template {
	out := *t
	out.Components = slices.Clone(t.Components)
	for i := range out.Components {
		c := &out.Components[i]
		c.Buttons = slices.Clone(c.Buttons)
		for j := range c.Buttons {
			c.Buttons[j].Example = slices.Clone(c.Buttons[j].Example)
		}
		if c.Example != nil {
			ex := *c.Example
			ex.HeaderText = slices.Clone(ex.HeaderText)
			ex.HeaderHandle = slices.Clone(ex.HeaderHandle)
			ex.HeaderTextNamedParams = slices.Clone(ex.HeaderTextNamedParams)
			ex.BodyTextNamedParams = slices.Clone(ex.BodyTextNamedParams)
			ex.BodyText = slices.Clone(ex.BodyText)
			for k := range ex.BodyText {
				ex.BodyText[k] = slices.Clone(ex.BodyText[k])
			}
			c.Example = &ex
		}
	}
	return out
}

// addTemplateLocked stores a copy of t with the next id and returns the copy. The
// caller holds s.mu.
func (s *Simulator) addTemplateLocked(t *waformat.Template) (waformat.Template, error) {
	for _, have := range s.templates {
		if have.Name == t.Name && have.Language == t.Language {
			return waformat.Template{}, fmt.Errorf("template %s already exists in %s", t.Name, t.Language)
		}
	}
	stored := cloneTemplate(t)
	stored.ID = strconv.FormatInt(s.nextTemplateID, 10)
	s.nextTemplateID++
	s.templates = append(s.templates, &stored)
	return cloneTemplate(&stored), nil
}

// Templates returns a copy of every template of the simulator's business
// account, in creation order (the order of the Graph API's pages).
func (s *Simulator) Templates() []waformat.Template {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]waformat.Template, len(s.templates))
	for i, t := range s.templates {
		out[i] = cloneTemplate(t)
	}
	return out
}

// AddTemplate stores a template as if Meta had reviewed it, without a webhook:
// tests use it to have a template in the state they need. Status defaults to
// APPROVED; the template must pass waformat's checks and be new in its language.
// It returns the stored template with its id.
func (s *Simulator) AddTemplate(t waformat.Template) (waformat.Template, error) {
	t.Normalize()
	if t.Status == "" {
		t.Status = waformat.StatusApproved
	}
	if err := t.Validate(); err != nil {
		return waformat.Template{}, fmt.Errorf("invalid template %s: %w", t.Name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addTemplateLocked(&t)
}

// ErrTemplateNotFound is returned by SetTemplateStatus for a template the
// simulator does not have.
var ErrTemplateNotFound = errors.New("simulator has no such template")

// SetTemplateStatus changes a template's status as Meta's review or quality
// checks would, and posts the message_template_status_update webhook (event =
// the new status) to WebhookURL. reason is Meta's reason field ("NONE" when
// empty; for a rejection one of Meta's reasons such as "INVALID_FORMAT" or
// "INCORRECT_CATEGORY").
func (s *Simulator) SetTemplateStatus(name, language string, status waformat.Status, reason string) error {
	switch status {
	case waformat.StatusApproved, waformat.StatusPending, waformat.StatusRejected, waformat.StatusPaused, waformat.StatusDisabled:
	default:
		return fmt.Errorf("invalid template status %q: want APPROVED, PENDING, REJECTED, PAUSED or DISABLED", status)
	}
	reason = cmpOr(reason, "NONE")
	s.mu.Lock()
	var changed *waformat.Template
	for _, t := range s.templates {
		if t.Name == name && t.Language == language {
			t.Status = status
			t.RejectedReason = ""
			if status == waformat.StatusRejected {
				t.RejectedReason = reason
			}
			c := cloneTemplate(t)
			changed = &c
		}
	}
	s.mu.Unlock()
	if changed == nil {
		return fmt.Errorf("%w: %s in %s", ErrTemplateNotFound, name, language)
	}
	s.postTemplateStatus(changed, reason)
	return nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// findTemplate returns the template a send names: the one in that language, or
// else one of that name in another language (so that the error can say which
// languages exist), or nil.
func (s *Simulator) findTemplate(name, language string) *waformat.Template {
	s.mu.Lock()
	defer s.mu.Unlock()
	var other *waformat.Template
	for _, t := range s.templates {
		if t.Name != name {
			continue
		}
		if t.Language == language {
			c := cloneTemplate(t)
			return &c
		}
		if other == nil {
			c := cloneTemplate(t)
			other = &c
		}
	}
	return other
}

// reviewTemplate approves a template that is still PENDING after the review delay.
func (s *Simulator) reviewTemplate(id string) {
	s.mu.Lock()
	var approved *waformat.Template
	for _, t := range s.templates {
		if t.ID == id && t.Status == waformat.StatusPending {
			t.Status = waformat.StatusApproved
			c := cloneTemplate(t)
			approved = &c
		}
	}
	s.mu.Unlock()
	if approved != nil {
		s.postTemplateStatus(approved, "NONE")
	}
}

// templateStatusNotification is the webhook Meta posts when a template's status
// changes: field message_template_status_update, with the template's id as a number.
type templateStatusNotification struct {
	Object string                `json:"object"`
	Entry  []templateStatusEntry `json:"entry"`
}

type templateStatusEntry struct {
	ID      string                 `json:"id"`
	Time    int64                  `json:"time"`
	Changes []templateStatusChange `json:"changes"`
}

type templateStatusChange struct {
	Value templateStatusValue `json:"value"`
	Field string              `json:"field"`
}

type templateStatusValue struct {
	Event                   string      `json:"event"`
	MessageTemplateID       json.Number `json:"message_template_id"`
	MessageTemplateName     string      `json:"message_template_name"`
	MessageTemplateLanguage string      `json:"message_template_language"`
	Reason                  string      `json:"reason"`
	MessageTemplateCategory string      `json:"message_template_category,omitempty"`
}

// postTemplateStatus posts the message_template_status_update webhook of t in
// the background, redelivered like a status webhook, when a webhook URL is set.
func (s *Simulator) postTemplateStatus(t *waformat.Template, reason string) {
	if s.webhookURL == "" {
		return
	}
	body, err := metaJSON(templateStatusNotification{
		Object: "whatsapp_business_account",
		Entry: []templateStatusEntry{{
			ID: s.businessAccountID, Time: time.Now().Unix(),
			Changes: []templateStatusChange{{Field: fieldTemplateStatus, Value: templateStatusValue{
				Event: string(t.Status), MessageTemplateID: json.Number(t.ID), MessageTemplateName: t.Name,
				MessageTemplateLanguage: t.Language, Reason: reason, MessageTemplateCategory: string(t.Category),
			}}},
		}},
	})
	if err != nil {
		s.logger.Error("simulator could not encode a template status webhook", slog.Any("error", err))
		return
	}
	s.goBackground(func() {
		if err := s.postWebhookRetrying(body); err != nil {
			s.logger.Warn("simulator gave up posting a template status webhook",
				slog.String("template", t.Name), slog.String("status", string(t.Status)), slog.Any("error", err))
		}
	})
}

// checkAccount answers Meta's error for a request to a business account other
// than the simulator's, or without a valid token.
func (s *Simulator) checkAccount(r *http.Request) *graphError {
	if gerr := s.checkToken(r); gerr != nil {
		return gerr
	}
	if id := r.PathValue("waba_id"); id != s.businessAccountID {
		return unknownObject(strings.ToLower(r.Method), id, "business account id "+s.businessAccountID)
	}
	return nil
}

// templatePage is Meta's answer to GET /{WABA_ID}/message_templates.
type templatePage struct {
	Data   []waformat.Template `json:"data"`
	Paging *graphPaging        `json:"paging,omitempty"`
}

type graphPaging struct {
	Cursors  graphCursors `json:"cursors"`
	Next     string       `json:"next,omitempty"`
	Previous string       `json:"previous,omitempty"`
}

type graphCursors struct {
	Before string `json:"before"`
	After  string `json:"after"`
}

func encodeCursor(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }

func decodeCursor(c string) (int64, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, false
	}
	id, err := strconv.ParseInt(string(raw), 10, 64)
	return id, err == nil
}

func templateID(t *waformat.Template) int64 {
	id, _ := strconv.ParseInt(t.ID, 10, 64) // the simulator writes every id
	return id
}

// handleGetTemplates lists the business account's templates with the Graph
// API's cursor paging (limit, after, before; paging.cursors, paging.next and
// paging.previous) and the filters name (a part of the name), status, language
// and category. The fields parameter is accepted and every field is returned.
func (s *Simulator) handleGetTemplates(w http.ResponseWriter, r *http.Request) {
	if gerr := s.checkAccount(r); gerr != nil {
		writeGraphError(w, gerr)
		return
	}
	q := r.URL.Query()
	limit := defaultTemplatePage
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			writeGraphError(w, invalidParam(100, "Param limit must be a positive integer."))
			return
		}
		limit = min(n, maxTemplatePage)
	}
	var after, before int64
	for _, p := range []struct {
		name string
		into *int64
	}{{"after", &after}, {"before", &before}} {
		if v := q.Get(p.name); v != "" {
			id, ok := decodeCursor(v)
			if !ok {
				writeGraphError(w, invalidParam(100, fmt.Sprintf("Param %s is not a cursor this API returned.", p.name)))
				return
			}
			*p.into = id
		}
	}

	var all []waformat.Template
	for _, t := range s.Templates() {
		if (q.Get("name") == "" || strings.Contains(t.Name, q.Get("name"))) &&
			(q.Get("status") == "" || strings.EqualFold(string(t.Status), q.Get("status"))) &&
			(q.Get("language") == "" || t.Language == q.Get("language")) &&
			(q.Get("category") == "" || strings.EqualFold(string(t.Category), q.Get("category"))) {
			all = append(all, t)
		}
	}
	// Templates are in id order; a cursor is the id of the edge of a page, so a
	// template deleted meanwhile does not shift the pages.
	var start, end int
	switch {
	case after != 0:
		start = slices.IndexFunc(all, func(t waformat.Template) bool { return templateID(&t) > after })
		if start < 0 {
			start = len(all)
		}
		end = min(start+limit, len(all))
	case before != 0:
		end = slices.IndexFunc(all, func(t waformat.Template) bool { return templateID(&t) >= before })
		if end < 0 {
			end = len(all)
		}
		start = max(0, end-limit)
	default:
		end = min(limit, len(all))
	}
	page := templatePage{Data: all[start:end]}
	if page.Data == nil {
		page.Data = []waformat.Template{}
	}
	if len(page.Data) > 0 {
		first, last := page.Data[0].ID, page.Data[len(page.Data)-1].ID
		page.Paging = &graphPaging{Cursors: graphCursors{Before: encodeCursor(first), After: encodeCursor(last)}}
		if end < len(all) {
			page.Paging.Next = pageURL(r, limit, "after", encodeCursor(last))
		}
		if start > 0 {
			page.Paging.Previous = pageURL(r, limit, "before", encodeCursor(first))
		}
	}
	writeJSON(w, http.StatusOK, page)
}

// pageURL is the address of the next or previous page: the request's own, with
// the cursor replaced.
func pageURL(r *http.Request, limit int, cursor, value string) string {
	q := r.URL.Query()
	q.Del("after")
	q.Del("before")
	q.Set(cursor, value)
	q.Set("limit", strconv.Itoa(limit))
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return (&url.URL{Scheme: scheme, Host: r.Host, Path: r.URL.Path, RawQuery: q.Encode()}).String()
}

// createTemplateResponse is Meta's answer to a template creation.
type createTemplateResponse struct {
	ID       string            `json:"id"`
	Status   waformat.Status   `json:"status"`
	Category waformat.Category `json:"category"`
}

// handleCreateTemplate creates a template as Meta does: checked with waformat,
// stored PENDING and approved TemplateReviewDelay later with a
// message_template_status_update webhook (never when the delay is negative).
func (s *Simulator) handleCreateTemplate(w http.ResponseWriter, r *http.Request) {
	if gerr := s.checkAccount(r); gerr != nil {
		writeGraphError(w, gerr)
		return
	}
	var body struct {
		waformat.Template
		AllowCategoryChange bool `json:"allow_category_change"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err := dec.Decode(&body); err != nil {
		writeGraphError(w, invalidParam(100, "The request body is not a JSON template: "+err.Error()))
		return
	}
	t := body.Template
	t.ID, t.Status, t.RejectedReason = "", waformat.StatusPending, ""
	t.Normalize()
	if err := t.Validate(); err != nil {
		// Meta answers an invalid template with code 100 and the first problem.
		var errs waformat.FieldErrors
		if errors.As(err, &errs) && len(errs) > 0 {
			err = errs[0]
		}
		writeGraphError(w, invalidParam(100, err.Error()))
		return
	}
	s.mu.Lock()
	stored, err := s.addTemplateLocked(&t)
	s.mu.Unlock()
	if err != nil {
		gerr := invalidParam(100, "Content in this language already exists: "+err.Error()+".")
		gerr.Subcode = 2388024
		writeGraphError(w, gerr)
		return
	}
	writeJSON(w, http.StatusOK, createTemplateResponse{ID: stored.ID, Status: stored.Status, Category: stored.Category})
	if s.templateReviewDelay >= 0 {
		s.goBackground(func() {
			if s.sleep(s.ctx, s.templateReviewDelay); s.ctx.Err() == nil {
				s.reviewTemplate(stored.ID)
			}
		})
	}
}

// handleDeleteTemplates deletes by name every language of a template, or with
// hsm_id the one template of that id, answering {"success":true} like Meta.
func (s *Simulator) handleDeleteTemplates(w http.ResponseWriter, r *http.Request) {
	if gerr := s.checkAccount(r); gerr != nil {
		writeGraphError(w, gerr)
		return
	}
	name, hsmID := r.URL.Query().Get("name"), r.URL.Query().Get("hsm_id")
	if name == "" {
		writeGraphError(w, invalidParam(100, "The parameter name is required."))
		return
	}
	s.mu.Lock()
	n := len(s.templates)
	s.templates = slices.DeleteFunc(s.templates, func(t *waformat.Template) bool {
		return t.Name == name && (hsmID == "" || t.ID == hsmID)
	})
	deleted := n - len(s.templates)
	s.mu.Unlock()
	if deleted == 0 {
		details := fmt.Sprintf("There is no template named %s.", name)
		if hsmID != "" {
			details = fmt.Sprintf("There is no template named %s with id %s.", name, hsmID)
		}
		writeGraphError(w, invalidParam(100, details))
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"success": true})
}

// templateStatusInput is the body of PUT /simulator/templates/status.
type templateStatusInput struct {
	Name     string          `json:"name"`
	Language string          `json:"language"`
	Status   waformat.Status `json:"status"`
	Reason   string          `json:"reason"`
}

// handlePutTemplateStatus is the control behind SetTemplateStatus.
func (s *Simulator) handlePutTemplateStatus(w http.ResponseWriter, r *http.Request) {
	var in templateStatusInput
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		writeAPIError(w, http.StatusBadRequest, "invalid_json", "The body must be a JSON object with name, language, status and reason: "+err.Error())
		return
	}
	in.Status = waformat.Status(strings.ToUpper(string(in.Status)))
	switch err := s.SetTemplateStatus(in.Name, in.Language, in.Status, in.Reason); {
	case errors.Is(err, ErrTemplateNotFound):
		writeAPIError(w, http.StatusNotFound, "not_found", err.Error())
	case err != nil:
		writeAPIError(w, http.StatusBadRequest, "invalid_status", err.Error())
	default:
		writeJSON(w, http.StatusOK, s.findTemplate(in.Name, in.Language))
	}
}
