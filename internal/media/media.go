// Package media keeps the bytes of the files wainbox handles: customers' photos, voice notes,
// videos and documents (Meta's media ids expire within days, so the bytes must be kept) and the
// files agents send. Objects are content-addressed by the SHA-256 of their bytes, so the same file
// is stored once, and both puts and reads stream: memory stays bounded whatever the file size.
//
// PostgreSQL (PGStore) is the default: one database keeps messages and their media together, a
// backup or a restore covers both, a deleted conversation cannot leave files behind on another
// system, and there is nothing else to run. WhatsApp caps media at 100 MB (most are a few hundred
// KB), which PostgreSQL stores comfortably in chunks. Pick S3 (S3Store, any S3-compatible service)
// when media outgrows the database: when it would make the database, its backups and its replicas
// much larger than the rest of the data, or when storage must be cheaper than database disks.
package media

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/gabriel-vasile/mimetype"
)

// Sum is the SHA-256 of an object's bytes: its address.
type Sum [32]byte

// String returns the sum in lowercase hex (the S3 key).
func (s Sum) String() string { return hex.EncodeToString(s[:]) }

// ParseSum parses a sum written in hex.
func ParseSum(h string) (Sum, error) {
	var s Sum
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != len(s) {
		return s, fmt.Errorf("media: %q is not a hex SHA-256", h)
	}
	copy(s[:], b)
	return s, nil
}

// Object describes a stored object.
type Object struct {
	SHA256 Sum
	Size   int64
	// MIME is sniffed from the object's first bytes when it is first stored (see SniffLen).
	MIME string
}

// Store keeps content-addressed objects. Implementations are safe for concurrent use.
type Store interface {
	// Put reads r to its end and stores its bytes, refusing with *TooLargeError (and storing
	// nothing) when there are more than limit bytes. Putting bytes already stored stores nothing
	// new and returns the stored object. Nothing is visible until the put has succeeded.
	Put(ctx context.Context, r io.Reader, limit int64) (Object, error)
	// Open opens an object for reading; the reader fetches the bytes as they are read (Seek does
	// not fetch), so http.ServeContent can answer Range requests from it. It returns ErrNotFound
	// when there is no such object. The reader uses ctx for its fetches; close it when done.
	Open(ctx context.Context, sum Sum) (io.ReadSeekCloser, Object, error)
	// Delete removes an object; deleting an absent object is not an error. Objects are shared by
	// everything that stored the same bytes: the caller deletes one only when nothing refers to it.
	Delete(ctx context.Context, sum Sum) error
	// Exists reports whether an object is stored.
	Exists(ctx context.Context, sum Sum) (bool, error)
}

// ErrNotFound is returned by Open for an object that is not stored (or was deleted while read).
var ErrNotFound = errors.New("media: object not found")

// TooLargeError refuses a put with more bytes than its limit.
type TooLargeError struct {
	Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("media: object larger than the limit of %d bytes", e.Limit)
}

// SniffLen is how many leading bytes MIME sniffing reads: mimetype's own read limit, which lets it
// tell legacy Office documents (OLE containers) apart; every other WhatsApp kind needs 512 or fewer.
const SniffLen = 3072

// Sniff returns the MIME type of a file from its first bytes (SniffLen is enough).
//
// It uses github.com/gabriel-vasile/mimetype rather than http.DetectContentType, which misnames
// most of what WhatsApp carries: Opus voice notes (application/ogg instead of audio/ogg), AAC and
// AMR audio and MP3 without an ID3 tag (application/octet-stream, or text/plain when the bytes
// after the header look like text), 3GPP video (application/octet-stream), and Office documents
// (application/zip for docx/xlsx/pptx, application/octet-stream for doc/xls/ppt).
func Sniff(head []byte) string {
	if len(head) == 0 {
		return "application/octet-stream"
	}
	if len(head) > SniffLen {
		head = head[:SniffLen]
	}
	return mimetype.Detect(head).String()
}

// limitReader reads at most limit bytes from r and fails with *TooLargeError when r has more.
type limitReader struct {
	r     io.Reader
	limit int64
	read  int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.read > l.limit {
		return 0, &TooLargeError{Limit: l.limit}
	}
	// Read one byte past the limit at most, to tell "exactly limit" from "more".
	if room := l.limit - l.read + 1; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := l.r.Read(p)
	l.read += int64(n)
	if l.read > l.limit {
		return 0, &TooLargeError{Limit: l.limit}
	}
	return n, err
}

func newLimitReader(r io.Reader, limit int64) (*limitReader, error) {
	if limit < 0 {
		return nil, fmt.Errorf("media: negative size limit %d", limit)
	}
	return &limitReader{r: r, limit: limit}, nil
}

// seekOffset resolves a Seek for a reader of size bytes at off.
func seekOffset(off, size, offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += off
	case io.SeekEnd:
		offset += size
	default:
		return 0, fmt.Errorf("media: seek: invalid whence %d", whence)
	}
	if offset < 0 {
		return 0, errors.New("media: seek: negative position")
	}
	return offset, nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return b
}
