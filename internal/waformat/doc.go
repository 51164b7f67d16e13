// Package waformat knows the shapes and limits of what wainbox sends through
// WhatsApp, in Meta's own request shapes: message templates as the Graph API
// returns them, a template send checked against the stored template it names,
// and the free-form types (text, media, interactive reply buttons, lists and
// call-to-action URLs, location, contacts, reactions). It validates them against
// Meta's documented limits, answering field errors with a JSON path an API client
// can act on, and renders the text the customer sees, so that a stored message
// keeps a readable body.
//
// It is pure: no database, no HTTP, no clock. The API, the outbox and the
// simulator share it, so the simulator refuses what Meta would refuse for the
// same reasons.
package waformat
