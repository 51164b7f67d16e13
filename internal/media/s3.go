package media

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Config configures an S3Store (MEDIA_STORE=s3).
type S3Config struct {
	// Endpoint is the service's URL, such as https://s3.eu-west-1.amazonaws.com or
	// http://127.0.0.1:9000 (http only for a local service).
	Endpoint  string
	Region    string
	Bucket    string
	AccessKey string
	SecretKey string
	// PathStyle addresses the bucket in the path (endpoint/bucket/key), as MinIO and most
	// self-hosted services want, rather than as a subdomain (bucket.endpoint/key).
	PathStyle bool
	// PartSize is the size of the parts a put uploads, and so the memory a put buffers; 0 means
	// DefaultPartSize. S3 refuses parts under 5 MiB but the last.
	PartSize int64
	// Transport, when set, replaces the default HTTP transport (a private CA, a proxy, tests).
	Transport http.RoundTripper
}

// DefaultPartSize is S3's smallest part size: a put buffers one part, so this bounds its memory,
// and 10,000 parts still allow objects of 50 GB.
const DefaultPartSize = 5 << 20

// tempPrefix is where puts upload before their digest is known; object keys are hex digests and
// never contain a slash.
const tempPrefix = "tmp/"

// S3Store stores objects in an S3-compatible bucket, each under the hex of its SHA-256.
//
// The digest is only known once the whole stream has been read, so a put uploads to a temporary
// key under tmp/ while hashing (a multipart upload, one part buffered at a time), then copies it
// server-side to its digest's key (unless that is already stored) and removes the temporary key.
// A put that fails removes what it uploaded (the client aborts an unfinished multipart upload); a
// put cut off by a crash can leave a temporary object or an unfinished multipart upload: PruneTemp
// removes old temporary objects, and a lifecycle rule on the bucket ("expire tmp/ after a day,
// abort incomplete multipart uploads after a day") does the same without wainbox.
type S3Store struct {
	client   *minio.Client
	bucket   string
	partSize uint64
}

var _ Store = (*S3Store)(nil)

// NewS3Store returns a store on cfg's bucket, which must exist.
func NewS3Store(cfg S3Config) (*S3Store, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("media: S3 endpoint %q is not an http(s) URL", cfg.Endpoint)
	}
	if cfg.Bucket == "" {
		return nil, errors.New("media: no S3 bucket")
	}
	lookup := minio.BucketLookupAuto
	if cfg.PathStyle {
		lookup = minio.BucketLookupPath
	}
	client, err := minio.New(u.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:       u.Scheme == "https",
		Region:       cfg.Region,
		BucketLookup: lookup,
		Transport:    cfg.Transport,
	})
	if err != nil {
		return nil, fmt.Errorf("media: S3 client: %w", err)
	}
	partSize := cfg.PartSize
	if partSize <= 0 {
		partSize = DefaultPartSize
	}
	return &S3Store{client: client, bucket: cfg.Bucket, partSize: uint64(partSize)}, nil
}

// Put implements Store.
func (s *S3Store) Put(ctx context.Context, r io.Reader, limit int64) (Object, error) {
	lr, err := newLimitReader(r, limit)
	if err != nil {
		return Object{}, err
	}
	// Sniff before uploading, so the temporary object (and its copy) carry the content type.
	head := make([]byte, SniffLen)
	n, err := io.ReadFull(lr, head)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return Object{}, s.putError(err)
	}
	head = head[:n]
	mime := Sniff(head)
	h := sha256.New()
	h.Write(head)
	body, size := io.MultiReader(bytes.NewReader(head), io.TeeReader(lr, h)), int64(-1)
	if err != nil { // all of it is in head: one plain PUT of a known size
		size = int64(n)
	}

	tmp := tempPrefix + hex.EncodeToString(randomBytes(16))
	info, err := s.client.PutObject(ctx, s.bucket, tmp, body, size, minio.PutObjectOptions{ContentType: mime, PartSize: s.partSize})
	if err != nil {
		s.removeTemp(ctx, tmp)
		return Object{}, s.putError(err)
	}
	defer s.removeTemp(ctx, tmp)
	var sum Sum
	h.Sum(sum[:0])
	if info.Size != lr.read {
		return Object{}, fmt.Errorf("media: put: %d bytes read, %d uploaded", lr.read, info.Size)
	}

	if st, err := s.client.StatObject(ctx, s.bucket, sum.String(), minio.StatObjectOptions{}); err == nil {
		return Object{SHA256: sum, Size: st.Size, MIME: st.ContentType}, nil
	} else if !isNotFound(err) {
		return Object{}, fmt.Errorf("media: put: %w", err)
	}
	// A server-side copy; one CopyObject handles up to 5 GiB, far above WhatsApp's 100 MB.
	_, err = s.client.CopyObject(ctx,
		minio.CopyDestOptions{Bucket: s.bucket, Object: sum.String()},
		minio.CopySrcOptions{Bucket: s.bucket, Object: tmp})
	if err != nil {
		return Object{}, fmt.Errorf("media: put: copy to %s: %w", sum, err)
	}
	return Object{SHA256: sum, Size: info.Size, MIME: mime}, nil
}

func (s *S3Store) putError(err error) error {
	var tooLarge *TooLargeError
	if errors.As(err, &tooLarge) {
		return tooLarge
	}
	return fmt.Errorf("media: put: %w", err)
}

// removeTemp removes a put's temporary object, even when the put's context is done.
func (s *S3Store) removeTemp(ctx context.Context, key string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	_ = s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{})
}

// Open implements Store. The reader is minio's: each read after a Seek is a ranged GET streamed
// from the service.
func (s *S3Store) Open(ctx context.Context, sum Sum) (io.ReadSeekCloser, Object, error) {
	o, err := s.client.GetObject(ctx, s.bucket, sum.String(), minio.GetObjectOptions{})
	if err != nil {
		return nil, Object{}, fmt.Errorf("media: open: %w", err)
	}
	st, err := o.Stat()
	if err != nil {
		_ = o.Close()
		if isNotFound(err) {
			return nil, Object{}, ErrNotFound
		}
		return nil, Object{}, fmt.Errorf("media: open: %w", err)
	}
	return o, Object{SHA256: sum, Size: st.Size, MIME: st.ContentType}, nil
}

// Delete implements Store.
func (s *S3Store) Delete(ctx context.Context, sum Sum) error {
	if err := s.client.RemoveObject(ctx, s.bucket, sum.String(), minio.RemoveObjectOptions{}); err != nil && !isNotFound(err) {
		return fmt.Errorf("media: delete: %w", err)
	}
	return nil
}

// Exists implements Store.
func (s *S3Store) Exists(ctx context.Context, sum Sum) (bool, error) {
	_, err := s.client.StatObject(ctx, s.bucket, sum.String(), minio.StatObjectOptions{})
	if err == nil {
		return true, nil
	}
	if isNotFound(err) {
		return false, nil
	}
	return false, fmt.Errorf("media: exists: %w", err)
}

// PruneTemp removes temporary objects older than age, left by puts cut off by a crash, and
// returns how many it removed. Keep age well above the longest put.
func (s *S3Store) PruneTemp(ctx context.Context, age time.Duration) (int, error) {
	ctx, cancel := context.WithCancel(ctx) // stops the listing when returning early
	defer cancel()
	cutoff := time.Now().Add(-age)
	removed := 0
	for o := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: tempPrefix, Recursive: true}) {
		if o.Err != nil {
			return removed, fmt.Errorf("media: prune: %w", o.Err)
		}
		if o.LastModified.After(cutoff) {
			continue
		}
		if err := s.client.RemoveObject(ctx, s.bucket, o.Key, minio.RemoveObjectOptions{}); err != nil {
			return removed, fmt.Errorf("media: prune: %w", err)
		}
		removed++
	}
	return removed, nil
}

func isNotFound(err error) bool {
	resp := minio.ToErrorResponse(err)
	return resp.StatusCode == http.StatusNotFound || resp.Code == "NoSuchKey"
}
