package app

import (
	"context"
	"net/http"
	"sync"

	"riverqueue.com/riverui"
)

// lazyRiverUI starts River UI on its first request. Started, River UI counts the jobs of every
// state every ten seconds, on every instance that serves it, whether or not anyone is looking:
// on a river_job table that keeps a month of finished jobs that is a heavy query, and each of
// those runs is a latency spike for the sends and webhooks sharing the database. Started on
// demand, only the instances an admin has opened it on pay for it.
type lazyRiverUI struct {
	h   *riverui.Handler
	ctx context.Context // ends River UI's background work at shutdown

	once sync.Once
	err  error
}

func (l *lazyRiverUI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.once.Do(func() { l.err = l.h.Start(l.ctx) })
	if l.err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"error":{"code":"unavailable","message":"River UI could not start"}}` + "\n"))
		return
	}
	l.h.ServeHTTP(w, r)
}
