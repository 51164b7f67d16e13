package app

// This file starts an instance, waits for it and stops it in reverse order: the HTTP server first,
// then River's running jobs (given the timeout), then the pool.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/wainbox/wainbox/internal/database"
	"github.com/wainbox/wainbox/internal/httpapi"
)

// Start starts River, the doorbell, the real-time listener and the HTTP server, and returns once
// they run.
func (a *App) Start(ctx context.Context) error {
	if err := a.river.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("error starting River: %w", err)
	}
	a.riverStarted.Store(true)
	a.rescuer.Start()
	a.doorbell.Start()
	// The listener is connected and knows where the event log ends before the first socket can
	// be opened.
	if err := a.realtime.Start(ctx); err != nil {
		return err
	}
	go func() {
		if err := a.server.Serve(a.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.serveErr <- err
		}
		close(a.serveErr)
	}()
	a.logger.Info("wainbox started", "addr", a.listener.Addr().String(), "base_url", a.baseURL, "simulator", a.sim != nil)
	return nil
}

// Wait blocks until ctx is done or the HTTP server fails.
func (a *App) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case err := <-a.serveErr:
		return err
	}
}

// Shutdown stops accepting requests, lets in-flight requests and running jobs finish within
// timeout, then stops River and closes the pool. Jobs still running at the deadline are cancelled
// and River retries them later (on this or another instance).
func (a *App) Shutdown(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var errs []error
	if err := a.server.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("error stopping HTTP server: %w", err))
	}
	if a.riverStarted.Load() {
		if err := a.river.Stop(ctx); err != nil {
			stopCtx, cancelStop := context.WithTimeout(context.Background(), 5*time.Second)
			if err := a.river.StopAndCancel(stopCtx); err != nil {
				errs = append(errs, fmt.Errorf("error stopping River: %w", err))
			}
			cancelStop()
		}
	}
	a.closeResources()
	a.logger.Info("wainbox stopped")
	return errors.Join(errs...)
}

func (a *App) closeResources() {
	if a.rescuer != nil {
		a.rescuer.Stop()
	}
	if a.stopRiverUI != nil {
		a.stopRiverUI()
	}
	if a.realtime != nil {
		// Sockets are hijacked connections that server.Shutdown does not wait for: close them
		// (1001, clients resume elsewhere) while the pool that serves their resumes is open.
		a.realtime.Stop()
	}
	if a.doorbell != nil {
		a.doorbell.Stop()
	}
	if a.sim != nil {
		a.sim.Close()
	}
	if a.listener != nil {
		_ = a.listener.Close()
	}
	if a.pool != nil {
		a.pool.Close()
	}
}

// ready is /readyz: the database answers, its schema is current, River runs and the real-time
// listener is connected. Its errors name the component, which is all /readyz shows.
func (a *App) ready(ctx context.Context) error {
	if err := a.pool.Ping(ctx); err != nil {
		return &httpapi.NotReadyError{Component: "database", Err: fmt.Errorf("database unreachable: %w", err)}
	}
	if err := database.CheckMigrations(ctx, a.pool); err != nil {
		return &httpapi.NotReadyError{Component: "database", Err: err}
	}
	if !a.riverStarted.Load() {
		return &httpapi.NotReadyError{Component: "queue", Err: errors.New("job queue not started")}
	}
	if err := a.realtime.Ready(); err != nil {
		return &httpapi.NotReadyError{Component: "realtime", Err: err}
	}
	return nil
}
