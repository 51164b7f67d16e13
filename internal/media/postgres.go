package media

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wainbox/wainbox/db"
)

// ChunkSize is the size of the chunks PGStore writes (the last chunk of an object is shorter).
//
// 256 KiB keeps a put's and an open reader's memory near one chunk (the chunk, plus pgx's buffer
// for it), and a Range request for a few bytes fetches at most one chunk, while a 20 MB file is
// only 80 rows, so per-row round trips and overhead stay small next to the bytes moved. Objects
// record the chunk size they were written with, so it can change later.
const ChunkSize = 256 << 10

// PGStore stores objects in PostgreSQL (media_objects, media_chunks).
//
// A put runs in one transaction: it streams chunk by chunk under a random 16-byte staging key
// while hashing, then inserts the object row and rekeys the chunks to the digest, and commits. A
// put that fails, is refused or is cut off (the process or the database crashing) rolls back, so
// nothing is ever visible half-written and there is nothing to clean up by hand: the rows it wrote
// are dead tuples autovacuum reclaims. The cost is one pooled connection and one open transaction
// for the duration of a put, bounded by its size limit and its context. Putting bytes already
// stored writes them again under the staging key and rolls back: no second copy is kept.
type PGStore struct {
	pool *pgxpool.Pool
	q    *db.Queries
}

// NewPGStore returns a store on pool's database (migrated to include media_objects).
func NewPGStore(pool *pgxpool.Pool) *PGStore {
	return &PGStore{pool: pool, q: db.New()}
}

var _ Store = (*PGStore)(nil)

// Put implements Store.
func (s *PGStore) Put(ctx context.Context, r io.Reader, limit int64) (obj Object, err error) {
	lr, err := newLimitReader(r, limit)
	if err != nil {
		return Object{}, err
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return Object{}, fmt.Errorf("media: put: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	staging := randomBytes(16)
	h := sha256.New()
	buf := make([]byte, ChunkSize)
	var size int64
	var seq int32
	mime := Sniff(nil)
	for {
		n, rerr := io.ReadFull(lr, buf)
		if rerr != nil && rerr != io.EOF && rerr != io.ErrUnexpectedEOF {
			var tooLarge *TooLargeError
			if errors.As(rerr, &tooLarge) {
				return Object{}, rerr
			}
			return Object{}, fmt.Errorf("media: put: reading: %w", rerr)
		}
		if n > 0 {
			if seq == 0 {
				mime = Sniff(buf[:n])
			}
			h.Write(buf[:n])
			// pgx encodes the arguments before Exec returns, so buf can be reused.
			if err := s.q.MediaChunkInsert(ctx, tx, db.MediaChunkInsertParams{Sha256: staging, Seq: seq, Data: buf[:n]}); err != nil {
				return Object{}, fmt.Errorf("media: put: chunk %d: %w", seq, err)
			}
			size += int64(n)
			seq++
		}
		if rerr != nil { // io.EOF or io.ErrUnexpectedEOF: the end of r
			break
		}
	}
	var sum Sum
	h.Sum(sum[:0])

	inserted, err := s.q.MediaObjectInsert(ctx, tx, db.MediaObjectInsertParams{Sha256: sum[:], Size: size, Mime: mime, ChunkSize: ChunkSize})
	if err != nil {
		return Object{}, fmt.Errorf("media: put: %w", err)
	}
	if inserted == 0 { // already stored: drop this copy
		if err := tx.Rollback(ctx); err != nil {
			return Object{}, fmt.Errorf("media: put: %w", err)
		}
		existing, _, err := s.stat(ctx, sum)
		if err != nil {
			return Object{}, fmt.Errorf("media: put: %w", err)
		}
		return existing, nil
	}
	moved, err := s.q.MediaChunksRekey(ctx, tx, db.MediaChunksRekeyParams{Sha256: sum[:], StagingKey: staging})
	if err != nil {
		return Object{}, fmt.Errorf("media: put: %w", err)
	}
	if moved != int64(seq) {
		return Object{}, fmt.Errorf("media: put: %d chunks staged, %d written", moved, seq)
	}
	if err := tx.Commit(ctx); err != nil {
		return Object{}, fmt.Errorf("media: put: commit: %w", err)
	}
	return Object{SHA256: sum, Size: size, MIME: mime}, nil
}

// stat returns an object and its chunk size, or ErrNotFound.
func (s *PGStore) stat(ctx context.Context, sum Sum) (Object, int64, error) {
	row, err := s.q.MediaObjectGet(ctx, s.pool, sum[:])
	if errors.Is(err, pgx.ErrNoRows) {
		return Object{}, 0, ErrNotFound
	}
	if err != nil {
		return Object{}, 0, err
	}
	return Object{SHA256: sum, Size: row.Size, MIME: row.Mime}, int64(row.ChunkSize), nil
}

// Open implements Store. The reader holds at most one chunk and fetches a chunk (one query on the
// pool, no transaction held) when a read needs a chunk other than the one it holds.
func (s *PGStore) Open(ctx context.Context, sum Sum) (io.ReadSeekCloser, Object, error) {
	obj, chunkSize, err := s.stat(ctx, sum)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, Object{}, err
		}
		return nil, Object{}, fmt.Errorf("media: open: %w", err)
	}
	return &pgReader{ctx: ctx, s: s, obj: obj, chunkSize: chunkSize, seq: -1}, obj, nil
}

// Delete implements Store.
func (s *PGStore) Delete(ctx context.Context, sum Sum) error {
	if err := s.q.MediaObjectDelete(ctx, s.pool, sum[:]); err != nil {
		return fmt.Errorf("media: delete: %w", err)
	}
	return nil
}

// Exists implements Store.
func (s *PGStore) Exists(ctx context.Context, sum Sum) (bool, error) {
	ok, err := s.q.MediaObjectExists(ctx, s.pool, sum[:])
	if err != nil {
		return false, fmt.Errorf("media: exists: %w", err)
	}
	return ok, nil
}

type pgReader struct {
	ctx       context.Context
	s         *PGStore
	obj       Object
	chunkSize int64
	off       int64
	seq       int64 // the chunk held in chunk, -1 for none
	chunk     []byte
	closed    bool
}

func (r *pgReader) Read(p []byte) (int, error) {
	if r.closed {
		return 0, errors.New("media: read of a closed reader")
	}
	if r.off >= r.obj.Size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	seq := r.off / r.chunkSize
	if seq != r.seq {
		r.chunk, r.seq = nil, -1
		data, err := r.s.q.MediaChunkGet(r.ctx, r.s.pool, db.MediaChunkGetParams{Sha256: r.obj.SHA256[:], Seq: int32(seq)})
		if errors.Is(err, pgx.ErrNoRows) {
			return 0, fmt.Errorf("media: read chunk %d of %s: %w", seq, r.obj.SHA256, ErrNotFound)
		}
		if err != nil {
			return 0, fmt.Errorf("media: read chunk %d of %s: %w", seq, r.obj.SHA256, err)
		}
		if want := min(r.chunkSize, r.obj.Size-seq*r.chunkSize); int64(len(data)) != want {
			return 0, fmt.Errorf("media: chunk %d of %s has %d bytes, not %d", seq, r.obj.SHA256, len(data), want)
		}
		r.chunk, r.seq = data, seq
	}
	n := copy(p, r.chunk[r.off-seq*r.chunkSize:])
	r.off += int64(n)
	return n, nil
}

func (r *pgReader) Seek(offset int64, whence int) (int64, error) {
	off, err := seekOffset(r.off, r.obj.Size, offset, whence)
	if err != nil {
		return r.off, err
	}
	r.off = off
	return off, nil
}

func (r *pgReader) Close() error {
	r.closed, r.chunk = true, nil
	return nil
}
