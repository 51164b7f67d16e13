package media_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/dbtest"
	"github.com/wainbox/wainbox/internal/media"
)

const bucket = "media"

// testStore is a store and a way to list everything it holds, to check what a put left behind.
type testStore struct {
	name  string
	store media.Store
	// stored counts stored objects and everything else a put may leave (chunks, temporary keys).
	stored func(t *testing.T) (objects, other int)
	// inProcessServer is true when the store's server runs in the test's process (its memory
	// counts in the heap figures).
	inProcessServer bool
}

func stores(t *testing.T) []testStore {
	return []testStore{pgStore(t), s3Store(t)}
}

func pgStore(t *testing.T) testStore {
	pool, _ := dbtest.New(t)
	return testStore{
		name:  "postgres",
		store: media.NewPGStore(pool),
		stored: func(t *testing.T) (int, int) {
			var objects, chunks int
			require.NoError(t, pool.QueryRow(context.Background(),
				`SELECT (SELECT count(*) FROM media_objects), (SELECT count(*) FROM media_chunks)`).Scan(&objects, &chunks))
			return objects, chunks
		},
	}
}

// s3Store serves gofakes3, an S3 implementation, over real HTTPS, and talks to it with minio-go as
// the store does. HTTPS as in production: over plain HTTP minio-go signs uploads in aws-chunked
// streaming form, which gofakes3 stores undecoded in multipart parts.
func s3Store(t *testing.T) testStore {
	backend := s3mem.New()
	require.NoError(t, backend.CreateBucket(bucket))
	srv := httptest.NewUnstartedServer(gofakes3.New(backend).Server())
	// gofakes3 writes a header twice on some errors (refused puts); net/http logs each.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	cfg := media.S3Config{Endpoint: srv.URL, Region: "us-east-1", Bucket: bucket, AccessKey: "key", SecretKey: "secret", PathStyle: true,
		Transport: srv.Client().Transport}
	store, err := media.NewS3Store(cfg)
	require.NoError(t, err)
	client, err := minio.New(srv.Listener.Addr().String(), &minio.Options{
		Creds: credentials.NewStaticV4("key", "secret", ""), Region: "us-east-1", BucketLookup: minio.BucketLookupPath,
		Secure: true, Transport: srv.Client().Transport})
	require.NoError(t, err)
	return testStore{
		name:  "s3",
		store: store,
		stored: func(t *testing.T) (int, int) {
			var objects, other int
			for o := range client.ListObjects(context.Background(), bucket, minio.ListObjectsOptions{Recursive: true}) {
				require.NoError(t, o.Err)
				if _, err := media.ParseSum(o.Key); err == nil {
					objects++
				} else {
					other++
				}
			}
			return objects, other
		},
		inProcessServer: true,
	}
}

// randomReader returns n deterministic pseudo-random bytes without holding them.
func randomReader(seed uint64, n int64) io.Reader {
	var s [32]byte
	s[0] = byte(seed)
	return io.LimitReader(rand.NewChaCha8(s), n)
}

func randomBytes(seed uint64, n int64) []byte {
	b, _ := io.ReadAll(randomReader(seed, n))
	return b
}

func TestRoundTripAndDedup(t *testing.T) {
	ctx := context.Background()
	for _, ts := range stores(t) {
		t.Run(ts.name, func(t *testing.T) {
			for _, size := range []int64{0, 1, media.ChunkSize, media.ChunkSize + 1, 3*media.ChunkSize + 17} {
				data := randomBytes(uint64(size), size)
				obj, err := ts.store.Put(ctx, bytes.NewReader(data), size)
				require.NoError(t, err, "size %d", size)
				require.Equal(t, media.Sum(sha256.Sum256(data)), obj.SHA256)
				require.Equal(t, size, obj.Size)

				ok, err := ts.store.Exists(ctx, obj.SHA256)
				require.NoError(t, err)
				require.True(t, ok)

				r, got, err := ts.store.Open(ctx, obj.SHA256)
				require.NoError(t, err)
				require.Equal(t, obj, got)
				back, err := io.ReadAll(r)
				require.NoError(t, err)
				require.NoError(t, r.Close())
				require.True(t, bytes.Equal(data, back), "size %d: bytes differ", size)
			}

			// The same bytes again: the same object, nothing more stored.
			data := randomBytes(9, 2*media.ChunkSize+5)
			first, err := ts.store.Put(ctx, bytes.NewReader(data), 1<<30)
			require.NoError(t, err)
			objects, other := ts.stored(t)
			again, err := ts.store.Put(ctx, bytes.NewReader(data), 1<<30)
			require.NoError(t, err)
			require.Equal(t, first, again)
			objects2, other2 := ts.stored(t)
			require.Equal(t, objects, objects2)
			require.Equal(t, other, other2)
		})
	}
}

func TestTooLargeStoresNothing(t *testing.T) {
	ctx := context.Background()
	for _, ts := range stores(t) {
		t.Run(ts.name, func(t *testing.T) {
			for _, size := range []int64{100, 2*media.ChunkSize + 1, 6 << 20} { // in the first chunk/part, later, several S3 parts
				_, err := ts.store.Put(ctx, randomReader(1, size), size-1)
				var tooLarge *media.TooLargeError
				require.ErrorAs(t, err, &tooLarge, "size %d", size)
				require.Equal(t, size-1, tooLarge.Limit)
				objects, other := ts.stored(t)
				require.Zero(t, objects+other, "size %d: something was stored", size)
				ok, err := ts.store.Exists(ctx, media.Sum(sha256.Sum256(randomBytes(1, size))))
				require.NoError(t, err)
				require.False(t, ok)
			}
			// Exactly the limit is accepted.
			_, err := ts.store.Put(ctx, randomReader(1, 100), 100)
			require.NoError(t, err)
		})
	}
}

func TestSeekAndRange(t *testing.T) {
	ctx := context.Background()
	for _, ts := range stores(t) {
		t.Run(ts.name, func(t *testing.T) {
			data := randomBytes(3, 4*media.ChunkSize+123)
			size := int64(len(data))
			obj, err := ts.store.Put(ctx, bytes.NewReader(data), size)
			require.NoError(t, err)
			r, _, err := ts.store.Open(ctx, obj.SHA256)
			require.NoError(t, err)
			defer r.Close()

			rng := rand.New(rand.NewPCG(1, 2))
			offsets := []int64{0, media.ChunkSize - 1, media.ChunkSize, 3 * media.ChunkSize, size - 1, size - 200}
			for range 20 {
				offsets = append(offsets, rng.Int64N(size))
			}
			for _, off := range offsets {
				pos, err := r.Seek(off, io.SeekStart)
				require.NoError(t, err)
				require.Equal(t, off, pos)
				n := min(int64(1000+rng.IntN(2*media.ChunkSize)), size-off)
				got := make([]byte, n)
				_, err = io.ReadFull(r, got)
				require.NoError(t, err, "offset %d", off)
				require.True(t, bytes.Equal(data[off:off+n], got), "offset %d length %d", off, n)
			}
			end, err := r.Seek(-10, io.SeekEnd)
			require.NoError(t, err)
			require.Equal(t, size-10, end)
			cur, err := r.Seek(-5, io.SeekCurrent)
			require.NoError(t, err)
			require.Equal(t, size-15, cur)
			tail, err := io.ReadAll(r)
			require.NoError(t, err)
			require.Equal(t, data[size-15:], tail)

			// What the integration will do: http.ServeContent answering a Range request.
			_, err = r.Seek(0, io.SeekStart)
			require.NoError(t, err)
			req := httptest.NewRequest(http.MethodGet, "/media", nil)
			req.Header.Set("Range", "bytes=300000-300099")
			rec := httptest.NewRecorder()
			http.ServeContent(rec, req, "", time.Time{}, r)
			require.Equal(t, http.StatusPartialContent, rec.Code)
			require.Equal(t, data[300000:300100], rec.Body.Bytes())
		})
	}
}

func TestDelete(t *testing.T) {
	ctx := context.Background()
	for _, ts := range stores(t) {
		t.Run(ts.name, func(t *testing.T) {
			keep, err := ts.store.Put(ctx, randomReader(4, media.ChunkSize+1), 1<<20)
			require.NoError(t, err)
			gone, err := ts.store.Put(ctx, randomReader(5, 2*media.ChunkSize+1), 1<<20)
			require.NoError(t, err)
			require.NoError(t, ts.store.Delete(ctx, gone.SHA256))
			require.NoError(t, ts.store.Delete(ctx, gone.SHA256), "deleting an absent object")

			ok, err := ts.store.Exists(ctx, gone.SHA256)
			require.NoError(t, err)
			require.False(t, ok)
			_, _, err = ts.store.Open(ctx, gone.SHA256)
			require.ErrorIs(t, err, media.ErrNotFound)
			objects, other := ts.stored(t)
			require.Equal(t, 1, objects)
			if ts.name == "postgres" {
				require.Equal(t, 2, other, "the kept object's chunks")
			} else {
				require.Zero(t, other)
			}
			ok, err = ts.store.Exists(ctx, keep.SHA256)
			require.NoError(t, err)
			require.True(t, ok)
		})
	}
}

// heapSampler records the peak HeapInuse above the baseline taken when it is made.
type heapSampler struct {
	base, peak uint64
	totalAlloc uint64
}

func newHeapSampler() *heapSampler {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return &heapSampler{base: m.HeapInuse, peak: m.HeapInuse, totalAlloc: m.TotalAlloc}
}

func (h *heapSampler) sample() {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	h.peak = max(h.peak, m.HeapInuse)
}

func (h *heapSampler) result() (peakGrowth, allocated uint64) {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return h.peak - h.base, m.TotalAlloc - h.totalAlloc
}

// sampling calls sample every 64 KiB passed through it.
type sampling struct {
	r     io.Reader
	w     io.Writer
	n     int
	every func()
}

func (s *sampling) tick(n int) {
	s.n += n
	if s.n >= 64<<10 {
		s.n = 0
		s.every()
	}
}

func (s *sampling) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.tick(n)
	return n, err
}

func (s *sampling) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	s.tick(n)
	return n, err
}

// TestLargeObjectBoundedMemory stores and reads back 20 MB, logging the heap growth and time; it
// asserts only that the heap grew far less than the object (the bytes are not held), and not for
// S3, whose fake server holds the object in this process.
func TestLargeObjectBoundedMemory(t *testing.T) {
	const size = 20 << 20
	ctx := context.Background()
	for _, ts := range stores(t) {
		t.Run(ts.name, func(t *testing.T) {
			want := sha256.New()
			_, _ = io.Copy(want, randomReader(7, size))

			h := newHeapSampler()
			start := time.Now()
			obj, err := ts.store.Put(ctx, &sampling{r: randomReader(7, size), every: h.sample}, size)
			putTime := time.Since(start)
			require.NoError(t, err)
			putPeak, putAlloc := h.result()
			require.Equal(t, media.Sum(want.Sum(nil)), obj.SHA256)

			h = newHeapSampler()
			start = time.Now()
			r, _, err := ts.store.Open(ctx, obj.SHA256)
			require.NoError(t, err)
			got := sha256.New()
			n, err := io.Copy(&sampling{w: got, every: h.sample}, r)
			require.NoError(t, err)
			require.NoError(t, r.Close())
			readTime := time.Since(start)
			readPeak, readAlloc := h.result()
			require.Equal(t, int64(size), n)
			require.Equal(t, want.Sum(nil), got.Sum(nil))

			const mib = 1 << 20
			t.Logf("%s, 20 MiB: put %v, peak heap growth %.1f MiB, allocated %.1f MiB; read %v, peak heap growth %.1f MiB, allocated %.1f MiB",
				ts.name, putTime.Round(time.Millisecond), float64(putPeak)/mib, float64(putAlloc)/mib,
				readTime.Round(time.Millisecond), float64(readPeak)/mib, float64(readAlloc)/mib)
			if !ts.inProcessServer {
				require.Less(t, putPeak, uint64(8*mib), "put heap growth")
				require.Less(t, readPeak, uint64(8*mib), "read heap growth")
			}
		})
	}
}

func TestSniff(t *testing.T) {
	var jpg, pngb bytes.Buffer
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	img.Set(3, 3, color.RGBA{R: 200, A: 255})
	require.NoError(t, jpeg.Encode(&jpg, img, nil))
	require.NoError(t, png.Encode(&pngb, img))

	var docx bytes.Buffer
	zw := zip.NewWriter(&docx)
	for _, name := range []string{"[Content_Types].xml", "_rels/.rels", "word/document.xml"} {
		w, err := zw.Create(name)
		require.NoError(t, err)
		_, _ = w.Write([]byte("<?xml version=\"1.0\"?><x/>"))
	}
	require.NoError(t, zw.Close())

	pad := func(b []byte) []byte { return append(b, make([]byte, 600)...) }
	cases := []struct {
		name, want string
		head       []byte
	}{
		{"jpeg", "image/jpeg", jpg.Bytes()},
		{"png", "image/png", pngb.Bytes()},
		{"webp", "image/webp", pad([]byte("RIFF\x24\x00\x00\x00WEBPVP8 \x18\x00\x00\x00"))},
		// An Ogg page starting an Opus stream: WhatsApp's voice notes.
		{"opus", "audio/ogg", pad([]byte("OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x13OpusHead\x01\x01\x38\x01\x80\xbb\x00\x00\x00\x00\x00"))},
		{"mp3 without ID3", "audio/mpeg", pad([]byte{0xff, 0xfb, 0x90, 0x64})},
		{"mp3 with ID3", "audio/mpeg", pad([]byte("ID3\x03\x00\x00\x00\x00\x00\x00"))},
		{"aac (ADTS)", "audio/aac", pad([]byte{0xff, 0xf1, 0x50, 0x80, 0x2e, 0x7f, 0xfc})},
		{"amr", "audio/amr", pad([]byte("#!AMR\n\x3c"))},
		{"mp4", "video/mp4", pad([]byte("\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41"))},
		{"3gpp", "video/3gpp", pad([]byte("\x00\x00\x00\x18ftyp3gp4\x00\x00\x00\x00isom3gp4"))},
		{"pdf", "application/pdf", pad([]byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"))},
		{"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", docx.Bytes()},
		{"empty", "application/octet-stream", nil},
	}
	for _, c := range cases {
		got := media.Sniff(c.head)
		t.Logf("%-16s %-40s (http.DetectContentType: %s)", c.name, got, http.DetectContentType(c.head))
		require.Equal(t, c.want, got, c.name)
	}

	// The stores record the sniffed type.
	ctx := context.Background()
	for _, ts := range stores(t) {
		obj, err := ts.store.Put(ctx, bytes.NewReader(pngb.Bytes()), 1<<20)
		require.NoError(t, err)
		require.Equal(t, "image/png", obj.MIME, ts.name)
		_, got, err := ts.store.Open(ctx, obj.SHA256)
		require.NoError(t, err)
		require.Equal(t, "image/png", got.MIME, ts.name)
	}
}

func TestParseSum(t *testing.T) {
	sum := media.Sum(sha256.Sum256([]byte("x")))
	back, err := media.ParseSum(sum.String())
	require.NoError(t, err)
	require.Equal(t, sum, back)
	_, err = media.ParseSum("abc")
	require.Error(t, err)
	require.False(t, errors.Is(err, media.ErrNotFound))
}
