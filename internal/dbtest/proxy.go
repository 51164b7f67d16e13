package dbtest

import (
	"errors"
	"net"
	"net/url"
	"strconv"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// proxyState is what a Proxy does with traffic.
type proxyState int

const (
	proxyUp     proxyState = iota // forwards both ways
	proxyDown                     // closes every connection, new ones at once
	proxyFrozen                   // holds every byte and every new connection
	proxyClosed                   // the test ended
)

// Proxy is a TCP proxy between a test and PostgreSQL that can cut or freeze the connection. It
// lets a test make the database unreachable or frozen for one instance without touching the
// server the other tests share.
type Proxy struct {
	t      testing.TB
	target string
	ln     net.Listener
	wg     sync.WaitGroup

	mu    sync.Mutex
	state proxyState
	// thaw is closed when the proxy leaves the frozen state; it is nil while not frozen.
	thaw  chan struct{}
	conns map[net.Conn]struct{}
}

// NewProxy listens on a loopback port and forwards every connection to target (host:port). It is
// closed, with every connection through it, when the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("error starting database proxy: %v", err)
	}
	p := &Proxy{t: t, target: target, ln: ln, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// Addr is the proxy's address, 127.0.0.1:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// URL returns databaseURL (a postgres:// URL) with its host and port replaced by the proxy's.
func (p *Proxy) URL(databaseURL string) string {
	p.t.Helper()
	u, err := url.Parse(databaseURL)
	if err != nil || u.Scheme == "" {
		p.t.Fatalf("dbtest: %q is not a postgres:// URL", databaseURL)
	}
	u.Host = p.Addr()
	// A host or port parameter would override the URL's authority and bypass the proxy.
	if q := u.Query(); q.Has("host") || q.Has("port") {
		q.Del("host")
		q.Del("port")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// HostPort returns the host:port databaseURL connects to, the target NewProxy takes.
func HostPort(t testing.TB, databaseURL string) string {
	t.Helper()
	cfg, err := pgconn.ParseConfig(databaseURL)
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	return net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
}

// Down makes PostgreSQL unreachable: every open connection is closed and new ones are closed as
// soon as they are accepted.
func (p *Proxy) Down() { p.set(proxyDown) }

// Freeze makes PostgreSQL frozen: connections stay open but nothing is forwarded, and new
// connections are accepted but hang, until Up or Down.
func (p *Proxy) Freeze() { p.set(proxyFrozen) }

// SetTarget sends the connections made from now on to target (host:port) instead: a test moves
// its clients from one server to another, as a load balancer does when an instance restarts.
func (p *Proxy) SetTarget(target string) {
	p.mu.Lock()
	p.target = target
	p.mu.Unlock()
}

// Up forwards again: frozen connections resume where they stopped, and after Down new
// connections reach PostgreSQL.
func (p *Proxy) Up() { p.set(proxyUp) }

func (p *Proxy) set(s proxyState) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state == proxyClosed || p.state == s {
		return
	}
	if p.state == proxyFrozen {
		close(p.thaw)
		p.thaw = nil
	}
	p.state = s
	switch s {
	case proxyFrozen:
		p.thaw = make(chan struct{})
	case proxyDown, proxyClosed:
		for c := range p.conns {
			_ = c.Close()
		}
		clear(p.conns)
	}
}

func (p *Proxy) close() {
	p.set(proxyClosed)
	_ = p.ln.Close()
	p.wg.Wait()
}

// wait blocks while the proxy is frozen and reports whether traffic may flow.
func (p *Proxy) wait() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.state == proxyFrozen {
		thaw := p.thaw
		p.mu.Unlock()
		<-thaw
		p.mu.Lock()
	}
	return p.state == proxyUp
}

// track registers c so that Down can close it, or closes it at once when traffic may not flow.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state == proxyDown || p.state == proxyClosed {
		_ = c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	_ = c.Close()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if !p.track(c) {
			continue
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

// serve connects client to the target once the proxy is up and copies both ways until either
// side closes.
func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	defer p.untrack(client)
	if !p.wait() {
		return
	}
	p.mu.Lock()
	target := p.target
	p.mu.Unlock()
	server, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	if !p.track(server) {
		return
	}
	defer p.untrack(server)
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.pipe(server, client)
	}()
	p.pipe(client, server)
	<-done
}

// pipe copies src to dst, holding what it read while the proxy is frozen, and closes both when
// either fails so that the other direction ends too.
func (p *Proxy) pipe(dst, src net.Conn) {
	defer func() {
		_ = src.Close()
		_ = dst.Close()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.wait() {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
