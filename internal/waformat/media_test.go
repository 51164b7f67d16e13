package waformat

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMediaLimitFollowsMetasListAndSizes(t *testing.T) {
	t.Parallel()
	static := []byte("RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10")
	animated := []byte("RIFF\x1a\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x12\x00\x00\x00")
	for _, c := range []struct {
		kind, mime string
		head       []byte
		limit      int64
		refused    string
	}{
		{TypeImage, "image/jpeg", nil, 5 << 20, ""},
		{TypeImage, "image/png", nil, 5 << 20, ""},
		{TypeImage, "image/gif", nil, 0, "image/gif, which WhatsApp does not send as image"},
		{TypeVideo, "video/3gpp", nil, 16 << 20, ""},
		{TypeAudio, "audio/x-m4a", nil, 16 << 20, ""},
		{TypeAudio, "audio/ogg", nil, 16 << 20, ""},
		{TypeDocument, "text/plain; charset=utf-8", nil, 100 << 20, ""},
		{TypeDocument, "application/zip", nil, 0, "does not send as document"},
		{TypeSticker, "image/webp", static, 100 << 10, ""},
		{TypeSticker, "image/webp", animated, 500 << 10, ""},
		{"gif", "image/gif", nil, 0, `"gif" is not a kind of media`},
	} {
		limit, err := MediaLimit(c.kind, c.mime, c.head)
		if c.refused != "" {
			require.ErrorContains(t, err, c.refused, "%s as %s", c.mime, c.kind)
			continue
		}
		require.NoError(t, err, "%s as %s", c.mime, c.kind)
		require.Equal(t, c.limit, limit, "%s as %s", c.mime, c.kind)
	}
}

func TestMediaKindOfAndMetasNames(t *testing.T) {
	t.Parallel()
	for mime, kind := range map[string]string{
		"image/jpeg": TypeImage, "image/webp": TypeSticker, "video/mp4": TypeVideo, "audio/mpeg": TypeAudio,
		"application/pdf": TypeDocument, "image/gif": TypeDocument,
	} {
		require.Equal(t, kind, MediaKindOf(mime), mime)
	}
	require.Equal(t, "audio/mp4", MetaMediaType("audio/x-m4a"))
	require.Equal(t, "text/plain", MetaMediaType("text/plain; charset=utf-8"))
}
