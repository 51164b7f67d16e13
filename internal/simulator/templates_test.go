package simulator_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/simulator"
	"github.com/wainbox/wainbox/internal/waformat"
	"github.com/wainbox/wainbox/internal/whatsapp"
)

const templatesPath = "/simulator/graph/v24.0/" + simulator.DefaultBusinessAccountID + "/message_templates"

// page is a page of GET message_templates.
type page struct {
	Data   []waformat.Template `json:"data"`
	Paging *struct {
		Cursors struct {
			Before string `json:"before"`
			After  string `json:"after"`
		} `json:"cursors"`
		Next     string `json:"next"`
		Previous string `json:"previous"`
	} `json:"paging"`
}

func names(ts []waformat.Template) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Name
	}
	return out
}

func TestTemplatesSeeded(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)

	var p page
	status, _ := h.graph(t, http.MethodGet, templatesPath, "", &p)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, []string{"hello_world", "order_shipped", "appointment_reminder", "winter_promo", "feedback_survey"}, names(p.Data))
	require.Empty(t, p.Paging.Next, "one page")
	for _, tmpl := range p.Data {
		require.NoError(t, tmpl.Validate(), tmpl.Name)
		require.NotEmpty(t, tmpl.ID)
	}
	hello := p.Data[0]
	require.Equal(t, waformat.Template{
		ID: hello.ID, Name: "hello_world", Language: "en_US", Status: waformat.StatusApproved, Category: waformat.CategoryUtility,
		ParameterFormat: waformat.ParameterFormatPositional,
		Components:      []waformat.Component{{Type: waformat.ComponentBody, Text: "Hello World"}},
	}, hello)
	statuses := map[string]waformat.Status{}
	for _, tmpl := range p.Data {
		statuses[tmpl.Name] = tmpl.Status
	}
	require.Equal(t, waformat.StatusRejected, statuses["winter_promo"])
	require.Equal(t, waformat.StatusPaused, statuses["feedback_survey"])
	require.Equal(t, waformat.ParameterFormatNamed, p.Data[2].ParameterFormat)
	require.Equal(t, "https://shop.example.com/track/{{1}}", p.Data[1].Buttons()[0].URL)

	// The Go view is the same.
	require.Equal(t, p.Data, h.sim.Templates())
}

func TestTemplatesPaging(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)

	var first page
	h.graph(t, http.MethodGet, templatesPath+"?limit=2", "", &first)
	require.Equal(t, []string{"hello_world", "order_shipped"}, names(first.Data))
	require.NotEmpty(t, first.Paging.Cursors.Before)
	require.NotEmpty(t, first.Paging.Cursors.After)
	require.Empty(t, first.Paging.Previous)
	next, err := url.Parse(first.Paging.Next)
	require.NoError(t, err)
	require.Equal(t, "/simulator/graph/v24.0/"+simulator.DefaultBusinessAccountID+"/message_templates", next.Path)
	require.Equal(t, first.Paging.Cursors.After, next.Query().Get("after"))
	require.Equal(t, "2", next.Query().Get("limit"))

	// paging.next is a full URL the client follows as it is.
	var second page
	h.graph(t, http.MethodGet, first.Paging.Next, "", &second)
	require.Equal(t, []string{"appointment_reminder", "winter_promo"}, names(second.Data))
	require.NotEmpty(t, second.Paging.Previous)

	var third page
	h.graph(t, http.MethodGet, second.Paging.Next, "", &third)
	require.Equal(t, []string{"feedback_survey"}, names(third.Data))
	require.Empty(t, third.Paging.Next, "the last page")

	var back page
	h.graph(t, http.MethodGet, third.Paging.Previous, "", &back)
	require.Equal(t, names(second.Data), names(back.Data))

	// A template deleted between pages does not shift the next page.
	status, _ := h.graph(t, http.MethodDelete, templatesPath+"?name=appointment_reminder", "", nil)
	require.Equal(t, http.StatusOK, status)
	h.graph(t, http.MethodGet, first.Paging.Next, "", &second)
	require.Equal(t, []string{"winter_promo", "feedback_survey"}, names(second.Data))

	// Past the end: no data, no paging.
	var empty map[string]any
	h.graph(t, http.MethodGet, templatesPath+"?after="+third.Paging.Cursors.After, "", &empty)
	require.Equal(t, map[string]any{"data": []any{}}, empty)

	for _, q := range []string{"?limit=0", "?limit=two", "?after=***", "?before=bm90LWEtbnVtYmVy"} {
		status, e := h.graph(t, http.MethodGet, templatesPath+q, "", nil)
		require.Equal(t, http.StatusBadRequest, status, q)
		require.Equal(t, 100, e.Code, q)
	}
}

func TestTemplatesFilters(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	tests := []struct {
		query string
		want  []string
	}{
		{"?status=APPROVED", []string{"hello_world", "order_shipped", "appointment_reminder"}},
		{"?status=paused", []string{"feedback_survey"}},
		{"?name=order", []string{"order_shipped"}},
		{"?language=es", []string{"appointment_reminder"}},
		{"?category=MARKETING", []string{"winter_promo", "feedback_survey"}},
		{"?category=UTILITY&language=en_US&fields=name,status", []string{"hello_world", "order_shipped"}},
		{"?name=nothing_like_it", []string{}},
	}
	for _, tt := range tests {
		var p page
		h.graph(t, http.MethodGet, templatesPath+tt.query, "", &p)
		require.Equal(t, tt.want, names(p.Data), tt.query)
	}
}

func TestTemplatesRefuseLikeMeta(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, h.url+templatesPath, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "no token")

	for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
		status, e := h.graph(t, method, "/simulator/graph/v24.0/42/message_templates?name=x", `{}`, nil)
		require.Equal(t, http.StatusBadRequest, status, method)
		require.Equal(t, 100, e.Code)
		require.Equal(t, 33, e.ErrorSubcode)
		require.Contains(t, e.ErrorData.Details, simulator.DefaultBusinessAccountID)
	}
}

// templateWebhook is a message_template_status_update webhook.
type templateWebhook struct {
	Object string `json:"object"`
	Entry  []struct {
		ID      string `json:"id"`
		Time    int64  `json:"time"`
		Changes []struct {
			Field string `json:"field"`
			Value struct {
				Event                   string `json:"event"`
				MessageTemplateID       int64  `json:"message_template_id"`
				MessageTemplateName     string `json:"message_template_name"`
				MessageTemplateLanguage string `json:"message_template_language"`
				Reason                  string `json:"reason"`
				MessageTemplateCategory string `json:"message_template_category"`
			} `json:"value"`
		} `json:"changes"`
	} `json:"entry"`
}

// nextTemplateStatus waits for the next webhook, checks that it is a signed
// template status update of the simulator's account and returns its value.
func nextTemplateStatus(t *testing.T, rcv *receiver) (id int64, event, name, language, reason string) {
	t.Helper()
	wh := rcv.next(t)
	require.True(t, whatsapp.VerifySignature([]byte(testSecret), wh.Body, wh.Signature), "bad signature on %s", wh.Body)
	var n templateWebhook
	require.NoError(t, json.Unmarshal(wh.Body, &n), string(wh.Body))
	require.Equal(t, "whatsapp_business_account", n.Object)
	require.Len(t, n.Entry, 1)
	require.Equal(t, simulator.DefaultBusinessAccountID, n.Entry[0].ID)
	require.InDelta(t, time.Now().Unix(), n.Entry[0].Time, 60)
	require.Len(t, n.Entry[0].Changes, 1)
	c := n.Entry[0].Changes[0]
	require.Equal(t, "message_template_status_update", c.Field)
	require.NotEmpty(t, c.Value.MessageTemplateCategory)
	require.NotZero(t, c.Value.MessageTemplateID, "Meta writes the id as a number: %s", wh.Body)
	return c.Value.MessageTemplateID, c.Value.Event, c.Value.MessageTemplateName, c.Value.MessageTemplateLanguage, c.Value.Reason
}

const newTemplate = `{"name":"delivery_window","language":"en_US","category":"utility","parameter_format":"named","allow_category_change":true,
	"components":[{"type":"body","text":"Hi {{name}}, we deliver between {{from}} and {{to}}.",
	"example":{"body_text_named_params":[{"param_name":"name","example":"Ana"},{"param_name":"from","example":"9:00"},{"param_name":"to","example":"11:00"}]}},
	{"type":"BUTTONS","buttons":[{"type":"COPY_CODE","example":"SAVE10"}]}]}`

func TestTemplateCreateReviewAndSend(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	h := newHarness(t, &simulator.Config{WebhookURL: rcv.URL, TemplateReviewDelay: 50 * time.Millisecond})

	var created struct {
		ID       string `json:"id"`
		Status   string `json:"status"`
		Category string `json:"category"`
	}
	status, _ := h.graph(t, http.MethodPost, templatesPath, newTemplate, &created)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "PENDING", created.Status)
	require.Equal(t, "UTILITY", created.Category)
	require.NotEmpty(t, created.ID)

	var p page
	h.graph(t, http.MethodGet, templatesPath+"?name=delivery_window", "", &p)
	require.Len(t, p.Data, 1)
	require.Equal(t, created.ID, p.Data[0].ID)
	require.Equal(t, waformat.ParameterFormatNamed, p.Data[0].ParameterFormat, "enumerations stored in Meta's case")

	// A pending template cannot be sent yet.
	send := `{"messaging_product":"whatsapp","to":"16505551234","type":"template","template":{"name":"delivery_window","language":{"code":"en_US"},
		"components":[{"type":"body","parameters":[{"type":"text","parameter_name":"name","text":"Ana"},{"type":"text","parameter_name":"from","text":"9:00"},{"type":"text","parameter_name":"to","text":"11:00"}]},
		{"type":"button","sub_type":"copy_code","index":"0","parameters":[{"type":"coupon_code","coupon_code":"SAVE10"}]}]}}`
	_, e := h.graph(t, http.MethodPost, messagesPath, send, nil)
	require.Equal(t, 132001, e.Code)
	require.Contains(t, e.ErrorData.Details, "PENDING")

	// The review approves it and says so in a signed webhook.
	id, event, name, language, reason := nextTemplateStatus(t, rcv)
	require.Equal(t, created.ID, fmt.Sprint(id))
	require.Equal(t, []string{"APPROVED", "delivery_window", "en_US", "NONE"}, []string{event, name, language, reason})
	h.graph(t, http.MethodGet, templatesPath+"?name=delivery_window", "", &p)
	require.Equal(t, waformat.StatusApproved, p.Data[0].Status)

	status, _ = h.graph(t, http.MethodPost, messagesPath, send, nil)
	require.Equal(t, http.StatusOK, status)
	sends := h.sim.Sends()
	last := sends[len(sends)-1]
	require.Equal(t, "template", last.Type)
	require.Equal(t, "delivery_window", last.TemplateName)
	require.Equal(t, "en_US", last.TemplateLanguage)
	require.Equal(t, "Hi Ana, we deliver between 9:00 and 11:00.\n\n[Copy offer code: SAVE10]", last.Body)
	require.NotEmpty(t, last.WAMessageID)

	// The same name and language again is refused as Meta does.
	status, e = h.graph(t, http.MethodPost, templatesPath, newTemplate, nil)
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, 100, e.Code)
	require.Equal(t, 2388024, e.ErrorSubcode)
}

func TestTemplateCreateRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t, &simulator.Config{TemplateReviewDelay: -1})
	tests := []struct {
		name, body, field string
	}{
		{"not JSON", `{"name":`, "not a JSON template"},
		{"capital letters", strings.Replace(newTemplate, "delivery_window", "Delivery Window", 1), "name: must be lowercase"},
		{"no language", strings.Replace(newTemplate, `"language":"en_US",`, "", 1), "language: is required"},
		{"bad category", strings.Replace(newTemplate, `"utility"`, `"service"`, 1), "category:"},
		{"no body", `{"name":"x","language":"en","category":"UTILITY","components":[{"type":"FOOTER","text":"bye"}]}`, "components: a BODY component is required"},
		{"missing sample", `{"name":"x","language":"en","category":"UTILITY","components":[{"type":"BODY","text":"Hi {{1}} there"}]}`, "components[0].example.body_text"},
		{"footer too long", `{"name":"x","language":"en","category":"UTILITY","components":[{"type":"BODY","text":"Hi"},{"type":"FOOTER","text":"` + strings.Repeat("f", 61) + `"}]}`, "components[1].text: is 61 characters long; the limit is 60"},
	}
	for _, tt := range tests {
		status, e := h.graph(t, http.MethodPost, templatesPath, tt.body, nil)
		require.Equal(t, http.StatusBadRequest, status, tt.name)
		require.Equal(t, 100, e.Code, tt.name)
		require.Contains(t, e.ErrorData.Details, tt.field, tt.name)
	}
	require.Len(t, h.sim.Templates(), 5, "nothing was stored")

	// With the review off a created template stays pending.
	status, _ := h.graph(t, http.MethodPost, templatesPath, newTemplate, nil)
	require.Equal(t, http.StatusOK, status)
	time.Sleep(50 * time.Millisecond)
	require.Equal(t, waformat.StatusPending, h.sim.Templates()[5].Status)
}

func TestTemplateDelete(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	es := waformat.Template{Name: "order_shipped", Language: "es", Category: waformat.CategoryUtility,
		Components: []waformat.Component{{Type: waformat.ComponentBody, Text: "Tu pedido va en camino."}}}
	added, err := h.sim.AddTemplate(es)
	require.NoError(t, err)
	require.Equal(t, waformat.StatusApproved, added.Status)
	_, err = h.sim.AddTemplate(es)
	require.ErrorContains(t, err, "already exists")
	_, err = h.sim.AddTemplate(waformat.Template{Name: "Bad Name"})
	require.ErrorContains(t, err, "invalid template")

	// hsm_id deletes one language only.
	var ok map[string]bool
	status, _ := h.graph(t, http.MethodDelete, templatesPath+"?name=order_shipped&hsm_id="+added.ID, "", &ok)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, map[string]bool{"success": true}, ok)
	var p page
	h.graph(t, http.MethodGet, templatesPath+"?name=order_shipped", "", &p)
	require.Len(t, p.Data, 1)
	require.Equal(t, "en_US", p.Data[0].Language)

	// name alone deletes every language.
	_, err = h.sim.AddTemplate(es)
	require.NoError(t, err)
	h.graph(t, http.MethodDelete, templatesPath+"?name=order_shipped", "", &ok)
	h.graph(t, http.MethodGet, templatesPath+"?name=order_shipped", "", &p)
	require.Empty(t, p.Data)

	for _, q := range []string{"?name=order_shipped", "", "?name=hello_world&hsm_id=1"} {
		status, e := h.graph(t, http.MethodDelete, templatesPath+q, "", nil)
		require.Equal(t, http.StatusBadRequest, status, q)
		require.Equal(t, 100, e.Code, q)
	}
}

func TestSetTemplateStatus(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	h := newHarness(t, &simulator.Config{WebhookURL: rcv.URL})
	send := `{"messaging_product":"whatsapp","to":"16505551234","type":"template","template":{"name":"hello_world","language":{"code":"en_US"}}}`

	require.NoError(t, h.sim.SetTemplateStatus("hello_world", "en_US", waformat.StatusPaused, ""))
	_, event, name, _, reason := nextTemplateStatus(t, rcv)
	require.Equal(t, []string{"PAUSED", "hello_world", "NONE"}, []string{event, name, reason})
	_, e := h.graph(t, http.MethodPost, messagesPath, send, nil)
	require.Equal(t, 132015, e.Code)
	require.Equal(t, "(#132015) Template is paused", e.Message)

	// The same over HTTP, for humans and other processes.
	var got waformat.Template
	require.Equal(t, http.StatusOK, h.do(t, http.MethodPut, "/simulator/templates/status",
		`{"name":"hello_world","language":"en_US","status":"disabled"}`, &got))
	require.Equal(t, waformat.StatusDisabled, got.Status)
	_, event, _, _, _ = nextTemplateStatus(t, rcv)
	require.Equal(t, "DISABLED", event)
	_, e = h.graph(t, http.MethodPost, messagesPath, send, nil)
	require.Equal(t, 132016, e.Code)

	require.Equal(t, http.StatusOK, h.do(t, http.MethodPut, "/simulator/templates/status",
		`{"name":"hello_world","language":"en_US","status":"REJECTED","reason":"INCORRECT_CATEGORY"}`, &got))
	require.Equal(t, "INCORRECT_CATEGORY", got.RejectedReason)
	_, event, _, _, reason = nextTemplateStatus(t, rcv)
	require.Equal(t, []string{"REJECTED", "INCORRECT_CATEGORY"}, []string{event, reason})
	_, e = h.graph(t, http.MethodPost, messagesPath, send, nil)
	require.Equal(t, 132001, e.Code)

	require.NoError(t, h.sim.SetTemplateStatus("hello_world", "en_US", waformat.StatusApproved, ""))
	nextTemplateStatus(t, rcv)
	status, _ := h.graph(t, http.MethodPost, messagesPath, send, nil)
	require.Equal(t, http.StatusOK, status)

	var apiErr struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	require.Equal(t, http.StatusNotFound, h.do(t, http.MethodPut, "/simulator/templates/status",
		`{"name":"nope","language":"en_US","status":"APPROVED"}`, &apiErr))
	require.Equal(t, "not_found", apiErr.Error.Code)
	require.Equal(t, http.StatusBadRequest, h.do(t, http.MethodPut, "/simulator/templates/status",
		`{"name":"hello_world","language":"en_US","status":"ARCHIVED"}`, &apiErr))
	require.Equal(t, "invalid_status", apiErr.Error.Code)
	require.Equal(t, http.StatusBadRequest, h.do(t, http.MethodPut, "/simulator/templates/status", `{"nme":"x"}`, &apiErr))
	require.ErrorIs(t, h.sim.SetTemplateStatus("nope", "en_US", waformat.StatusApproved, ""), simulator.ErrTemplateNotFound)
}

func TestTemplateReviewLeavesADecidedTemplateAlone(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	h := newHarness(t, &simulator.Config{WebhookURL: rcv.URL, TemplateReviewDelay: 100 * time.Millisecond})

	status, _ := h.graph(t, http.MethodPost, templatesPath, newTemplate, nil)
	require.Equal(t, http.StatusOK, status)
	require.NoError(t, h.sim.SetTemplateStatus("delivery_window", "en_US", waformat.StatusRejected, "INVALID_FORMAT"))
	_, event, _, _, reason := nextTemplateStatus(t, rcv)
	require.Equal(t, []string{"REJECTED", "INVALID_FORMAT"}, []string{event, reason})

	// The review finds the template no longer pending and neither approves it nor posts.
	select {
	case wh := <-rcv.Received:
		t.Fatalf("unexpected webhook: %s", wh.Body)
	case <-time.After(300 * time.Millisecond):
	}
	require.Equal(t, waformat.StatusRejected, h.sim.Templates()[5].Status)
}

func TestTemplateSendValidation(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	for _, st := range []waformat.Status{waformat.StatusDisabled, waformat.StatusPending} {
		_, err := h.sim.AddTemplate(waformat.Template{Name: "last_chance_" + strings.ToLower(string(st)), Language: "en_US", Status: st,
			Category: waformat.CategoryMarketing, Components: []waformat.Component{{Type: waformat.ComponentBody, Text: "Last chance to save."}}})
		require.NoError(t, err)
	}
	msg := func(template string) string {
		return `{"messaging_product":"whatsapp","to":"16505551234","type":"template","template":` + template + `}`
	}
	const shipped = `{"name":"order_shipped","language":{"code":"en_US"},"components":[
		{"type":"header","parameters":[{"type":"text","text":"A-1001"}]},
		{"type":"body","parameters":[{"type":"text","text":"Ana"},{"type":"text","text":"A-1001"},{"type":"text","text":"Tuesday"}]},
		{"type":"button","sub_type":"url","index":"0","parameters":[{"type":"text","text":"A-1001"}]}]}`
	const named = `{"name":"appointment_reminder","language":{"code":"es"},"components":[
		{"type":"body","parameters":[{"type":"text","parameter_name":"date","text":"martes 3"},{"type":"text","parameter_name":"time","text":"10:00"},{"type":"text","parameter_name":"customer_name","text":"Ana"}]}]}`
	tests := []struct {
		name     string
		body     string
		wantCode int    // 0: accepted
		wantText string // the recorded body when accepted, else a part of the details
	}{
		{"hello_world", msg(`{"name":"hello_world","language":{"code":"en_US"}}`), 0, "Hello World"},
		{"positional", msg(shipped), 0, "Order A-1001 shipped\n\nHi Ana, your order A-1001 is on its way and should arrive on Tuesday.\n\nReply STOP to opt out\n\n[Track order]\n[Call us]"},
		{"named", msg(named), 0, "Hola Ana, te esperamos el martes 3 a las 10:00.\n\n[Confirmar]\n[Cambiar cita]"},
		{"unknown template", msg(`{"name":"nope","language":{"code":"en_US"}}`), 132001, `there is no template named "nope"`},
		{"wrong language", msg(strings.Replace(shipped, "en_US", "es", 1)), 132001, `has no "es" translation`},
		{"rejected", msg(`{"name":"winter_promo","language":{"code":"en_US"},"components":[{"type":"body","parameters":[{"type":"text","text":"30%"}]}]}`), 132001, "REJECTED"},
		{"disabled", msg(`{"name":"last_chance_disabled","language":{"code":"en_US"}}`), 132016, "disabled"},
		{"pending", msg(`{"name":"last_chance_pending","language":{"code":"en_US"}}`), 132001, "PENDING"},
		{"paused", msg(`{"name":"feedback_survey","language":{"code":"en_US"},"components":[{"type":"body","parameters":[{"type":"text","text":"Ana"}]}]}`), 132015, "paused"},
		{"one parameter short", msg(strings.Replace(shipped, `,{"type":"text","text":"Tuesday"}`, "", 1)), 132000, "got 2"},
		{"one parameter over", msg(strings.Replace(shipped, `{"type":"text","text":"Tuesday"}`, `{"type":"text","text":"Tuesday"},{"type":"text","text":"x"}`, 1)), 132000, "got 4"},
		{"URL button missing", msg(strings.Replace(shipped, `,
		{"type":"button","sub_type":"url","index":"0","parameters":[{"type":"text","text":"A-1001"}]}`, "", 1)), 132000, "url button 0"},
		{"named without names", msg(strings.ReplaceAll(named, `"parameter_name":"date",`, "")), 132012, "parameter_name"},
		{"newline in a parameter", msg(strings.Replace(shipped, `"text":"Ana"`, `"text":"Ana\nMaría"`, 1)), 132018, "newlines"},
		{"header parameter too long", msg(strings.Replace(shipped, `"text":"A-1001"}]},`, `"text":"`+strings.Repeat("h", 61)+`"}]},`, 1)), 131009, "limit is 60"},
		{"no template object", `{"messaging_product":"whatsapp","to":"16505551234","type":"template"}`, 100, "template"},
		{"no language", msg(`{"name":"hello_world"}`), 131009, "template.language.code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status, e := h.graph(t, http.MethodPost, messagesPath, tt.body, nil)
			if tt.wantCode == 0 {
				require.Equal(t, http.StatusOK, status, "%+v", e)
				for _, s := range h.sim.Sends() {
					if string(s.Raw) == tt.body {
						require.Equal(t, tt.wantText, s.Body)
						require.NotEmpty(t, s.TemplateName)
						return
					}
				}
				t.Fatal("send not recorded")
			}
			require.Equal(t, http.StatusBadRequest, status)
			require.Equal(t, tt.wantCode, e.Code, e.ErrorData.Details)
			require.Equal(t, "whatsapp", e.ErrorData.MessagingProduct)
			require.Contains(t, e.ErrorData.Details, tt.wantText)
			require.True(t, strings.HasPrefix(e.Message, fmt.Sprintf("(#%d) ", tt.wantCode)), e.Message)
		})
	}
}
