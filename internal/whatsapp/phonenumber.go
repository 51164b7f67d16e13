package whatsapp

import (
	"context"
	"fmt"
	"net/url"
)

// phoneNumberFields are the fields of the business number an operator watches: the quality rating
// Meta gives it from customers' blocks and reports (GREEN, YELLOW, RED; a RED number gets its
// messaging limit lowered), the messaging limit tier (business-initiated conversations per 24
// hours) and the throughput level (messages per second).
const phoneNumberFields = "verified_name,display_phone_number,quality_rating,messaging_limit_tier,throughput,name_status"

// PhoneNumber is Meta's answer to GET /{phone-number-id}: the business number as Meta rates it.
type PhoneNumber struct {
	ID                 string `json:"id"`
	VerifiedName       string `json:"verified_name"`
	DisplayPhoneNumber string `json:"display_phone_number"`
	// QualityRating is GREEN, YELLOW, RED or UNKNOWN.
	QualityRating string `json:"quality_rating"`
	// MessagingLimitTier is TIER_250, TIER_1K, TIER_10K, TIER_100K or TIER_UNLIMITED.
	MessagingLimitTier string `json:"messaging_limit_tier"`
	Throughput         struct {
		// Level is STANDARD (80 messages per second) or HIGH (up to 1,000).
		Level string `json:"level"`
	} `json:"throughput"`
	NameStatus string `json:"name_status"`
}

// PhoneNumber reads the business number's quality rating, messaging limit and throughput. It is
// also the cheapest proof that the access token works: Meta answers code 190 for an expired or
// revoked one.
func (c *Client) PhoneNumber(ctx context.Context, phoneNumberID string) (*PhoneNumber, error) {
	if phoneNumberID == "" {
		return nil, fmt.Errorf("error reading whatsapp phone number: %w: phone number id is required", ErrInvalidMessage)
	}
	var out PhoneNumber
	q := url.Values{"fields": {phoneNumberFields}}
	if err := c.call(ctx, "GET", url.PathEscape(phoneNumberID), q, nil, &out); err != nil {
		return nil, fmt.Errorf("error reading whatsapp phone number %s: %w", phoneNumberID, err)
	}
	return &out, nil
}
