package simulator

import (
	"bytes"
	"encoding/json"
	"errors"

	"github.com/wainbox/wainbox/internal/waformat"
)

// payloadError turns waformat's field errors into Meta's answer: 131009
// (invalid parameter value) with the first error's field and message as details.
func payloadError(err error) *graphError {
	var errs waformat.FieldErrors
	if !errors.As(err, &errs) || len(errs) == 0 {
		return invalidParam(131009, err.Error())
	}
	return invalidParam(131009, errs[0].Error()+".")
}

// checkPayload validates the payload of a send that passed checkRequest as Meta
// does, with waformat: the free-form types against Meta's limits, and that a
// template names a template and a language. It records the readable text of a
// type other than text and template as the send's Body.
func (s *Simulator) checkPayload(raw []byte, send *Send) *graphError {
	var msg waformat.Message
	if err := json.NewDecoder(bytes.NewReader(raw)).Decode(&msg); err != nil {
		return invalidParam(100, "The request body does not have the shape of a "+send.Type+" message: "+err.Error())
	}
	msg.Type = send.Type
	if err := waformat.ValidateMessage(&msg); err != nil {
		return payloadError(err)
	}
	if send.Type != waformat.TypeText && send.Type != waformat.TypeTemplate {
		send.Body = waformat.Preview(&msg, nil)
	}
	return nil
}
