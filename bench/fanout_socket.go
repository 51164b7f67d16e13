package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// Levels of a message's state a socket can see: its message.created event, then the statuses
// its message.status events carry. A status event says where the message is, not what changed,
// so a socket that sees read has seen sent and delivered too (the server may send only the
// latest of several statuses that it reads together).
const (
	levelCreated = iota
	levelSent
	levelDelivered
	levelRead
	levels
)

func statusLevel(s []byte) int {
	switch string(s) {
	case "sent":
		return levelSent
	case "delivered":
		return levelDelivered
	case "read":
		return levelRead
	}
	return -1
}

// socket is one connected agent: it records when each message of the round reached each level.
type socket struct {
	conn    *websocket.Conn
	mu      sync.Mutex
	seen    [][levels]int64 // by message id - tracker.base: unix nanoseconds, 0 while not seen
	done    chan struct{}
	tracker *tracker
}

// tracker counts the sockets that received the message in flight (the closed-loop rounds send
// one at a time) and wakes the waiter when all have. It is a single atomic counter rather than a
// map under a mutex: a thousand readers arrive within milliseconds, and contending for one lock
// on the cores the fan-out runs on would measure the load generator instead.
type tracker struct {
	n     int64
	base  int64 // the first message id of the round
	count atomic.Int64
	done  atomic.Pointer[chan struct{}]
}

func newTracker(n int, base int64) *tracker {
	t := &tracker{n: int64(n), base: base}
	t.next()
	return t
}

// next starts a new message: call it before sending the message.
func (t *tracker) next() chan struct{} {
	c := make(chan struct{})
	t.count.Store(0)
	t.done.Store(&c)
	return c
}

func (t *tracker) arrived() {
	if t.count.Add(1) == t.n {
		close(*t.done.Load())
	}
}

// connectSockets connects n agents whose rounds' messages have ids from base on.
func connectSockets(ctx context.Context, url, token string, n int, base int64) ([]*socket, error) {
	wsURL := "ws" + strings.TrimPrefix(url, "http") + "/api/ws"
	tr := newTracker(n, base)
	socks := make([]*socket, n)
	var (
		wg       sync.WaitGroup
		firstErr atomic.Value
		sem      = make(chan struct{}, 50)
	)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			// A refusal under load (the token not checked while the database is busy: 1011)
			// is retried, as a client reconnects with backoff.
			s, err := dialSocket(ctx, wsURL, token, tr)
			for try := 1; err != nil && try < 4; try++ {
				time.Sleep(time.Duration(try) * 200 * time.Millisecond)
				s, err = dialSocket(ctx, wsURL, token, tr)
			}
			if err != nil {
				firstErr.CompareAndSwap(nil, err)
				return
			}
			socks[i] = s
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		closeSockets(socks)
		return nil, fmt.Errorf("error connecting %d sockets: %w", n, err)
	}
	return socks, nil
}

func dialSocket(ctx context.Context, url, token string, tr *tracker) (*socket, error) {
	dialCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(dialCtx, url, nil)
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(1 << 20)
	send := func(v string) error { return c.Write(dialCtx, websocket.MessageText, []byte(v)) }
	if err := send(fmt.Sprintf(`{"type":"auth","token":%q}`, token)); err != nil {
		return nil, err
	}
	if err := send(`{"type":"resume","after":null}`); err != nil {
		return nil, err
	}
	for {
		_, b, err := c.Read(dialCtx)
		if err != nil {
			return nil, fmt.Errorf("waiting for ready: %w", err)
		}
		var m struct{ Type string }
		_ = json.Unmarshal(b, &m)
		if m.Type == "ready" {
			break
		}
	}
	s := &socket{conn: c, done: make(chan struct{}), tracker: tr}
	go s.read()
	return s, nil
}

var (
	kindCreated = []byte(`"kind":"message.created"`)
	kindStatus  = []byte(`"kind":"message.status"`)
	statusKey   = []byte(`"status":"`)
)

func (s *socket) read() {
	defer close(s.done)
	buf := make([]byte, 0, 4096)
	for {
		_, r, err := s.conn.Reader(context.Background())
		if err != nil {
			return
		}
		// One buffer per socket, reused: the load generator shares the two cores with the
		// server, so it reads without allocating and finds the fields it needs without
		// decoding the whole event.
		buf = buf[:0]
		for {
			if len(buf) == cap(buf) {
				buf = append(buf, 0)[:len(buf)]
			}
			n, err := r.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			if err == io.EOF {
				break
			}
			if err != nil {
				return
			}
		}
		now := time.Now()
		lvl := -1
		switch {
		case bytes.Contains(buf, kindCreated):
			lvl = levelCreated
		case bytes.Contains(buf, kindStatus):
			if i := bytes.Index(buf, statusKey); i >= 0 {
				rest := buf[i+len(statusKey):]
				if end := bytes.IndexByte(rest, '"'); end >= 0 {
					lvl = statusLevel(rest[:end])
				}
			}
		}
		if lvl < 0 {
			continue
		}
		if id, ok := messageID(buf); ok {
			s.record(id, lvl, now.UnixNano())
			if lvl == levelCreated {
				s.tracker.arrived()
			}
		}
	}
}

// record notes that message id reached lvl at t (and, for a status, every status before it).
func (s *socket) record(id int64, lvl int, t int64) {
	i := int(id - s.tracker.base)
	if i < 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.seen) <= i {
		s.seen = append(s.seen, [levels]int64{})
	}
	from := lvl
	if lvl > levelCreated {
		from = levelSent
	}
	for l := from; l <= lvl; l++ {
		if s.seen[i][l] == 0 {
			s.seen[i][l] = t
		}
	}
}

// at returns when message id reached lvl on this socket.
func (s *socket) at(id int64, lvl int) (time.Time, bool) {
	i := int(id - s.tracker.base)
	s.mu.Lock()
	defer s.mu.Unlock()
	if i < 0 || i >= len(s.seen) || s.seen[i][lvl] == 0 {
		return time.Time{}, false
	}
	return time.Unix(0, s.seen[i][lvl]), true
}

func messageID(b []byte) (int64, bool) {
	const key = `"message_id":`
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return 0, false
	}
	rest := b[i+len(key):]
	end := bytes.IndexAny(rest, ",}")
	if end < 0 {
		return 0, false
	}
	id, err := strconv.ParseInt(string(bytes.TrimSpace(rest[:end])), 10, 64)
	return id, err == nil
}

func closeSockets(socks []*socket) {
	for _, s := range socks {
		if s != nil {
			_ = s.conn.Close(websocket.StatusNormalClosure, "")
		}
	}
	for _, s := range socks {
		if s != nil {
			<-s.done
		}
	}
}
