package waformat_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/waformat"
)

func text(s string) waformat.Parameter { return waformat.Parameter{Type: "text", Text: s} }

func named(name, s string) waformat.Parameter {
	return waformat.Parameter{Type: "text", ParameterName: name, Text: s}
}

// shippedSend is a valid send of orderShipped.
func shippedSend() *waformat.TemplateSend {
	return &waformat.TemplateSend{
		Name: "order_shipped", Language: waformat.TemplateLanguage{Code: "en_US"},
		Components: []waformat.SendComponent{
			{Type: "header", Parameters: []waformat.Parameter{text("A-1001")}},
			{Type: "body", Parameters: []waformat.Parameter{text("Ana"), text("A-1001"), text("Tuesday")}},
			{Type: "button", SubType: "url", Index: "0", Parameters: []waformat.Parameter{text("A-1001")}},
		},
	}
}

// appointmentSend is a valid send of appointment, its named parameters out of order.
func appointmentSend() *waformat.TemplateSend {
	return &waformat.TemplateSend{
		Name: "appointment_reminder", Language: waformat.TemplateLanguage{Code: "es"},
		Components: []waformat.SendComponent{
			{Type: "body", Parameters: []waformat.Parameter{named("time", "10:00"), named("customer_name", "Ana"), named("date", "martes 3")}},
		},
	}
}

func couponSend() *waformat.TemplateSend {
	return &waformat.TemplateSend{
		Name: "autumn_coupon", Language: waformat.TemplateLanguage{Code: "en"},
		Components: []waformat.SendComponent{
			{Type: "header", Parameters: []waformat.Parameter{{Type: "image", Image: &waformat.Media{Link: "https://cdn.example.com/autumn.jpg"}}}},
			{Type: "body", Parameters: []waformat.Parameter{text("25%")}},
			{Type: "button", SubType: "copy_code", Index: "0", Parameters: []waformat.Parameter{{Type: "coupon_code", CouponCode: "AUTUMN25"}}},
		},
	}
}

func TestValidateTemplateSendValid(t *testing.T) {
	t.Parallel()
	require.NoError(t, waformat.ValidateTemplateSend(orderShipped(), shippedSend()))
	require.NoError(t, waformat.ValidateTemplateSend(appointment(), appointmentSend()))
	require.NoError(t, waformat.ValidateTemplateSend(coupon(), couponSend()))
	require.NoError(t, waformat.ValidateTemplateSend(helloWorld(), &waformat.TemplateSend{Name: "hello_world", Language: waformat.TemplateLanguage{Code: "en_US"}}))

	// Meta's request as a client writes it: upper-case types, a numeric index,
	// quick-reply payloads, currency and date_time in place of text.
	var send waformat.TemplateSend
	require.NoError(t, json.Unmarshal([]byte(`{"name":"appointment_reminder","language":{"code":"es","policy":"deterministic"},"components":[
		{"type":"BODY","parameters":[
			{"type":"text","parameter_name":"customer_name","text":"Ana"},
			{"type":"date_time","parameter_name":"date","date_time":{"fallback_value":"martes 3"}},
			{"type":"currency","parameter_name":"time","currency":{"fallback_value":"$10.00","code":"USD","amount_1000":10000}}]},
		{"type":"button","sub_type":"quick_reply","index":1,"parameters":[{"type":"payload","payload":"RESCHEDULE"}]}]}`), &send))
	require.Equal(t, waformat.Index("1"), send.Components[1].Index)
	require.NoError(t, waformat.ValidateTemplateSend(appointment(), &send))
	out, err := json.Marshal(send.Components[1])
	require.NoError(t, err)
	require.Contains(t, string(out), `"index":"1"`, "written as Meta documents it")
}

func TestValidateTemplateSendTemplate(t *testing.T) {
	t.Parallel()
	status := func(s waformat.Status) *waformat.Template {
		tmpl := orderShipped()
		tmpl.Status = s
		return tmpl
	}
	tests := []struct {
		name   string
		tmpl   *waformat.Template
		edit   func(*waformat.TemplateSend)
		field  string
		reason waformat.Reason
	}{
		{"no such template", nil, nil, "template.name", waformat.ReasonTemplateNotFound},
		{"another template", helloWorld(), nil, "template.name", waformat.ReasonTemplateNotFound},
		{"wrong language", orderShipped(), func(s *waformat.TemplateSend) { s.Language.Code = "es" }, "template.language.code", waformat.ReasonTemplateLanguage},
		{"language is a locale", orderShipped(), func(s *waformat.TemplateSend) { s.Language.Code = "en" }, "template.language.code", waformat.ReasonTemplateLanguage},
		{"pending", status(waformat.StatusPending), nil, "template.name", waformat.ReasonTemplateNotApproved},
		{"rejected", status(waformat.StatusRejected), nil, "template.name", waformat.ReasonTemplateNotApproved},
		{"no status", status(""), nil, "template.name", waformat.ReasonTemplateNotApproved},
		{"paused", status(waformat.StatusPaused), nil, "template.name", waformat.ReasonTemplatePaused},
		{"disabled", status(waformat.StatusDisabled), nil, "template.name", waformat.ReasonTemplateDisabled},
		{"no name", orderShipped(), func(s *waformat.TemplateSend) { s.Name = "" }, "template.name", waformat.ReasonInvalid},
		{"no language", orderShipped(), func(s *waformat.TemplateSend) { s.Language.Code = "" }, "template.language.code", waformat.ReasonInvalid},
		{"bad policy", orderShipped(), func(s *waformat.TemplateSend) { s.Language.Policy = "fallback" }, "template.language.policy", waformat.ReasonInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			send := shippedSend()
			if tt.edit != nil {
				tt.edit(send)
			}
			err := waformat.ValidateTemplateSend(tt.tmpl, send)
			var errs waformat.FieldErrors
			require.ErrorAs(t, err, &errs)
			require.Len(t, errs, 1, "a template problem is reported alone: %v", errs)
			require.Equal(t, tt.field, errs[0].Field)
			require.Equal(t, tt.reason, errs[0].Reason, errs[0].Message)
			require.NotEmpty(t, errs[0].Message)
		})
	}
	require.Error(t, waformat.ValidateTemplateSend(orderShipped(), nil))
}

func TestValidateTemplateSendParameters(t *testing.T) {
	t.Parallel()
	const (
		header = "template.components[0].parameters"
		body   = "template.components[1].parameters"
		button = "template.components[2]"
	)
	tests := []struct {
		name   string
		tmpl   func() *waformat.Template
		send   func() *waformat.TemplateSend
		edit   func(*waformat.TemplateSend)
		field  string // "" expects no error
		reason waformat.Reason
		substr string
	}{
		// Counts.
		{"body one parameter short", orderShipped, shippedSend, func(s *waformat.TemplateSend) {
			s.Components[1].Parameters = s.Components[1].Parameters[:2]
		}, body, waformat.ReasonParameterCount, "3 parameters ({{1}}, {{2}}, {{3}}); got 2"},
		{"body one parameter over", orderShipped, shippedSend, func(s *waformat.TemplateSend) {
			s.Components[1].Parameters = append(s.Components[1].Parameters, text("extra"))
		}, body, waformat.ReasonParameterCount, "got 4"},
		{"body missing", orderShipped, shippedSend, func(s *waformat.TemplateSend) {
			s.Components = append(s.Components[:1], s.Components[2])
		}, "template.components", waformat.ReasonParameterCount, "body needs 3 parameters"},
		{"header missing", orderShipped, shippedSend, func(s *waformat.TemplateSend) {
			s.Components = s.Components[1:]
		}, "template.components", waformat.ReasonParameterCount, "header needs 1 parameter ({{1}})"},
		{"URL button missing", orderShipped, shippedSend, func(s *waformat.TemplateSend) {
			s.Components = s.Components[:2]
		}, "template.components", waformat.ReasonParameterCount, `url button 0 needs a text parameter; add a {"type":"button","sub_type":"url","index":"0"}`},
		{"parameters for a template without any", helloWorld, func() *waformat.TemplateSend {
			return &waformat.TemplateSend{Name: "hello_world", Language: waformat.TemplateLanguage{Code: "en_US"},
				Components: []waformat.SendComponent{{Type: "body", Parameters: []waformat.Parameter{text("x")}}}}
		}, nil, "template.components[0].parameters", waformat.ReasonParameterCount, "takes no parameters"},
		{"parameter for the fixed phone button", orderShipped, shippedSend, func(s *waformat.TemplateSend) {
			s.Components[2].SubType, s.Components[2].Index = "url", "1"
		}, button + ".sub_type", waformat.ReasonParameterFormat, "PHONE_NUMBER, not URL"},
		{"two bodies", orderShipped, shippedSend, func(s *waformat.TemplateSend) {
			s.Components = append(s.Components, s.Components[1])
		}, "template.components[3].type", waformat.ReasonInvalid, "at most one body"},
		{"unknown component type", orderShipped, shippedSend, func(s *waformat.TemplateSend) {
			s.Components[2].Type = "footer"
		}, button + ".type", waformat.ReasonInvalid, "header, body or button"},

		// Header text: 60 characters.
		{"header parameter at 60", orderShipped, shippedSend, func(s *waformat.TemplateSend) {
			s.Components[0].Parameters[0].Text = strings.Repeat("é", 60)
		}, "", "", ""},
		{"header parameter at 61", orderShipped, shippedSend, func(s *waformat.TemplateSend) {
			s.Components[0].Parameters[0].Text = strings.Repeat("é", 61)
		}, header + "[0].text", waformat.ReasonTooLong, "limit is 60"},
		// Body text: 1024 beside other components, 32768 alone.
		{"body parameter at 1024", orderShipped, shippedSend, func(s *waformat.TemplateSend) {
			s.Components[1].Parameters[2].Text = strings.Repeat("a", 1024)
		}, "", "", ""},
		{"body parameter at 1025", orderShipped, shippedSend, func(s *waformat.TemplateSend) {
			s.Components[1].Parameters[2].Text = strings.Repeat("a", 1025)
		}, body + "[2].text", waformat.ReasonTooLong, "limit is 1024"},
		{"body-only parameter at 32768", bodyOnly, bodyOnlySend, func(s *waformat.TemplateSend) {
			s.Components[0].Parameters[0].Text = strings.Repeat("a", 32768)
		}, "", "", ""},
		{"body-only parameter at 32769", bodyOnly, bodyOnlySend, func(s *waformat.TemplateSend) {
			s.Components[0].Parameters[0].Text = strings.Repeat("a", 32769)
		}, "template.components[0].parameters[0].text", waformat.ReasonTooLong, "limit is 32768"},
		{"empty text", orderShipped, shippedSend, func(s *waformat.TemplateSend) {
			s.Components[1].Parameters[0].Text = " "
		}, body + "[0].text", waformat.ReasonInvalid, "required"},
		{"newline in a parameter", orderShipped, shippedSend, func(s *waformat.TemplateSend) {
			s.Components[1].Parameters[0].Text = "Ana\nMaría"
		}, body + "[0].text", waformat.ReasonParameterText, "newlines"},
		{"four spaces are fine", orderShipped, shippedSend, func(s *waformat.TemplateSend) {
			s.Components[1].Parameters[0].Text = "Ana    María"
		}, "", "", ""},
		{"five spaces are not", orderShipped, shippedSend, func(s *waformat.TemplateSend) {
			s.Components[1].Parameters[0].Text = "Ana     María"
		}, body + "[0].text", waformat.ReasonParameterText, "more than 4 consecutive spaces"},
		{"wrong type", orderShipped, shippedSend, func(s *waformat.TemplateSend) {
			s.Components[1].Parameters[0] = waformat.Parameter{Type: "image", Image: &waformat.Media{ID: "1"}}
		}, body + "[0].type", waformat.ReasonParameterFormat, "text, currency or date_time"},
		{"no type", orderShipped, shippedSend, func(s *waformat.TemplateSend) {
			s.Components[1].Parameters[0].Type = ""
		}, body + "[0].type", waformat.ReasonInvalid, "required"},
		{"currency without code", orderShipped, shippedSend, func(s *waformat.TemplateSend) {
			s.Components[1].Parameters[0] = waformat.Parameter{Type: "currency", Currency: &waformat.Currency{FallbackValue: "$1", Code: "usd"}}
		}, body + "[0].currency.code", waformat.ReasonInvalid, "ISO 4217"},
		{"positional with a name", orderShipped, shippedSend, func(s *waformat.TemplateSend) {
			s.Components[1].Parameters[0].ParameterName = "first_name"
		}, body + "[0].parameter_name", waformat.ReasonParameterFormat, "positional"},

		// URL suffix: the whole URL within 2000.
		{"URL suffix to the limit", orderShipped, shippedSend, func(s *waformat.TemplateSend) {
			s.Components[2].Parameters[0].Text = strings.Repeat("a", 2000-len("https://shop.example.com/track/"))
		}, "", "", ""},
		{"URL suffix over the limit", orderShipped, shippedSend, func(s *waformat.TemplateSend) {
			s.Components[2].Parameters[0].Text = strings.Repeat("a", 2001-len("https://shop.example.com/track/"))
		}, button + ".parameters[0].text", waformat.ReasonTooLong, "the suffix can have at most 1969"},
		{"URL suffix with a space", orderShipped, shippedSend, func(s *waformat.TemplateSend) {
			s.Components[2].Parameters[0].Text = "A 1001"
		}, button + ".parameters[0].text", waformat.ReasonInvalid, "spaces"},
		{"button without sub_type", orderShipped, shippedSend, func(s *waformat.TemplateSend) {
			s.Components[2].SubType = ""
		}, button + ".sub_type", waformat.ReasonInvalid, "required"},
		{"button without index", orderShipped, shippedSend, func(s *waformat.TemplateSend) {
			s.Components[2].Index = ""
		}, button + ".index", waformat.ReasonInvalid, "required"},
		{"button index not a number", orderShipped, shippedSend, func(s *waformat.TemplateSend) {
			s.Components[2].Index = "first"
		}, button + ".index", waformat.ReasonInvalid, "position"},
		{"button index past the buttons", orderShipped, shippedSend, func(s *waformat.TemplateSend) {
			s.Components[2].Index = "5"
		}, button + ".index", waformat.ReasonParameterFormat, "no button 5"},
		{"URL suffix given as payload", orderShipped, shippedSend, func(s *waformat.TemplateSend) {
			s.Components[2].Parameters[0] = waformat.Parameter{Type: "payload", Payload: "x"}
		}, button + ".parameters[0].type", waformat.ReasonParameterFormat, "use text"},

		// Named parameters.
		{"named without a name", appointment, appointmentSend, func(s *waformat.TemplateSend) {
			s.Components[0].Parameters[1].ParameterName = ""
		}, "template.components[0].parameters[1].parameter_name", waformat.ReasonParameterFormat, "named parameters ({{customer_name}}, {{date}}, {{time}})"},
		{"named unknown", appointment, appointmentSend, func(s *waformat.TemplateSend) {
			s.Components[0].Parameters[1].ParameterName = "name"
		}, "template.components[0].parameters[1].parameter_name", waformat.ReasonParameterFormat, "has no {{name}}"},
		{"named twice", appointment, appointmentSend, func(s *waformat.TemplateSend) {
			s.Components[0].Parameters[1].ParameterName = "time"
		}, "template.components[0].parameters[1].parameter_name", waformat.ReasonParameterFormat, "given twice"},
		{"named one short", appointment, appointmentSend, func(s *waformat.TemplateSend) {
			s.Components[0].Parameters = s.Components[0].Parameters[:2]
		}, "template.components[0].parameters", waformat.ReasonParameterCount, "got 2"},
		{"quick reply payload too long", appointment, appointmentSend, func(s *waformat.TemplateSend) {
			s.Components = append(s.Components, waformat.SendComponent{Type: "button", SubType: "quick_reply", Index: "0",
				Parameters: []waformat.Parameter{{Type: "payload", Payload: strings.Repeat("p", 257)}}})
		}, "template.components[1].parameters[0].payload", waformat.ReasonTooLong, "limit is 256"},
		{"the same button twice", appointment, appointmentSend, func(s *waformat.TemplateSend) {
			b := waformat.SendComponent{Type: "button", SubType: "quick_reply", Index: "0", Parameters: []waformat.Parameter{{Type: "payload", Payload: "p"}}}
			s.Components = append(s.Components, b, b)
		}, "template.components[2].index", waformat.ReasonInvalid, "twice"},

		// Media header and copy code.
		{"image header as a video", coupon, couponSend, func(s *waformat.TemplateSend) {
			s.Components[0].Parameters[0] = waformat.Parameter{Type: "video", Video: &waformat.Media{ID: "1"}}
		}, header + "[0].type", waformat.ReasonParameterFormat, "use image"},
		{"image with id and link", coupon, couponSend, func(s *waformat.TemplateSend) {
			s.Components[0].Parameters[0].Image.ID = "123"
		}, header + "[0].image", waformat.ReasonInvalid, "not both"},
		{"image link not http", coupon, couponSend, func(s *waformat.TemplateSend) {
			s.Components[0].Parameters[0].Image.Link = "file:///etc/passwd"
		}, header + "[0].image.link", waformat.ReasonInvalid, "http or https"},
		{"image header missing", coupon, couponSend, func(s *waformat.TemplateSend) {
			s.Components = s.Components[1:]
		}, "template.components", waformat.ReasonParameterCount, "header needs an image parameter"},
		{"coupon code at 15", coupon, couponSend, func(s *waformat.TemplateSend) {
			s.Components[2].Parameters[0].CouponCode = strings.Repeat("C", 15)
		}, "", "", ""},
		{"coupon code at 16", coupon, couponSend, func(s *waformat.TemplateSend) {
			s.Components[2].Parameters[0].CouponCode = strings.Repeat("C", 16)
		}, button + ".parameters[0].coupon_code", waformat.ReasonTooLong, "limit is 15"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			send := tt.send()
			if tt.edit != nil {
				tt.edit(send)
			}
			err := waformat.ValidateTemplateSend(tt.tmpl(), send)
			if tt.field == "" {
				require.NoError(t, err)
				return
			}
			requireFieldError(t, err, tt.field, tt.reason, tt.substr)
		})
	}
}

func TestValidateTemplateSendLocationHeader(t *testing.T) {
	t.Parallel()
	tmpl := &waformat.Template{Name: "store_here", Language: "en", Status: waformat.StatusApproved, Category: waformat.CategoryUtility,
		Components: []waformat.Component{{Type: waformat.ComponentHeader, Format: waformat.FormatLocation}, {Type: waformat.ComponentBody, Text: "Find us here."}}}
	require.NoError(t, tmpl.Validate())
	lat, long := waformat.Coordinate(37.48), waformat.Coordinate(-122.15)
	send := &waformat.TemplateSend{Name: "store_here", Language: waformat.TemplateLanguage{Code: "en"}, Components: []waformat.SendComponent{
		{Type: "header", Parameters: []waformat.Parameter{{Type: "location", Location: &waformat.Location{Latitude: &lat, Longitude: &long, Name: "Shop"}}}},
	}}
	require.NoError(t, waformat.ValidateTemplateSend(tmpl, send))
	require.Equal(t, "[Location: Shop]\n\nFind us here.", waformat.Render(tmpl, send))

	far := waformat.Coordinate(181)
	send.Components[0].Parameters[0].Location.Longitude = &far
	requireFieldError(t, waformat.ValidateTemplateSend(tmpl, send), "template.components[0].parameters[0].location.longitude", waformat.ReasonInvalid, "between -180 and 180")
}

func bodyOnly() *waformat.Template {
	return &waformat.Template{Name: "long_note", Language: "en", Status: waformat.StatusApproved, Category: waformat.CategoryUtility,
		Components: []waformat.Component{{Type: waformat.ComponentBody, Text: "Note: {{1}}.", Example: &waformat.Example{BodyText: [][]string{{"x"}}}}}}
}

func bodyOnlySend() *waformat.TemplateSend {
	return &waformat.TemplateSend{Name: "long_note", Language: waformat.TemplateLanguage{Code: "en"},
		Components: []waformat.SendComponent{{Type: "body", Parameters: []waformat.Parameter{text("x")}}}}
}

func TestValidateTemplateSendCollectsEveryProblem(t *testing.T) {
	t.Parallel()
	send := shippedSend()
	send.Components[0].Parameters[0].Text = strings.Repeat("h", 61)
	send.Components[1].Parameters[1].Text = ""
	send.Components = send.Components[:2]
	var errs waformat.FieldErrors
	require.ErrorAs(t, waformat.ValidateTemplateSend(orderShipped(), send), &errs)
	fields := make([]string, len(errs))
	for i, e := range errs {
		fields[i] = e.Field
	}
	require.Equal(t, []string{
		"template.components[0].parameters[0].text",
		"template.components[1].parameters[1].text",
		"template.components",
	}, fields)
	require.Contains(t, errs.Error(), "(and 2 more)")
}

func TestRender(t *testing.T) {
	t.Parallel()
	require.Equal(t, "Order A-1001 shipped\n\n"+
		"Hi Ana, your order A-1001 is on its way and arrives on Tuesday.\n\n"+
		"Reply STOP to opt out\n\n"+
		"[Track order]\n[Call us]", waformat.Render(orderShipped(), shippedSend()))

	require.Equal(t, "Hola Ana, te esperamos el martes 3 a las 10:00.\n\n[Confirmar]\n[Cambiar cita]",
		waformat.Render(appointment(), appointmentSend()))

	require.Equal(t, "[Image]\n\nUse the code below for 25% off.\n\n[Copy offer code: AUTUMN25]",
		waformat.Render(coupon(), couponSend()))

	require.Equal(t, "Hello World", waformat.Render(helloWorld(), nil))
	// Without values the placeholders stay, so a template picker can show them.
	require.Equal(t, "Hola {{customer_name}}, te esperamos el {{date}} a las {{time}}.\n\n[Confirmar]\n[Cambiar cita]",
		waformat.Render(appointment(), nil))
	// Currency and date_time show their fallback values.
	send := appointmentSend()
	send.Components[0].Parameters[1] = waformat.Parameter{Type: "currency", ParameterName: "customer_name", Currency: &waformat.Currency{FallbackValue: "$5", Code: "USD", Amount1000: 5000}}
	require.Contains(t, waformat.Render(appointment(), send), "Hola $5,")
	// An unknown template still names what was sent.
	require.Equal(t, "[Template order_shipped (en_US)]", waformat.Render(nil, shippedSend()))
}
