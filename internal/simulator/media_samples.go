package simulator

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"slices"
	"strings"
	"sync"

	"github.com/wainbox/wainbox/internal/waformat"
)

// SampleMedia returns deterministic sample bytes for a MIME type, which the fake phone stores
// for a media message that brings no bytes of its own: a tiny valid JPEG, PNG, WebP, Ogg/Opus
// header, MP4 header, PDF and so on, each passing checkMedia for its type. An unsupported type
// gets a line of text.
func SampleMedia(mimeType string) []byte {
	switch waformat.BaseType(mimeType) {
	case "image/jpeg":
		return slices.Clone(samples().jpeg)
	case "image/png":
		return slices.Clone(samples().png)
	case "image/webp":
		return []byte(sampleWebP)
	case "audio/ogg":
		return oggOpusHeader()
	case "audio/mpeg":
		return []byte("ID3\x04\x00\x00\x00\x00\x00\x00")
	case "audio/amr":
		return []byte("#!AMR\n")
	case "audio/aac":
		return []byte{0xff, 0xf1, 0x50, 0x80, 0x00, 0x1f, 0xfc}
	case "audio/mp4":
		return isoMediaHeader("M4A ")
	case "video/mp4":
		return isoMediaHeader("isom")
	case "video/3gp", "video/3gpp":
		return isoMediaHeader("3gp4")
	case "application/pdf":
		return []byte(samplePDF)
	case "text/plain":
		return []byte("Sample document from the wainbox simulator.\n")
	case "application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint":
		return append([]byte(oleMagic), make([]byte, 504)...)
	}
	if strings.HasPrefix(waformat.BaseType(mimeType), "application/vnd.openxmlformats-officedocument.") {
		return append([]byte(zipMagic), make([]byte, 26)...)
	}
	return []byte("Sample " + mimeType + " from the wainbox simulator.\n")
}

// samples are the encoded images, made once: the encoders are deterministic.
var samples = sync.OnceValue(func() struct{ jpeg, png []byte } {
	img := image.NewRGBA(image.Rect(0, 0, 2, 2))
	for i, c := range []color.RGBA{{37, 211, 102, 255}, {7, 94, 84, 255}, {255, 255, 255, 255}, {18, 140, 126, 255}} {
		img.Set(i%2, i/2, c)
	}
	var j, p bytes.Buffer
	_ = jpeg.Encode(&j, img, &jpeg.Options{Quality: 90}) // writing to a buffer cannot fail
	_ = png.Encode(&p, img)
	return struct{ jpeg, png []byte }{j.Bytes(), p.Bytes()}
})

// sampleWebP is a 1×1 lossless WebP image.
const sampleWebP = "RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00"

// samplePDF is a one-page empty PDF.
const samplePDF = "%PDF-1.4\n" +
	"1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n" +
	"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n" +
	"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 72 72]>>endobj\n" +
	"trailer<</Root 1 0 R>>\n%%EOF\n"

// isoMediaHeader is the ftyp box that starts an MP4, M4A or 3GP file.
func isoMediaHeader(brand string) []byte {
	b := binary.BigEndian.AppendUint32(nil, 24)
	b = append(b, "ftyp"+brand...)
	b = binary.BigEndian.AppendUint32(b, 0)
	b = append(b, brand+"mp41"...) // compatible brands
	return append(b, 0, 0, 0, 8, 'f', 'r', 'e', 'e')
}

// oggOpusHeader is the two header pages of an Ogg Opus stream (OpusHead, OpusTags), what a
// WhatsApp voice note starts with.
func oggOpusHeader() []byte {
	head := []byte("OpusHead")
	head = append(head, 1, 1) // version, one channel
	head = binary.LittleEndian.AppendUint16(head, 312)
	head = binary.LittleEndian.AppendUint32(head, 48000)
	head = append(head, 0, 0, 0) // output gain, mapping family
	tags := []byte("OpusTags")
	tags = binary.LittleEndian.AppendUint32(tags, 7)
	tags = append(tags, "wainbox"...)
	tags = binary.LittleEndian.AppendUint32(tags, 0)
	return append(oggPage(0x02, 0, head), oggPage(0x00, 1, tags)...)
}

// oggPage is one Ogg page holding one packet shorter than 255 bytes.
func oggPage(headerType byte, seq uint32, packet []byte) []byte {
	p := []byte("OggS")
	p = append(p, 0, headerType)
	p = binary.LittleEndian.AppendUint64(p, 0)          // granule position
	p = binary.LittleEndian.AppendUint32(p, 0x7761696e) // stream serial number
	p = binary.LittleEndian.AppendUint32(p, seq)
	p = binary.LittleEndian.AppendUint32(p, 0) // CRC, filled below
	p = append(p, 1, byte(len(packet)))
	p = append(p, packet...)
	binary.LittleEndian.PutUint32(p[22:], oggCRC(p))
	return p
}

// oggCRC is Ogg's CRC-32 (polynomial 0x04c11db7, not reflected, no initial or final xor).
func oggCRC(b []byte) uint32 {
	var crc uint32
	for _, c := range b {
		crc ^= uint32(c) << 24
		for range 8 {
			if crc&0x80000000 != 0 {
				crc = crc<<1 ^ 0x04c11db7
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}
