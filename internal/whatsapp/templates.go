package whatsapp

import (
	"context"
	"fmt"
	"net/url"
	"strconv"

	"github.com/wainbox/wainbox/internal/waformat"
)

// TemplatePage is one page of GET /{waba_id}/message_templates.
type TemplatePage struct {
	Data   []waformat.Template `json:"data"`
	Paging struct {
		Cursors struct {
			Before string `json:"before"`
			After  string `json:"after"`
		} `json:"cursors"`
		// Next is set while there are more pages.
		Next string `json:"next"`
	} `json:"paging"`
}

// templateFields are the fields a template list asks for: everything wainbox stores.
const templateFields = "id,name,language,status,category,parameter_format,components,rejected_reason"

// ListTemplates reads one page of the business account's message templates, after the cursor
// after ("" for the first page).
func (c *Client) ListTemplates(ctx context.Context, wabaID, after string, limit int) (*TemplatePage, error) {
	q := url.Values{"fields": {templateFields}, "limit": {strconv.Itoa(limit)}}
	if after != "" {
		q.Set("after", after)
	}
	var page TemplatePage
	if err := c.call(ctx, "GET", url.PathEscape(wabaID)+"/message_templates", q, nil, &page); err != nil {
		return nil, fmt.Errorf("error listing message templates of %s: %w", wabaID, err)
	}
	return &page, nil
}

// CreatedTemplate is Meta's answer to a template creation: the template's id and its first
// status (PENDING while Meta reviews it, or APPROVED at once for some).
type CreatedTemplate struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	Category string `json:"category"`
}

// CreateTemplate submits a template for Meta's review.
func (c *Client) CreateTemplate(ctx context.Context, wabaID string, t *waformat.Template) (*CreatedTemplate, error) {
	in := *t
	in.ID, in.Status, in.RejectedReason = "", "", ""
	var out CreatedTemplate
	if err := c.call(ctx, "POST", url.PathEscape(wabaID)+"/message_templates", nil, &in, &out); err != nil {
		return nil, fmt.Errorf("error creating message template %s: %w", t.Name, err)
	}
	return &out, nil
}

// DeleteTemplate deletes every language of the template name at Meta.
func (c *Client) DeleteTemplate(ctx context.Context, wabaID, name string) error {
	var out struct {
		Success bool `json:"success"`
	}
	q := url.Values{"name": {name}}
	if err := c.call(ctx, "DELETE", url.PathEscape(wabaID)+"/message_templates", q, nil, &out); err != nil {
		return fmt.Errorf("error deleting message template %s: %w", name, err)
	}
	if !out.Success {
		return fmt.Errorf("error deleting message template %s: Meta did not confirm", name)
	}
	return nil
}
