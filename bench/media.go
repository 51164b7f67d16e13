package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/media"
	"github.com/wainbox/wainbox/internal/simulator"
)

// benchMedia measures files: customers' 1 MB images fetched from the simulator's Meta into the
// store, beside the store's own put rate of the same files in Go (the ceiling: the fetch adds the
// webhook, the Graph API calls and the download), and the heap while ten agents download a 20 MB
// document at once, beside the bytes that move.
func benchMedia(ctx context.Context, e *Env) ([]Row, error) {
	a, stop, err := instance(ctx, e, map[string]string{"BOT_ENABLED": "0", "MEDIA_WORKERS": "8"})
	if err != nil {
		return nil, err
	}
	defer stop()
	sim := a.Simulator()
	const imageSize = 1 << 20
	image := func() []byte {
		b := make([]byte, imageSize)
		_, _ = rand.Read(b) // distinct bytes: the store keeps identical ones once
		copy(b, simulator.SampleMedia("image/jpeg")[:4])
		return b
	}

	// The machine's own ceiling in this run: pgbench's two small INSERTs per transaction.
	const workers = 8
	pg, err := pgbenchTPS(ctx, e, twoInsertSetup, twoInsertScript, workers)
	if err != nil {
		return nil, err
	}
	// Ceiling of the path: the store's put of 1 MB images in Go, 8 at once (the media workers).
	store := media.NewPGStore(a.Pool())
	putRate, putLat := runFor(e.Duration/2, workers, func() error {
		_, err := store.Put(ctx, bytes.NewReader(image()), imageSize)
		return err
	})

	// The whole inbound path: customers send 1 MB images for the same time; the clock stops when
	// the last one is stored.
	var sent atomic.Int64
	start := time.Now()
	deadline := start.Add(e.Duration / 2)
	var wg sync.WaitGroup
	var sendErr error
	var mu sync.Mutex
	for w := range workers {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				n := sent.Add(1)
				_, err := sim.SendInbound(ctx, &simulator.InboundInput{
					From: fmt.Sprintf("1650666%04d", (int(n)*workers+w)%1000), Type: "image", MimeType: "image/jpeg", Data: image(),
				})
				if err != nil {
					mu.Lock()
					sendErr = err
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	if sendErr != nil {
		return nil, sendErr
	}
	n := int(sent.Load())
	if err := waitMediaSettled(ctx, a.Pool(), n); err != nil {
		return nil, err
	}
	took := time.Since(start)
	var failed int
	if err := a.Pool().QueryRow(ctx, `SELECT count(*) FROM media_files WHERE status <> 'stored'`).Scan(&failed); err != nil {
		return nil, err
	}
	rate := perSec(n, took)
	rows := []Row{
		{"media", fmt.Sprintf("Go PGStore.Put of 1 MB images, %d writers", workers),
			fmt.Sprintf("%.0f files/s (%.0f MB/s, p99 %s)", putRate, putRate, ms(putLat.percentile(0.99))),
			fmt.Sprintf("pgbench 2 INSERTs: %.0f tx/s", pg[workers]), "", ""},
		{"media", fmt.Sprintf("inbound 1 MB images: webhook -> fetch from Meta -> stored, %d workers", workers),
			fmt.Sprintf("%.0f files/s (%d in %s, %d not stored)", rate, n, took.Round(time.Millisecond), failed),
			fmt.Sprintf("Go put: %.0f files/s", putRate), ratio(rate, putRate) + " of Go", "0 not stored"},
	}

	// Ten agents download a 20 MB document at once.
	doc := append([]byte("%PDF-1.4\n"), make([]byte, 20<<20)...)
	_, _ = rand.Read(doc[9:])
	if _, err := sim.SendInbound(ctx, &simulator.InboundInput{From: "16506669999", Type: "document", MimeType: "application/pdf", Data: doc}); err != nil {
		return rows, err
	}
	if err := waitMediaSettled(ctx, a.Pool(), n+1); err != nil {
		return rows, err
	}
	var id int64
	if err := a.Pool().QueryRow(ctx, `SELECT id FROM media_files WHERE kind = 'document' AND status = 'stored'`).Scan(&id); err != nil {
		return rows, err
	}
	_, err = a.Users.Create(ctx, auth.NewUser{Email: "media@example.com", Name: "Bench", Role: auth.RoleAdmin, Password: "bench password"})
	if err != nil {
		return rows, err
	}
	token, err := login(a.BaseURL(), "media@example.com", "bench password")
	if err != nil {
		return rows, err
	}
	// Memory held, not garbage: the sampler collects before each reading, so the figure is the
	// live heap the downloads hold (garbage waiting for the next cycle grows with the heap's size
	// and GOGC, not with what the downloads keep).
	doc = nil
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var peak atomic.Uint64
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	const downloads = 10
	dlStart := time.Now()
	errs := make(chan error, downloads)
	for range downloads {
		go func() { errs <- download(a.BaseURL(), token, id, 20<<20+9) }()
	}
	for range downloads {
		if err := <-errs; err != nil {
			close(done)
			return rows, err
		}
	}
	dlTook := time.Since(dlStart)
	close(done)
	<-sampled
	grew := float64(peak.Load()-min(peak.Load(), before.HeapAlloc)) / (1 << 20)
	moved := float64(downloads*20<<20) / (1 << 20)
	rows = append(rows, Row{"media", fmt.Sprintf("%d concurrent downloads of a 20 MB document (GET /api/media)", downloads),
		fmt.Sprintf("peak live heap +%.1f MB (%.0f MB/s)", grew, moved/dlTook.Seconds()),
		fmt.Sprintf("bytes moved: %.0f MB", moved), ratio(grew, moved) + " of the bytes", "bounded: far below the bytes moved"})
	return rows, nil
}

// runFor runs f from c goroutines for d and returns its rate and latencies.
func runFor(d time.Duration, c int, f func() error) (float64, latencies) {
	var mu sync.Mutex
	var lat latencies
	var wg sync.WaitGroup
	end := time.Now().Add(d)
	start := time.Now()
	for range c {
		wg.Go(func() {
			for time.Now().Before(end) {
				t := time.Now()
				if f() != nil {
					continue
				}
				el := time.Since(t)
				mu.Lock()
				lat = append(lat, el)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return perSec(len(lat), time.Since(start)), lat
}

// waitMediaSettled waits until n files exist and none is pending, for at most two minutes.
func waitMediaSettled(ctx context.Context, pool *pgxpool.Pool, n int) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var total, pending int
		err := pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE status = 'pending') FROM media_files`).Scan(&total, &pending)
		if err != nil {
			return err
		}
		if total >= n && pending == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d files still pending after two minutes", pending+n-min(total, n), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// download reads a file through the API to its end and checks its size.
func download(base, token string, id int64, size int) error {
	req, err := http.NewRequest("GET", fmt.Sprintf("%s/api/media/%d", base, id), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /api/media/%d answered %d", id, resp.StatusCode)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	if err == nil && n != int64(size) {
		err = fmt.Errorf("downloaded %d bytes of %d", n, size)
	}
	return err
}
