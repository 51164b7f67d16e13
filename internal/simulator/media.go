package simulator

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wainbox/wainbox/internal/waformat"
	"github.com/wainbox/wainbox/internal/whatsapp"
)

// The fake Graph API's media, in memory:
//
//	POST   /simulator/graph/{version}/{phone_number_id}/media   upload (multipart: messaging_product, type, file) → {"id"}
//	GET    /simulator/graph/{version}/{media_id}                 media info with a download URL that expires
//	DELETE /simulator/graph/{version}/{media_id}                 → {"success": true}
//	GET    /simulator/lookaside/whatsapp_business/attachments/?mid=…&ext=…&hash=…   the bytes, with the bearer token
//	POST   /simulator/media/{media_id}/expire                   forget a media id, as Meta does after 7 or 30 days
//
// Meta's limits per kind are enforced on upload: image 5 MB, audio and video 16 MB, document
// 100 MB, sticker 500 KB. A download URL lives Config.MediaURLTTL (default 5 minutes, as Meta's);
// after that, or for an unknown media id, the download answers 404, which is what Meta's
// reference documents for a failed download. The store keeps at most mediaStoreBytes, forgetting
// the oldest media first, which then answer as expired.

const (
	// DefaultMediaURLTTL is how long a download URL of the fake media info stays valid, as
	// Meta's ("valid for 5 minutes").
	DefaultMediaURLTTL = 5 * time.Minute

	// mediaStoreBytes bounds the media held in memory; the oldest are forgotten first.
	mediaStoreBytes = 512 << 20
	// maxUploadBytes bounds an upload request: the largest kind (document) plus its form.
	maxUploadBytes = 100<<20 + 64<<10
	// codeMediaUpload is Meta's "Media upload error", answered to a file refused on upload.
	codeMediaUpload = 131053

	mediaDownloadPath = "/simulator/lookaside/whatsapp_business/attachments/"
)

// mediaKind is a kind of WhatsApp media with Meta's size limit.
type mediaKind struct {
	name  string
	limit int64
}

var (
	kindImage    = mediaKind{"image", 5 << 20}
	kindAudio    = mediaKind{"audio", 16 << 20}
	kindVideo    = mediaKind{"video", 16 << 20}
	kindDocument = mediaKind{"document", 100 << 20}
	kindSticker  = mediaKind{"sticker", 500 << 10}
)

// mediaType is a MIME type Meta accepts, its kind and a check of the bytes' signature (nil:
// the type has none to check).
type mediaType struct {
	kind  mediaKind
	magic func([]byte) bool
}

// mediaTypes are Meta's supported media types.
var mediaTypes = map[string]mediaType{
	"image/jpeg":                    {kindImage, hasPrefix("\xff\xd8\xff")},
	"image/png":                     {kindImage, hasPrefix("\x89PNG\r\n\x1a\n")},
	"image/webp":                    {kindSticker, isWebP},
	"audio/aac":                     {kindAudio, isADTS},
	"audio/amr":                     {kindAudio, hasPrefix("#!AMR")},
	"audio/mpeg":                    {kindAudio, isMP3},
	"audio/mp4":                     {kindAudio, isISOMedia},
	"audio/ogg":                     {kindAudio, hasPrefix("OggS")},
	"video/mp4":                     {kindVideo, isISOMedia},
	"video/3gp":                     {kindVideo, isISOMedia},
	"video/3gpp":                    {kindVideo, isISOMedia},
	"text/plain":                    {kindDocument, isText},
	"application/pdf":               {kindDocument, hasPrefix("%PDF-")},
	"application/msword":            {kindDocument, hasPrefix(oleMagic)},
	"application/vnd.ms-excel":      {kindDocument, hasPrefix(oleMagic)},
	"application/vnd.ms-powerpoint": {kindDocument, hasPrefix(oleMagic)},
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document":   {kindDocument, hasPrefix(zipMagic)},
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":         {kindDocument, hasPrefix(zipMagic)},
	"application/vnd.openxmlformats-officedocument.presentationml.presentation": {kindDocument, hasPrefix(zipMagic)},
}

const (
	oleMagic = "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
	zipMagic = "PK\x03\x04"
)

func hasPrefix(p string) func([]byte) bool {
	return func(b []byte) bool { return bytes.HasPrefix(b, []byte(p)) }
}

func isWebP(b []byte) bool {
	return len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP"
}
func isISOMedia(b []byte) bool { return len(b) >= 8 && string(b[4:8]) == "ftyp" }
func isADTS(b []byte) bool     { return len(b) >= 2 && b[0] == 0xff && b[1]&0xf0 == 0xf0 }
func isMP3(b []byte) bool {
	return hasPrefix("ID3")(b) || (len(b) >= 2 && b[0] == 0xff && b[1]&0xe0 == 0xe0)
}
func isText(b []byte) bool { return utf8.Valid(b) && !slices.Contains(b, 0) }

// checkMedia checks a file against Meta's rules for its MIME type: supported, within its kind's
// size limit, and with bytes that look like the type.
func checkMedia(mimeType string, data []byte) error {
	mt, ok := mediaTypes[waformat.BaseType(mimeType)]
	switch {
	case !ok:
		return fmt.Errorf("type %q is not a supported media type", mimeType)
	case len(data) == 0:
		return errors.New("the file is empty")
	case int64(len(data)) > mt.kind.limit:
		return fmt.Errorf("the file is %d bytes, above the %d bytes allowed for %s media", len(data), mt.kind.limit, mt.kind.name)
	case mt.magic != nil && !mt.magic(data):
		return fmt.Errorf("the file's bytes are not %s (they look like %s)", waformat.BaseType(mimeType), http.DetectContentType(data))
	}
	return nil
}

// mediaObject is one file of the fake media store.
type mediaObject struct {
	id       string
	mimeType string
	data     []byte // never changed once stored
	sum      [sha256.Size]byte
}

// storeMedia keeps a file under id (a new Meta-like id when empty), forgetting the oldest files
// when the store is full, and returns it.
func (s *Simulator) storeMedia(id, mimeType string, data []byte) *mediaObject {
	if id == "" {
		id = newMediaID()
	}
	obj := &mediaObject{id: id, mimeType: mimeType, data: data, sum: sha256.Sum256(data)}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forgetMediaLocked(id)
	for len(s.mediaOrder) > 0 && s.mediaBytes+int64(len(data)) > mediaStoreBytes {
		s.forgetMediaLocked(s.mediaOrder[0])
	}
	s.media[id] = obj
	s.mediaOrder = append(s.mediaOrder, id)
	s.mediaBytes += int64(len(data))
	return obj
}

func (s *Simulator) forgetMediaLocked(id string) bool {
	obj, ok := s.media[id]
	if !ok {
		return false
	}
	delete(s.media, id)
	s.mediaOrder = slices.DeleteFunc(s.mediaOrder, func(o string) bool { return o == id })
	s.mediaBytes -= int64(len(obj.data))
	return true
}

func (s *Simulator) lookupMedia(id string) (*mediaObject, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	obj, ok := s.media[id]
	return obj, ok
}

// AddMedia stores a file as if it had been uploaded, checked like an upload, and returns its
// media id. A test uses it to give a customer's message real media.
func (s *Simulator) AddMedia(mimeType string, data []byte) (string, error) {
	if err := checkMedia(mimeType, data); err != nil {
		return "", err
	}
	return s.storeMedia("", mimeType, slices.Clone(data)).id, nil
}

// Media returns a copy of a stored file and its MIME type, for a test to see what an agent
// uploaded.
func (s *Simulator) Media(id string) ([]byte, string, bool) {
	obj, ok := s.lookupMedia(id)
	if !ok {
		return nil, "", false
	}
	return slices.Clone(obj.data), obj.mimeType, true
}

// ExpireMedia forgets a media id, as Meta does 7 days after an inbound message and 30 days
// after an upload: its media info then answers Meta's error for an unknown object (code 100,
// subcode 33) and its download URLs 404. It reports whether the id was known.
func (s *Simulator) ExpireMedia(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.forgetMediaLocked(id)
}

// newMediaID returns an id in the look of Meta's media ids: decimal digits.
func newMediaID() string {
	return new(big.Int).SetBytes(randomBytes(7)).String()
}

func (s *Simulator) handleMediaUpload(w http.ResponseWriter, r *http.Request) {
	if gerr := s.checkToken(r); gerr != nil {
		writeGraphError(w, gerr)
		return
	}
	if id := r.PathValue("phone_number_id"); id != s.phoneNumberID {
		writeGraphError(w, unknownObject("post", id, "phone number id "+s.phoneNumberID))
		return
	}
	if code := s.takeUploadFault(); code != 0 {
		writeGraphError(w, faultError(code))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxUploadBytes)
	mr, err := r.MultipartReader()
	if err != nil {
		writeGraphError(w, invalidParam(100, "The request must be multipart/form-data with messaging_product, type and file."))
		return
	}
	var product, mimeType string
	var data []byte
	var haveFile bool
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			writeGraphError(w, invalidParam(100, "The multipart body could not be read: "+err.Error()))
			return
		}
		switch part.FormName() {
		case "messaging_product":
			product, err = readField(part)
		case "type":
			mimeType, err = readField(part)
		case "file":
			// The limit is the type's when type came first (as Meta's samples send it), else
			// the largest kind's; checkMedia applies the type's limit in the end either way.
			limit := kindDocument.limit
			if mt, ok := mediaTypes[waformat.BaseType(mimeType)]; ok {
				limit = mt.kind.limit
			}
			data, err = io.ReadAll(io.LimitReader(part, limit+1))
			haveFile = true
		}
		if err != nil {
			writeGraphError(w, invalidParam(100, "The multipart body could not be read: "+err.Error()))
			return
		}
	}
	switch {
	case product == "":
		writeGraphError(w, invalidParam(100, "The parameter messaging_product is required."))
		return
	case product != whatsapp.MessagingProduct:
		writeGraphError(w, invalidParam(100, "Param messaging_product must be one of {WHATSAPP}."))
		return
	case mimeType == "":
		writeGraphError(w, invalidParam(100, "The parameter type is required."))
		return
	case !haveFile:
		writeGraphError(w, invalidParam(100, "The parameter file is required."))
		return
	}
	if err := checkMedia(mimeType, data); err != nil {
		writeGraphError(w, invalidParam(codeMediaUpload, "Media upload error: "+err.Error()+"."))
		return
	}
	obj := s.storeMedia("", mimeType, data)
	writeJSON(w, http.StatusOK, map[string]string{"id": obj.id})
}

// readField reads a small form field.
func readField(part io.Reader) (string, error) {
	b, err := io.ReadAll(io.LimitReader(part, 1<<10))
	return strings.TrimSpace(string(b)), err
}

// mediaFor checks the token and finds the media of a GET or DELETE /{media-id}, answering
// Meta's error itself when it cannot.
func (s *Simulator) mediaFor(w http.ResponseWriter, r *http.Request, method string) (*mediaObject, bool) {
	if gerr := s.checkToken(r); gerr != nil {
		writeGraphError(w, gerr)
		return nil, false
	}
	id := r.PathValue("media_id")
	obj, ok := s.lookupMedia(id)
	// ?phone_number_id= asks Meta to act only on media of that number: here, the one number.
	if pn := r.URL.Query().Get("phone_number_id"); !ok || (pn != "" && pn != s.phoneNumberID) {
		writeGraphError(w, unknownObject(method, id, "the media ids it stored and has not expired"))
		return nil, false
	}
	return obj, true
}

func (s *Simulator) handleMediaInfo(w http.ResponseWriter, r *http.Request) {
	obj, ok := s.mediaFor(w, r, "get")
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, whatsapp.MediaInfo{
		MessagingProduct: whatsapp.MessagingProduct,
		URL:              s.mediaURL(r, obj.id, time.Now().Add(s.mediaURLTTL)),
		MimeType:         obj.mimeType,
		SHA256:           hex.EncodeToString(obj.sum[:]),
		FileSize:         int64(len(obj.data)),
		ID:               obj.id,
	})
}

func (s *Simulator) handleMediaDelete(w http.ResponseWriter, r *http.Request) {
	obj, ok := s.mediaFor(w, r, "delete")
	if !ok {
		return
	}
	s.ExpireMedia(obj.id)
	writeJSON(w, http.StatusOK, map[string]bool{"success": true})
}

// mediaURL is a download URL in the shape of Meta's lookaside URLs, on the host the request
// came to: mid, ext (the expiry, Unix seconds) and a hash that signs both, so that a URL cannot
// be made up or extended.
func (s *Simulator) mediaURL(r *http.Request, id string, expires time.Time) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	ext := strconv.FormatInt(expires.Unix(), 10)
	q := url.Values{"mid": {id}, "ext": {ext}, "hash": {s.mediaHash(id, ext)}}
	return scheme + "://" + r.Host + mediaDownloadPath + "?" + q.Encode()
}

func (s *Simulator) mediaHash(id, ext string) string {
	mac := hmac.New(sha256.New, s.mediaKey)
	mac.Write([]byte(id + "|" + ext))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:18])
}

// handleMediaDownload serves the bytes of a download URL to a request with the bearer token,
// after the download faults.
func (s *Simulator) handleMediaDownload(w http.ResponseWriter, r *http.Request) {
	if gerr := s.checkToken(r); gerr != nil {
		writeGraphError(w, gerr)
		return
	}
	q := r.URL.Query()
	id, ext := q.Get("mid"), q.Get("ext")
	expires, err := strconv.ParseInt(ext, 10, 64)
	valid := err == nil && hmac.Equal([]byte(q.Get("hash")), []byte(s.mediaHash(id, ext))) && time.Now().Unix() < expires
	obj, known := s.lookupMedia(id)
	if !valid || !known {
		writeGraphError(w, &graphError{HTTPStatus: http.StatusNotFound, Code: 100, Subcode: 33, Type: "GraphMethodException",
			Message: "Unsupported get request. The media URL has expired or does not exist.",
			Details: "Ask GET /{media-id} again for a fresh URL."})
		return
	}
	fail, corrupt := s.takeMediaFault()
	if fail {
		writeGraphError(w, &graphError{Code: plainHTTP500})
		return
	}
	data := obj.data
	if corrupt {
		// The same size, one byte changed: only the SHA-256 tells.
		data = slices.Clone(data)
		data[len(data)/2] ^= 0xff
	}
	w.Header().Set("Content-Type", obj.mimeType)
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data) // the client may be gone; nothing to do about it
}

func (s *Simulator) handleExpireMedia(w http.ResponseWriter, r *http.Request) {
	if !s.ExpireMedia(r.PathValue("media_id")) {
		writeAPIError(w, http.StatusNotFound, "media_not_found", "No stored media has this id.")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
