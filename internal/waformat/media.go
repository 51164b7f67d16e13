package waformat

import (
	"bytes"
	"fmt"
	"strings"
)

// Meta's media limits ("Supported media types" of the Cloud API's media reference): which file
// types each kind of media message carries and how large it may be. wainbox checks a file against
// them before storing it, from its sniffed type, so an agent learns at once what Meta would refuse
// at send time.
const (
	MaxImageBytes           = 5 << 20
	MaxVideoBytes           = 16 << 20
	MaxAudioBytes           = 16 << 20
	MaxDocumentBytes        = 100 << 20
	MaxStaticStickerBytes   = 100 << 10
	MaxAnimatedStickerBytes = 500 << 10
)

// mediaTypes are the MIME types each kind of media message may carry, as
// github.com/gabriel-vasile/mimetype names them when sniffing.
var mediaTypes = map[string][]string{
	TypeImage: {"image/jpeg", "image/png"},
	TypeVideo: {"video/mp4", "video/3gpp"},
	// Meta lists audio/mp4 (AAC in MP4, as m4a), and audio/ogg with the Opus codec only (voice notes).
	TypeAudio:   {"audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/x-m4a", "audio/ogg"},
	TypeSticker: {"image/webp"},
	TypeDocument: {
		"text/plain", "application/pdf",
		"application/msword", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
		"application/vnd.ms-excel", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
		"application/vnd.ms-powerpoint", "application/vnd.openxmlformats-officedocument.presentationml.presentation",
	},
}

// MediaKinds are the kinds of media message, in the order they are named to people.
var MediaKinds = []string{TypeImage, TypeVideo, TypeAudio, TypeDocument, TypeSticker}

// IsMediaType reports whether typ is a kind of media message.
func IsMediaType(typ string) bool {
	_, ok := mediaTypes[typ]
	return ok
}

// MediaKindOf is the kind of media message a file of MIME type mime is sent as when the sender
// does not say: images, videos and audio as themselves, WebP as a sticker, anything else as a
// document.
func MediaKindOf(mime string) string {
	mime = BaseType(mime)
	for _, kind := range []string{TypeImage, TypeVideo, TypeAudio, TypeSticker} {
		for _, t := range mediaTypes[kind] {
			if t == mime {
				return kind
			}
		}
	}
	return TypeDocument
}

// MediaLimit checks that a file of MIME type mime, whose first bytes are head, may be sent as
// kind, and returns the largest size Meta accepts for it. A sticker's limit depends on whether
// it is animated, which head tells.
func MediaLimit(kind, mime string, head []byte) (int64, error) {
	allowed, ok := mediaTypes[kind]
	if !ok {
		return 0, fmt.Errorf("%q is not a kind of media; use one of %s", kind, strings.Join(MediaKinds, ", "))
	}
	base := BaseType(mime)
	found := false
	for _, t := range allowed {
		found = found || t == base
	}
	if !found {
		return 0, fmt.Errorf("the file is %s, which WhatsApp does not send as %s (it takes %s)", base, kind, strings.Join(allowed, ", "))
	}
	switch kind {
	case TypeImage:
		return MaxImageBytes, nil
	case TypeVideo:
		return MaxVideoBytes, nil
	case TypeAudio:
		return MaxAudioBytes, nil
	case TypeSticker:
		if AnimatedWebP(head) {
			return MaxAnimatedStickerBytes, nil
		}
		return MaxStaticStickerBytes, nil
	default:
		return MaxDocumentBytes, nil
	}
}

// AnimatedWebP reports whether head starts an animated WebP: an extended (VP8X) header with its
// animation flag set.
func AnimatedWebP(head []byte) bool {
	return len(head) >= 21 && bytes.Equal(head[0:4], []byte("RIFF")) && bytes.Equal(head[8:16], []byte("WEBPVP8X")) &&
		head[20]&0x02 != 0
}

// MetaMediaType is the name Meta's list gives a sniffed MIME type, to upload a file with: the
// type without parameters, and audio/mp4 for what sniffing calls audio/x-m4a.
func MetaMediaType(mime string) string {
	if base := BaseType(mime); base != "audio/x-m4a" {
		return base
	}
	return "audio/mp4"
}

// BaseType is a MIME type without its parameters, lowercase ("text/plain; charset=utf-8" is
// text/plain).
func BaseType(mime string) string {
	if i := strings.IndexByte(mime, ';'); i >= 0 {
		mime = mime[:i]
	}
	return strings.ToLower(strings.TrimSpace(mime))
}
