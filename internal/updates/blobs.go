package updates

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"gatehouse/internal/ids"
	"gatehouse/internal/store"
)

// Files Gatehouse hosts (uploaded releases, organisations' mirrors) live in
// the database, not under --data-dir: several nodes on one PostgreSQL must
// all serve them, and a node's disk is not shared. They are stored in
// chunks so that a range is read without the rest, each chunk with its own
// SHA-256 that is checked whenever it is read.

// ChunkSize is the size of stored chunks (the last one may be shorter).
const ChunkSize = 1 << 20

// Blob is a complete stored file.
type Blob struct {
	ID        string
	SHA256    string
	Size      int64
	ChunkSize int
}

// storeBlob reads r to the end into a new blob. With wantSHA set the bytes
// must have that SHA-256 (ErrChecksum otherwise); with wantSize > 0 they
// must be exactly that long. A complete blob with the same content is reused
// (the new copy is dropped). On any failure nothing is left behind.
func (s *Service) storeBlob(ctx context.Context, r io.Reader, wantSHA string, wantSize int64) (*Blob, error) {
	id := ids.New()
	if _, err := s.DB.Exec(ctx, `INSERT INTO update_blobs (id, chunk_size, created_at) VALUES (?, ?, ?)`, id, ChunkSize, store.At(s.now())); err != nil {
		return nil, fmt.Errorf("store file: %w", err)
	}
	blob, err := s.fillBlob(ctx, id, r, wantSHA, wantSize)
	if err != nil || blob.ID != id {
		// Chunks go with the blob (ON DELETE CASCADE). A cancelled request
		// must still clean up.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if _, derr := s.DB.Exec(dctx, `DELETE FROM update_blobs WHERE id = ?`, id); derr != nil {
			s.Config.Log.Error("drop partial file", "blob", id, "err", derr)
		}
	}
	return blob, err
}

func (s *Service) fillBlob(ctx context.Context, id string, r io.Reader, wantSHA string, wantSize int64) (*Blob, error) {
	whole := sha256.New()
	buf := make([]byte, ChunkSize)
	var size int64
	limit := s.Config.MaxFileSize
	if wantSize > 0 && wantSize < limit {
		limit = wantSize
	}
	for seq := 0; ; seq++ {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			size += int64(n)
			if size > limit {
				if wantSize > 0 {
					return nil, fmt.Errorf("the file is larger than its declared size of %d bytes", wantSize)
				}
				return nil, fmt.Errorf("the file is larger than the limit of %d bytes", s.Config.MaxFileSize)
			}
			whole.Write(buf[:n])
			sum := sha256.Sum256(buf[:n])
			if _, err := s.DB.Exec(ctx, `INSERT INTO update_blob_chunks (blob_id, seq, data, sha256) VALUES (?, ?, ?, ?)`,
				id, seq, buf[:n], hex.EncodeToString(sum[:])); err != nil {
				return nil, fmt.Errorf("store file chunk %d: %w", seq, err)
			}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read file: %w", err)
		}
	}
	if size == 0 {
		return nil, errors.New("the file is empty")
	}
	if wantSize > 0 && size != wantSize {
		return nil, fmt.Errorf("the file has %d bytes, not the declared %d", size, wantSize)
	}
	sha := hex.EncodeToString(whole.Sum(nil))
	if wantSHA != "" && sha != wantSHA {
		return nil, fmt.Errorf("%w: the file's SHA-256 is %s, not the declared %s", ErrChecksum, sha, wantSHA)
	}
	var out *Blob
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		if existing, err := completeBlobBySHA(ctx, tx, sha); err == nil {
			out = existing
			return nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE update_blobs SET sha256 = ?, size_bytes = ?, complete = ? WHERE id = ?`, sha, size, true, id); err != nil {
			return fmt.Errorf("finish file: %w", err)
		}
		out = &Blob{ID: id, SHA256: sha, Size: size, ChunkSize: ChunkSize}
		return nil
	})
	if err != nil && store.IsUniqueViolation(err) {
		// Another node stored the same bytes a moment ago: use its copy.
		return completeBlobBySHA(ctx, s.DB, sha)
	}
	return out, err
}

func completeBlobBySHA(ctx context.Context, q store.Querier, sha string) (*Blob, error) {
	var b Blob
	err := q.QueryRow(ctx, `SELECT id, sha256, size_bytes, chunk_size FROM update_blobs WHERE sha256 = ? AND complete = ?`, sha, true).
		Scan(&b.ID, &b.SHA256, &b.Size, &b.ChunkSize)
	if err != nil {
		return nil, store.NotFound(err)
	}
	return &b, nil
}

func blobByID(ctx context.Context, q store.Querier, id string) (*Blob, error) {
	var b Blob
	err := q.QueryRow(ctx, `SELECT id, sha256, size_bytes, chunk_size FROM update_blobs WHERE id = ? AND complete = ?`, id, true).
		Scan(&b.ID, &b.SHA256, &b.Size, &b.ChunkSize)
	if err != nil {
		return nil, store.NotFound(err)
	}
	return &b, nil
}

// BlobReader reads a stored file: an io.ReadSeeker (so HTTP Range requests
// are answered with http.ServeContent) that loads one chunk at a time and
// refuses a chunk whose bytes no longer match their SHA-256.
type BlobReader struct {
	ctx   context.Context
	db    *store.DB
	blob  Blob
	off   int64
	seq   int
	chunk []byte
}

// OpenBlob returns a reader over a complete blob.
func (s *Service) openBlob(ctx context.Context, b *Blob) *BlobReader {
	return &BlobReader{ctx: ctx, db: s.DB, blob: *b, seq: -1}
}

// Size is the file's length.
func (br *BlobReader) Size() int64 { return br.blob.Size }

// SHA256 is the file's verified SHA-256 (hex).
func (br *BlobReader) SHA256() string { return br.blob.SHA256 }

// Seek implements io.Seeker.
func (br *BlobReader) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = br.off + offset
	case io.SeekEnd:
		abs = br.blob.Size + offset
	default:
		return 0, errors.New("blob: bad whence")
	}
	if abs < 0 {
		return 0, errors.New("blob: negative position")
	}
	br.off = abs
	return abs, nil
}

// Read implements io.Reader.
func (br *BlobReader) Read(p []byte) (int, error) {
	if br.off >= br.blob.Size {
		return 0, io.EOF
	}
	cs := int64(br.blob.ChunkSize)
	seq := int(br.off / cs)
	if seq != br.seq {
		var data []byte
		var sum string
		if err := br.db.QueryRow(br.ctx, `SELECT data, sha256 FROM update_blob_chunks WHERE blob_id = ? AND seq = ?`, br.blob.ID, seq).Scan(&data, &sum); err != nil {
			return 0, fmt.Errorf("read file chunk %d: %w", seq, err)
		}
		got := sha256.Sum256(data)
		want := cs
		if last := br.blob.Size - int64(seq)*cs; last < cs {
			want = last
		}
		if hex.EncodeToString(got[:]) != sum || int64(len(data)) != want {
			return 0, fmt.Errorf("%w: stored chunk %d of file %s is damaged", ErrChecksum, seq, br.blob.SHA256)
		}
		br.seq, br.chunk = seq, data
	}
	n := copy(p, br.chunk[br.off-int64(seq)*cs:])
	br.off += int64(n)
	return n, nil
}

// VerifyBlob reads a whole stored file and checks its SHA-256 (and every
// chunk's on the way).
func (s *Service) verifyBlob(ctx context.Context, b *Blob) error {
	h := sha256.New()
	if _, err := io.Copy(h, s.openBlob(ctx, b)); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != b.SHA256 {
		return fmt.Errorf("%w: stored file reads as %s, not %s", ErrChecksum, got, b.SHA256)
	}
	return nil
}

// collectGarbage drops files nothing refers to: uploads that never
// finished (after a day) and complete files no release or mirror uses any
// more (after an hour, so an upload whose release is being created is not
// caught in between).
func (s *Service) collectGarbage(ctx context.Context) (int64, error) {
	now := s.now()
	res, err := s.DB.Exec(ctx, `DELETE FROM update_blobs WHERE
		(complete = ? AND created_at < ?) OR
		(complete = ? AND created_at < ?
		 AND NOT EXISTS (SELECT 1 FROM update_releases r WHERE r.blob_id = update_blobs.id)
		 AND NOT EXISTS (SELECT 1 FROM update_mirrors m WHERE m.blob_id = update_blobs.id))`,
		false, store.At(now.Add(-24*time.Hour)), true, store.At(now.Add(-time.Hour)))
	if err != nil {
		return 0, fmt.Errorf("drop unused files: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}
