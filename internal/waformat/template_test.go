package waformat_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/waformat"
)

// orderShipped has a TEXT header with a parameter, positional body parameters,
// a footer and a URL button with a dynamic suffix beside a phone button.
func orderShipped() *waformat.Template {
	return &waformat.Template{
		ID: "1000000000000002", Name: "order_shipped", Language: "en_US",
		Status: waformat.StatusApproved, Category: waformat.CategoryUtility,
		ParameterFormat: waformat.ParameterFormatPositional,
		Components: []waformat.Component{
			{Type: waformat.ComponentHeader, Format: waformat.FormatText, Text: "Order {{1}} shipped",
				Example: &waformat.Example{HeaderText: []string{"A-1001"}}},
			{Type: waformat.ComponentBody, Text: "Hi {{1}}, your order {{2}} is on its way and arrives on {{3}}.",
				Example: &waformat.Example{BodyText: [][]string{{"Ana", "A-1001", "Tuesday"}}}},
			{Type: waformat.ComponentFooter, Text: "Reply STOP to opt out"},
			{Type: waformat.ComponentButtons, Buttons: []waformat.Button{
				{Type: waformat.ButtonURL, Text: "Track order", URL: "https://shop.example.com/track/{{1}}",
					Example: []string{"https://shop.example.com/track/A-1001"}},
				{Type: waformat.ButtonPhoneNumber, Text: "Call us", PhoneNumber: "+15550783881"},
			}},
		},
	}
}

// appointment has NAMED body parameters and quick-reply buttons.
func appointment() *waformat.Template {
	return &waformat.Template{
		ID: "1000000000000003", Name: "appointment_reminder", Language: "es",
		Status: waformat.StatusApproved, Category: waformat.CategoryUtility,
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
	}
}

// coupon has an IMAGE header, one body parameter and a copy-code button.
func coupon() *waformat.Template {
	return &waformat.Template{
		ID: "1000000000000004", Name: "autumn_coupon", Language: "en", Status: waformat.StatusApproved,
		Category: waformat.CategoryMarketing,
		Components: []waformat.Component{
			{Type: waformat.ComponentHeader, Format: waformat.FormatImage,
				Example: &waformat.Example{HeaderHandle: []string{"4::aW1hZ2UvanBlZw==:ARb"}}},
			{Type: waformat.ComponentBody, Text: "Use the code below for {{1}} off.",
				Example: &waformat.Example{BodyText: [][]string{{"25%"}}}},
			{Type: waformat.ComponentButtons, Buttons: []waformat.Button{
				{Type: waformat.ButtonCopyCode, Example: []string{"AUTUMN25"}},
			}},
		},
	}
}

func helloWorld() *waformat.Template {
	return &waformat.Template{
		ID: "1000000000000001", Name: "hello_world", Language: "en_US", Status: waformat.StatusApproved,
		Category:   waformat.CategoryUtility,
		Components: []waformat.Component{{Type: waformat.ComponentBody, Text: "Hello World"}},
	}
}

func TestTemplateJSONInMetaShape(t *testing.T) {
	t.Parallel()
	// As GET /{WABA_ID}/message_templates returns it: a copy-code example is a
	// string, a URL example a list.
	raw := `{"name":"autumn_coupon","parameter_format":"POSITIONAL","language":"en","status":"APPROVED","category":"MARKETING","id":"42",
		"components":[{"type":"BODY","text":"Use {{1}} today.","example":{"body_text":[["AUTUMN25"]]}},
		{"type":"BUTTONS","buttons":[{"type":"COPY_CODE","example":"AUTUMN25"},{"type":"URL","text":"Shop","url":"https://x.example/{{1}}","example":["https://x.example/a"]}]}]}`
	var tmpl waformat.Template
	require.NoError(t, json.Unmarshal([]byte(raw), &tmpl))
	require.Equal(t, "42", tmpl.ID)
	require.Equal(t, waformat.ParameterFormatPositional, tmpl.Format())
	buttons := tmpl.Buttons()
	require.Equal(t, []string{"AUTUMN25"}, buttons[0].Example)
	require.Equal(t, []string{"https://x.example/a"}, buttons[1].Example)

	out, err := json.Marshal(tmpl)
	require.NoError(t, err)
	require.JSONEq(t, raw, string(out), "written back in Meta's shape")

	require.Error(t, json.Unmarshal([]byte(`{"type":"URL","example":3}`), &buttons[0]))
}

func TestSlots(t *testing.T) {
	t.Parallel()
	require.Equal(t, []waformat.Slot{
		{Component: "header", Name: "1", Type: "text"},
		{Component: "body", Name: "1", Type: "text"},
		{Component: "body", Name: "2", Type: "text"},
		{Component: "body", Name: "3", Type: "text"},
		{Component: "button", SubType: "url", Index: 0, Type: "text"},
	}, orderShipped().Slots())
	require.Equal(t, []waformat.Slot{
		{Component: "body", Name: "customer_name", Type: "text"},
		{Component: "body", Name: "date", Type: "text"},
		{Component: "body", Name: "time", Type: "text"},
		{Component: "button", SubType: "quick_reply", Index: 0, Type: "payload", Optional: true},
		{Component: "button", SubType: "quick_reply", Index: 1, Type: "payload", Optional: true},
	}, appointment().Slots())
	require.Equal(t, []waformat.Slot{
		{Component: "header", Type: "image"},
		{Component: "body", Name: "1", Type: "text"},
		{Component: "button", SubType: "copy_code", Index: 0, Type: "coupon_code"},
	}, coupon().Slots())
	require.Empty(t, helloWorld().Slots())
	require.Equal(t, []string{"2", "1"}, waformat.Placeholders("{{2}} and {{1}} and {{2}}"))
}

func TestTemplateValidate(t *testing.T) {
	t.Parallel()
	for _, tmpl := range []*waformat.Template{orderShipped(), appointment(), coupon(), helloWorld()} {
		require.NoError(t, tmpl.Validate(), tmpl.Name)
	}

	tests := []struct {
		name   string
		edit   func(*waformat.Template)
		field  string
		substr string
		reason waformat.Reason // "" is ReasonInvalid
	}{
		{"name with capitals", func(t *waformat.Template) { t.Name = "Order_Shipped" }, "name", "lowercase", ""},
		{"name with a dash", func(t *waformat.Template) { t.Name = "order-shipped" }, "name", "lowercase", ""},
		{"name too long", func(t *waformat.Template) { t.Name = strings.Repeat("a", 513) }, "name", "limit is 512", waformat.ReasonTooLong},
		{"no language", func(t *waformat.Template) { t.Language = "" }, "language", "required", ""},
		{"bad language", func(t *waformat.Template) { t.Language = "english" }, "language", "not a language code", ""},
		{"no category", func(t *waformat.Template) { t.Category = "" }, "category", "required", ""},
		{"bad category", func(t *waformat.Template) { t.Category = "SERVICE" }, "category", "MARKETING, UTILITY", ""},
		{"bad parameter format", func(t *waformat.Template) { t.ParameterFormat = "MIXED" }, "parameter_format", "POSITIONAL or NAMED", ""},
		{"no body", func(t *waformat.Template) { t.Components = t.Components[:1] }, "components", "BODY", ""},
		{"two footers", func(t *waformat.Template) { t.Components = append(t.Components, t.Components[2]) }, "components[4].type", "at most one", ""},
		{"unknown component", func(t *waformat.Template) { t.Components[2].Type = "SIDEBAR" }, "components[2].type", "must be HEADER", ""},
		{"header at 61 characters", func(t *waformat.Template) {
			t.Components[0].Text = strings.Repeat("a", 55) + " {{1}}"
		}, "components[0].text", "limit is 60", waformat.ReasonTooLong},
		{"header with two parameters", func(t *waformat.Template) { t.Components[0].Text = "{{1}} and {{2}}" }, "components[0].text", "at most one", ""},
		{"header without sample", func(t *waformat.Template) { t.Components[0].Example = nil }, "components[0].example.header_text", "sample", ""},
		{"no header format", func(t *waformat.Template) { t.Components[0].Format = "" }, "components[0].format", "required", ""},
		{"body over 1024", func(t *waformat.Template) {
			t.Components[1].Text = "Hi {{1}} " + strings.Repeat("a", 1020)
		}, "components[1].text", "limit is 1024", waformat.ReasonTooLong},
		{"gap in positional parameters", func(t *waformat.Template) {
			t.Components[1].Text = "Hi {{1}}, order {{3}} ok"
			t.Components[1].Example.BodyText = [][]string{{"a", "b"}}
		}, "components[1].text", "without gaps", ""},
		{"named placeholder in a positional template", func(t *waformat.Template) {
			t.Components[1].Text = "Hi {{name}} ok"
		}, "components[1].text", "set parameter_format to NAMED", ""},
		{"body starts with a parameter", func(t *waformat.Template) {
			t.Components[1].Text = "{{1}} is your order {{2}} for {{3}}."
		}, "components[1].text", "cannot start or end", ""},
		{"wrong number of samples", func(t *waformat.Template) {
			t.Components[1].Example.BodyText = [][]string{{"Ana"}}
		}, "components[1].example.body_text", "3 sample", ""},
		{"footer with a parameter", func(t *waformat.Template) { t.Components[2].Text = "Bye {{1}}" }, "components[2].text", "cannot have parameters", ""},
		{"footer over 60", func(t *waformat.Template) { t.Components[2].Text = strings.Repeat("f", 61) }, "components[2].text", "limit is 60", waformat.ReasonTooLong},
		{"button label over 25", func(t *waformat.Template) {
			t.Components[3].Buttons[0].Text = strings.Repeat("b", 26)
		}, "components[3].buttons[0].text", "limit is 25", waformat.ReasonTooLong},
		{"URL parameter not at the end", func(t *waformat.Template) {
			t.Components[3].Buttons[0].URL = "https://shop.example.com/{{1}}/track"
		}, "components[3].buttons[0].url", "very end", ""},
		{"URL not http", func(t *waformat.Template) {
			t.Components[3].Buttons[0].URL = "ftp://shop.example.com/{{1}}"
		}, "components[3].buttons[0].url", "http or https", ""},
		{"URL suffix without sample", func(t *waformat.Template) { t.Components[3].Buttons[0].Example = nil }, "components[3].buttons[0].example", "sample URL", ""},
		{"URL over 2000", func(t *waformat.Template) {
			t.Components[3].Buttons[0].URL = "https://x.example/" + strings.Repeat("a", 1983)
		}, "components[3].buttons[0].url", "limit is 2000", waformat.ReasonTooLong},
		{"bad phone", func(t *waformat.Template) { t.Components[3].Buttons[1].PhoneNumber = "call me" }, "components[3].buttons[1].phone_number", "international", ""},
		{"two phone buttons", func(t *waformat.Template) {
			t.Components[3].Buttons = append(t.Components[3].Buttons, t.Components[3].Buttons[1])
		}, "components[3].buttons", "PHONE_NUMBER", ""},
		{"no buttons", func(t *waformat.Template) { t.Components[3].Buttons = nil }, "components[3].buttons", "at least one", ""},
		{"unknown button", func(t *waformat.Template) { t.Components[3].Buttons[1].Type = "FLOW" }, "components[3].buttons[1].type", "must be QUICK_REPLY", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tmpl := orderShipped()
			tt.edit(tmpl)
			reason := tt.reason
			if reason == "" {
				reason = waformat.ReasonInvalid
			}
			requireFieldError(t, tmpl.Validate(), tt.field, reason, tt.substr)
		})
	}

	t.Run("named", func(t *testing.T) {
		t.Parallel()
		tmpl := appointment()
		tmpl.Components[0].Text = "Hola {{1}}, te esperamos."
		requireFieldError(t, tmpl.Validate(), "components[0].text", waformat.ReasonInvalid, "parameter_format is NAMED")

		tmpl = appointment()
		tmpl.Components[0].Example.BodyTextNamedParams = tmpl.Components[0].Example.BodyTextNamedParams[:2]
		requireFieldError(t, tmpl.Validate(), "components[0].example.body_text_named_params", waformat.ReasonInvalid, "{{customer_name}}, {{date}}, {{time}}")
	})
	t.Run("coupon", func(t *testing.T) {
		t.Parallel()
		tmpl := coupon()
		tmpl.Components[2].Buttons[0].Example = []string{strings.Repeat("C", 16)}
		requireFieldError(t, tmpl.Validate(), "components[2].buttons[0].example", waformat.ReasonTooLong, "limit is 15")

		tmpl = coupon()
		tmpl.Components[0].Example = nil
		requireFieldError(t, tmpl.Validate(), "components[0].example.header_handle", waformat.ReasonInvalid, "sample media")
	})
	t.Run("normalize", func(t *testing.T) {
		t.Parallel()
		tmpl := helloWorld()
		tmpl.Category, tmpl.Components[0].Type = "utility", "body"
		require.Error(t, tmpl.Validate())
		tmpl.Normalize()
		require.NoError(t, tmpl.Validate())
	})
}

// requireFieldError checks that err is a FieldErrors holding an error on field
// with the reason and a message containing substr.
func requireFieldError(t *testing.T, err error, field string, reason waformat.Reason, substr string) {
	t.Helper()
	require.Error(t, err)
	var errs waformat.FieldErrors
	require.ErrorAs(t, err, &errs)
	for _, e := range errs {
		if e.Field == field {
			require.Equal(t, reason, e.Reason, "%s: %s", e.Field, e.Message)
			require.Contains(t, e.Message, substr)
			return
		}
	}
	require.Failf(t, "no error on the field", "want %s, got %v", field, errs)
}
