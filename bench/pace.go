package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// paced calls fn at a fixed rate for d, open loop: call i is due at start + i/rate whatever the
// earlier calls are doing, and one that is late (the machine is busy) starts at once instead of
// being dropped, as a ticker would. So the offered load is exactly rate × d, and fn gets the time
// its call was due, from which latencies are measured (a late start counts against the system,
// not for it). It returns the number of calls after they all returned.
func paced(rate float64, d time.Duration, fn func(i int, due time.Time)) int {
	var wg sync.WaitGroup
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	n := int(float64(d) / float64(interval))
	for i := range n {
		due := start.Add(time.Duration(i) * interval)
		if wait := time.Until(due); wait > 0 {
			time.Sleep(wait)
		}
		wg.Go(func() { fn(i, due) })
	}
	wg.Wait()
	return n
}

// settle vacuums and analyzes the benchmark's database before a measured phase. The machines
// this runs on have autovacuum turned off, which a production server never has: without it the
// tables the earlier phases churned (conversations updated thousands of times, River's jobs)
// keep every dead row version and no statistics, and a phase would measure that instead.
func settle(ctx context.Context, pool *pgxpool.Pool) error {
	if _, err := pool.Exec(ctx, "VACUUM ANALYZE"); err != nil {
		return fmt.Errorf("error vacuuming: %w", err)
	}
	return nil
}
