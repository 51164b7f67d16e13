package simulator

import (
	"bytes"
	"encoding/json"
	"errors"

	"github.com/wainbox/wainbox/internal/waformat"
)

// templateCodes maps waformat's reasons onto Meta's error codes of template
// sends. Meta's 132001 covers a template that "does not exist in the specified
// language or has not been approved" (so PENDING and REJECTED too); 132015 is a
// paused template and 132016 one disabled for low quality.
var templateCodes = map[waformat.Reason]int{
	waformat.ReasonTemplateNotFound:    132001,
	waformat.ReasonTemplateLanguage:    132001,
	waformat.ReasonTemplateNotApproved: 132001,
	waformat.ReasonTemplatePaused:      132015,
	waformat.ReasonTemplateDisabled:    132016,
	waformat.ReasonParameterCount:      132000,
	waformat.ReasonParameterFormat:     132012,
	waformat.ReasonParameterText:       132018,
}

// payloadError turns waformat's field errors into Meta's answer: the code of
// the first error's reason (131009, invalid parameter value, for the rest) and
// its field and message as details.
func payloadError(err error) *graphError {
	var errs waformat.FieldErrors
	if !errors.As(err, &errs) || len(errs) == 0 {
		return invalidParam(131009, err.Error())
	}
	code, ok := templateCodes[errs[0].Reason]
	if !ok {
		code = 131009
	}
	return invalidParam(code, errs[0].Error()+".")
}

// checkPayload validates the payload of a send that passed checkRequest as Meta
// does, with waformat: the free-form types against Meta's limits and a template
// against the stored template it names. It records the text the customer sees
// as the send's Body (for a template with its name and language).
func (s *Simulator) checkPayload(raw []byte, send *Send) *graphError {
	var msg waformat.Message
	if err := json.NewDecoder(bytes.NewReader(raw)).Decode(&msg); err != nil {
		return invalidParam(100, "The request body does not have the shape of a "+send.Type+" message: "+err.Error())
	}
	msg.Type = send.Type
	if err := waformat.ValidateMessage(&msg); err != nil {
		return payloadError(err)
	}
	if send.Type != waformat.TypeTemplate {
		if send.Type != waformat.TypeText {
			send.Body = waformat.Preview(&msg, nil)
		}
		return nil
	}
	send.TemplateName, send.TemplateLanguage = msg.Template.Name, msg.Template.Language.Code
	tmpl := s.findTemplate(msg.Template.Name, msg.Template.Language.Code)
	if err := waformat.ValidateTemplateSend(tmpl, msg.Template); err != nil {
		return payloadError(err)
	}
	send.Body = waformat.Render(tmpl, msg.Template)
	return nil
}

// extraTitles are Meta's titles of codes that whatsapp's error table does not list.
var extraTitles = map[int]string{
	132018: "There was an issue with the parameters in your template.",
}
