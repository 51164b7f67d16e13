package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// maxProxiedBody bounds the bodies the balancer buffers; Meta's webhooks are at most 3 MiB.
const maxProxiedBody = 4 << 20

// balancer is a small round-robin reverse proxy in front of the live instances, standing for the
// load balancer of a real deployment: agents' requests and Meta's webhooks reach whichever
// instance is up. A request that cannot reach an instance (connection refused: it was killed)
// fails over to the next one; when none answers, or an instance dies while answering, the caller
// gets 502 and retries, as agents' clients and Meta do.
type balancer struct {
	srv   *http.Server
	addr  string
	proxy *httputil.ReverseProxy

	mu       sync.Mutex
	backends []string
	next     int

	requests, failovers, badGateway atomic.Int64
}

type bodyKey struct{}

// startBalancer listens on a free port and serves until close.
func startBalancer(logPath string) (*balancer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		ln.Close()
		return nil, err
	}
	b := &balancer{addr: ln.Addr().String()}
	lbLog := log.New(logFile, "lb: ", log.LstdFlags|log.Lmicroseconds)
	transport := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     30 * time.Second,
	}
	b.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = "backend" // chosen per attempt by the failover transport
			pr.SetXForwarded()
		},
		Transport: &failover{b: b, t: transport},
		ErrorLog:  lbLog,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			b.badGateway.Add(1)
			lbLog.Printf("502 for %s %s: %v", r.Method, r.URL.Path, err)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = io.WriteString(w, `{"error":{"code":"bad_gateway","message":"no instance answered"}}`)
		},
	}
	b.srv = &http.Server{Handler: b, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = b.srv.Serve(ln) }()
	logf("load balancer on %s, log %s", b.addr, logPath)
	return b, nil
}

func (b *balancer) url() string { return "http://" + b.addr }

// ServeHTTP buffers the body, so that a request can be sent again to another instance.
func (b *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.requests.Add(1)
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxProxiedBody))
	if err != nil {
		http.Error(w, "body too large or unreadable", http.StatusRequestEntityTooLarge)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	b.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), bodyKey{}, body)))
}

func (b *balancer) add(addr string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !slices.Contains(b.backends, addr) {
		b.backends = append(b.backends, addr)
	}
}

func (b *balancer) remove(addr string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.backends = slices.DeleteFunc(b.backends, func(a string) bool { return a == addr })
}

// order is the round-robin order for one request: every backend once, starting at the next.
func (b *balancer) order() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(b.backends)
	out := make([]string, 0, n)
	for i := range n {
		out = append(out, b.backends[(b.next+i)%n])
	}
	if n > 0 {
		b.next = (b.next + 1) % n
	}
	return out
}

func (b *balancer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = b.srv.Shutdown(ctx)
}

// stats is one line for the report.
func (b *balancer) stats() string {
	return fmt.Sprintf("%d requests, %d failed over to another instance, %d answered 502",
		b.requests.Load(), b.failovers.Load(), b.badGateway.Load())
}

// failover sends each attempt to one backend and moves to the next only when the connection
// could not be made: then the request never reached an instance and sending it elsewhere is safe
// whatever it is. A request that reached an instance that then died is not resent here; its
// caller decides, as it must with any load balancer.
type failover struct {
	b *balancer
	t *http.Transport
}

var errNoBackend = errors.New("no instance reachable")

func (f *failover) RoundTrip(req *http.Request) (*http.Response, error) {
	body, _ := req.Context().Value(bodyKey{}).([]byte)
	for i, addr := range f.b.order() {
		if i > 0 {
			f.b.failovers.Add(1)
		}
		out := req.Clone(req.Context())
		out.URL.Host = addr
		out.Body, out.ContentLength = http.NoBody, 0
		if len(body) > 0 {
			out.Body, out.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		}
		resp, err := f.t.RoundTrip(out)
		if err == nil {
			return resp, nil
		}
		var opErr *net.OpError
		if !errors.As(err, &opErr) || opErr.Op != "dial" {
			return nil, err
		}
	}
	return nil, errNoBackend
}
