package waformat

// Meta's limits. Lengths count characters (Unicode code points), as Meta does.
// Sources are Meta's WhatsApp Cloud API pages on developers.facebook.com
// (business-messaging/whatsapp): "Template components" for templates as created,
// the Messages API parameter object for template sends, and the pages of each
// interactive message type. Where Meta's pages do not give a figure, the comment
// says which value was chosen and why.
const (
	// MaxTextBody is the limit of text.body of a text message.
	MaxTextBody = 4096
	// MaxCaption is the limit of a media caption (image, video, document).
	MaxCaption = 1024

	// MaxTemplateName is the limit of a template's name ("Template name":
	// lowercase letters, digits and underscores, at most 512 characters).
	MaxTemplateName = 512
	// MaxTemplateHeaderText is the limit of a TEXT header as created, placeholder
	// included.
	MaxTemplateHeaderText = 60
	// MaxTemplateBodyText is the limit of the body text as created.
	MaxTemplateBodyText = 1024
	// MaxTemplateFooterText is the limit of the footer text.
	MaxTemplateFooterText = 60
	// MaxTemplateButtons is the limit of buttons in one template, all types together.
	MaxTemplateButtons = 10
	// MaxTemplateButtonText is the limit of a button's label.
	MaxTemplateButtonText = 25
	// MaxTemplateURLButtons, MaxTemplatePhoneButtons and MaxTemplateCopyCodeButtons
	// are the limits per button type in one template.
	MaxTemplateURLButtons      = 2
	MaxTemplatePhoneButtons    = 1
	MaxTemplateCopyCodeButtons = 1
	// MaxTemplateURL is the limit of a URL button's URL, dynamic suffix included.
	MaxTemplateURL = 2000
	// MaxTemplatePhoneNumber is the limit of a PHONE_NUMBER button's number.
	MaxTemplatePhoneNumber = 20

	// MaxHeaderTextParam is the limit of a text parameter of a header.
	MaxHeaderTextParam = 60
	// MaxBodyTextParam is the limit of a text parameter of the body when the
	// template has other components (header, footer or buttons) too.
	MaxBodyTextParam = 1024
	// MaxBodyOnlyTextParam is the limit of a text parameter of the body when the
	// body is the template's only component.
	MaxBodyOnlyTextParam = 32768
	// MaxParamConsecutiveSpaces: Meta refuses a header or body text parameter
	// with a newline, a tab or more than four consecutive spaces (error 132018).
	MaxParamConsecutiveSpaces = 4
	// MaxCouponCode is the limit of a copy-code button's coupon code (coupon code
	// templates: "codes are limited to 15 characters").
	MaxCouponCode = 15
	// MaxQuickReplyPayload is the limit of a quick-reply button's payload. Meta's
	// Cloud API pages give none; 256 is the figure of the older On-Premises API
	// documentation and the same as a reply button's id, so a payload that passes
	// here is also a valid reply id.
	MaxQuickReplyPayload = 256

	// MaxInteractiveHeaderText is the limit of a text header of an interactive message.
	MaxInteractiveHeaderText = 60
	// MaxInteractiveBodyText is the limit of the body of reply-button and
	// call-to-action URL messages.
	MaxInteractiveBodyText = 1024
	// MaxListBodyText is the limit of the body of a list message. Meta's list
	// message page gives 4096; older pages and SDKs say 1024, which Meta's servers
	// no longer enforce for lists.
	MaxListBodyText = 4096
	// MaxInteractiveFooterText is the limit of the footer of an interactive message.
	MaxInteractiveFooterText = 60
	// MaxReplyButtons is the limit of reply buttons (at least one is required).
	MaxReplyButtons = 3
	// MaxReplyButtonID and MaxReplyButtonTitle are the limits of a reply button.
	MaxReplyButtonID    = 256
	MaxReplyButtonTitle = 20
	// MaxListButtonText is the limit of the button that opens a list.
	MaxListButtonText = 20
	// MaxListSections is the limit of sections of a list; MaxListRows is the
	// limit of rows of all sections together.
	MaxListSections = 10
	MaxListRows     = 10
	// MaxListSectionTitle, MaxListRowID, MaxListRowTitle and MaxListRowDescription
	// are the limits of a list's sections and rows.
	MaxListSectionTitle   = 24
	MaxListRowID          = 200
	MaxListRowTitle       = 24
	MaxListRowDescription = 72
	// MaxCTADisplayText is the limit of a call-to-action URL button's label.
	MaxCTADisplayText = 20

	// MaxReactionEmoji bounds a reaction's emoji in code points. Meta asks for one
	// emoji without giving a length; the longest single emoji (a family or a
	// flag-with-modifiers sequence joined by zero-width joiners) stays within ten
	// code points, so ten is wainbox's figure, not Meta's.
	MaxReactionEmoji = 10
)
