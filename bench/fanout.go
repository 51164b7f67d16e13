package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/database"
	"github.com/wainbox/wainbox/internal/dbtest"
	"github.com/wainbox/wainbox/internal/inbox"
)

// benchFanout measures the real-time fan-out: the delay from a message's commit to its
// event arriving at every connected socket, with 100, 1,000 and 5,000 agents on one instance, and
// the server's resident memory per idle connection. The server runs as its own process so its RSS
// is its own.
func benchFanout(ctx context.Context, e *Env) ([]Row, error) {
	srv, err := startServerProcess(ctx, e)
	if err != nil {
		return nil, err
	}
	defer srv.stop()

	token, err := login(srv.url, "bench@example.com", "bench password")
	if err != nil {
		return nil, err
	}
	httpc := &http.Client{Timeout: 30 * time.Second}
	if err := customerWroteTo(ctx, httpc, srv.dbURL, srv.url, "16505559999"); err != nil {
		return nil, err
	}
	convID, err := openConversation(httpc, srv.url, token)
	if err != nil {
		return nil, err
	}

	// The send queue is paused through River (a client of the benchmark on the same database):
	// each message then makes one fan-out, not four (created, then the sent, delivered and read
	// ticks of the simulator's status webhooks), so the rows measure the fan-out itself. The last
	// row repeats 1,000 agents with the ticks flowing.
	rc, closeRiver, err := riverInsertClient(ctx, srv.dbURL)
	if err != nil {
		return nil, err
	}
	defer closeRiver()
	if err := rc.QueuePause(ctx, inbox.QueueSend, nil); err != nil {
		return nil, err
	}

	clock, err := newCommitClock(ctx, srv.dbURL)
	if err != nil {
		return nil, err
	}
	defer clock.close()

	var rows []Row
	const messages = 20
	for _, round := range []struct {
		n     int
		ticks bool
	}{{1, false}, {100, false}, {1000, false}, {5000, false}, {1000, true}} {
		n := round.n
		if round.ticks {
			// The paused rounds' sends are dropped, not released at once as a burst.
			if err := dropQueued(ctx, srv.dbURL, inbox.QueueSend); err != nil {
				return rows, err
			}
			if err := rc.QueueResume(ctx, inbox.QueueSend, nil); err != nil {
				return rows, err
			}
		}
		before, err := rss(srv.cmd.Process.Pid)
		if err != nil {
			return rows, err
		}
		socks, err := connectSockets(ctx, srv.url, token, n)
		if err != nil {
			return rows, err
		}
		// Let the sockets settle before reading memory: each has done its auth and resume.
		time.Sleep(time.Second)
		after, _ := rss(srv.cmd.Process.Pid)

		lat, lost, err := fanOut(ctx, clock, socks, httpc, srv.url, token, convID, messages)
		closeSockets(socks)
		if err != nil {
			return rows, err
		}
		label := fmt.Sprintf("%s -> every socket, %d agents", clock.from(), n)
		if round.ticks {
			label += ", with status ticks"
		}
		rows = append(rows, Row{"fanout", label,
			fmt.Sprintf("p50 %s, p99 %s, max %s; %d of %d events lost", ms(lat.percentile(0.5)), ms(lat.percentile(0.99)), ms(lat.percentile(1)), lost, n*messages),
			"", "", "p99 < 25 ms at 1,000; 0 lost"})
		if n == 5000 && !round.ticks {
			per := float64(after-before) / float64(n)
			rows = append(rows, Row{"fanout", fmt.Sprintf("server RSS per idle socket (%d sockets)", n),
				fmt.Sprintf("%.1f KB", per/1024), fmt.Sprintf("RSS %d MB -> %d MB", before>>20, after>>20), "", "< 40 KB"})
		}
		// Give the server a moment to tear the closed sockets down before the next round.
		time.Sleep(500 * time.Millisecond)
	}
	return rows, nil
}

type serverProcess struct {
	cmd   *exec.Cmd
	url   string
	dbURL string
	stop  func()
}

// startServerProcess builds wainbox and runs `wainbox serve` on a fresh database with the
// simulator, with an admin the benchmark logs in as.
func startServerProcess(ctx context.Context, e *Env) (*serverProcess, error) {
	dir, err := os.MkdirTemp("", "wainbox-bench")
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(dir, "wainbox")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/wainbox").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("error building wainbox: %v: %s", err, out)
	}
	url, drop, err := dbtest.NewDatabase(ctx, e.Server)
	if err != nil {
		return nil, err
	}
	pool, err := database.Open(ctx, url, 2)
	if err != nil {
		drop()
		return nil, err
	}
	_, err = auth.NewUsers(pool, 4).Create(ctx, auth.NewUser{Email: "bench@example.com", Name: "Bench", Role: auth.RoleAdmin, Password: "bench password"})
	pool.Close()
	if err != nil {
		drop()
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		drop()
		return nil, err
	}
	addr := l.Addr().String()
	_ = l.Close()

	// Every socket of the benchmark is the one admin's, so the per-user cap is raised above them.
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(),
		"DATABASE_URL="+url, "HTTP_ADDR="+addr, "SIMULATOR=1", "LOG_LEVEL=warn",
		"AUTH_SECRET=bench-secret-bench-secret-bench-secret-0123", "DATABASE_MAX_CONNS=20",
		"WS_MAX_SOCKETS_PER_USER=10000")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		drop()
		return nil, err
	}
	p := &serverProcess{cmd: cmd, url: "http://" + addr, dbURL: url}
	p.stop = func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		drop()
		_ = os.RemoveAll(dir)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(p.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("wainbox serve did not become ready: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// customerWroteTo opens the 24-hour window of customer waID at a server running as its own
// process: in its database, as the customer's message would, and at its simulated Meta.
func customerWroteTo(ctx context.Context, c *http.Client, dbURL, base, waID string) error {
	pool, err := database.Open(ctx, dbURL, 1)
	if err != nil {
		return err
	}
	defer pool.Close()
	now := time.Now()
	if err := dbtest.CustomerWrote(ctx, pool, waID, now); err != nil {
		return err
	}
	body := fmt.Sprintf(`{"last_inbound_at":%q}`, now.UTC().Format(time.RFC3339Nano))
	req, _ := http.NewRequestWithContext(ctx, "PUT", base+"/simulator/customers/"+waID, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("setting when %s last wrote answered %d", waID, resp.StatusCode)
	}
	return nil
}

func openConversation(c *http.Client, base, token string) (int64, error) {
	body := fmt.Sprintf(`{"wa_id":"16505559999","client_id":%q,"type":"text","text":{"body":"hello"}}`, uuid.NewString())
	req, _ := http.NewRequest("POST", base+"/api/conversations", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var out struct {
		Conversation struct {
			ID int64 `json:"id"`
		} `json:"conversation"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Conversation.ID == 0 {
		return 0, fmt.Errorf("opening a conversation answered %d: %v", resp.StatusCode, err)
	}
	return out.Conversation.ID, nil
}

// socket is one connected agent: it records when each message.created event arrived.
type socket struct {
	conn    *websocket.Conn
	mu      sync.Mutex
	arrived map[int64]time.Time
	done    chan struct{}
	tracker *tracker
}

// tracker counts the sockets that received the message in flight (the benchmark sends one at a
// time) and wakes the waiter when all have. It is a single atomic counter rather than a map under
// a mutex: a thousand readers arrive within milliseconds, and contending for one lock on the cores
// the fan-out runs on would measure the load generator instead.
type tracker struct {
	n     int64
	count atomic.Int64
	done  atomic.Pointer[chan struct{}]
}

func newTracker(n int) *tracker {
	t := &tracker{n: int64(n)}
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

func connectSockets(ctx context.Context, base, token string, n int) ([]*socket, error) {
	wsURL := "ws" + strings.TrimPrefix(base, "http") + "/api/ws"
	tr := newTracker(n)
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
			s, err := dialSocket(ctx, wsURL, token, tr)
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
	s := &socket{conn: c, arrived: map[int64]time.Time{}, done: make(chan struct{}), tracker: tr}
	go s.read()
	return s, nil
}

func (s *socket) read() {
	defer close(s.done)
	buf := make([]byte, 0, 4096)
	for {
		_, r, err := s.conn.Reader(context.Background())
		if err != nil {
			return
		}
		// One buffer per socket, reused: the load generator shares the two cores with the
		// server, so it reads without allocating and finds the one field it needs without
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
		if !bytes.Contains(buf, []byte(`"kind":"message.created"`)) {
			continue
		}
		if id, ok := messageID(buf); ok {
			s.mu.Lock()
			s.arrived[id] = now
			s.mu.Unlock()
			s.tracker.arrived()
		}
	}
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

// fanOut sends messages one after another (a new one when every socket got the previous one, or
// after 2 s) and measures, per socket, the delay from the message's commit to its arrival.
func fanOut(ctx context.Context, clock *commitClock, socks []*socket, c *http.Client, base, token string, conv int64, messages int) (latencies, int, error) {
	var lat latencies
	lost := 0
	for range messages {
		all := socks[0].tracker.next()
		id, started, err := postForFanout(c, base, token, conv)
		if err != nil {
			return nil, 0, err
		}
		select {
		case <-all:
		case <-time.After(2 * time.Second):
		}
		// Asked once the message has reached every socket, so the query does not share the
		// cores with the fan-out it times.
		committed, err := clock.committed(ctx, conv, id, started)
		if err != nil {
			return nil, 0, err
		}
		for _, s := range socks {
			s.mu.Lock()
			at, ok := s.arrived[id]
			s.mu.Unlock()
			if !ok {
				lost++
				continue
			}
			lat = append(lat, at.Sub(committed))
		}
	}
	return lat, lost, nil
}

// commitClock tells when a message's transaction committed. With track_commit_timestamp on, the
// server records each commit's time (pg_xact_commit_timestamp of the event row's xmin), which is
// the moment the figure starts from. Without it, the clock falls back to the message's
// created_at, the start of its transaction, which overstates every delay by the transaction's
// length; the row's label says which clock was used. The database runs on this machine, so its
// clock is the benchmark's.
type commitClock struct {
	conn    *pgx.Conn
	enabled bool
}

func newCommitClock(ctx context.Context, url string) (*commitClock, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	var setting string
	if err := conn.QueryRow(ctx, "SELECT current_setting('track_commit_timestamp')").Scan(&setting); err != nil {
		conn.Close(ctx)
		return nil, err
	}
	return &commitClock{conn: conn, enabled: setting == "on"}, nil
}

func (c *commitClock) from() string {
	if c.enabled {
		return "commit"
	}
	return "transaction start (track_commit_timestamp off)"
}

func (c *commitClock) committed(ctx context.Context, conv, messageID int64, started time.Time) (time.Time, error) {
	if !c.enabled {
		return started, nil
	}
	var at time.Time
	err := c.conn.QueryRow(ctx, `
		SELECT pg_xact_commit_timestamp(xmin) FROM events
		WHERE conversation_id = $1 AND kind = 'message.created' AND (payload->>'message_id')::bigint = $2`,
		conv, messageID).Scan(&at)
	if err != nil {
		return time.Time{}, fmt.Errorf("error reading the commit time of message %d: %w", messageID, err)
	}
	return at, nil
}

func (c *commitClock) close() { _ = c.conn.Close(context.Background()) }

func postForFanout(c *http.Client, base, token string, conv int64) (int64, time.Time, error) {
	body := fmt.Sprintf(`{"client_id":%q,"type":"text","text":{"body":"fan-out benchmark"}}`, uuid.NewString())
	req, _ := http.NewRequest("POST", fmt.Sprintf("%s/api/conversations/%d/messages", base, conv), strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return 0, time.Time{}, err
	}
	defer resp.Body.Close()
	var m struct {
		ID        int64     `json:"id"`
		CreatedAt time.Time `json:"created_at"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || m.ID == 0 {
		return 0, time.Time{}, fmt.Errorf("send answered %d: %v", resp.StatusCode, err)
	}
	return m.ID, m.CreatedAt, nil
}

// rss returns a process's resident set size in bytes, from /proc.
func rss(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

// riverInsertClient is a River client that works no jobs: the benchmark uses it to pause and
// resume the server's queues, which River signals to every client of the database.
func riverInsertClient(ctx context.Context, url string) (*river.Client[pgx.Tx], func(), error) {
	pool, err := database.Open(ctx, url, 2)
	if err != nil {
		return nil, nil, err
	}
	c, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	return c, pool.Close, nil
}

func dropQueued(ctx context.Context, url, queue string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return dropSends(ctx, conn, queue)
}

// dropSends deletes the sends queued on a paused queue and marks their messages failed: left
// pending, later messages of their conversations would wait for them (ordered delivery).
func dropSends(ctx context.Context, db interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}, queue string) error {
	_, err := db.Exec(ctx, `
		WITH dropped AS (
			DELETE FROM river_job WHERE state = 'available' AND queue = $1
			RETURNING (args->>'message_id')::bigint AS id
		)
		UPDATE messages SET status = 'failed', failed_at = now(), error_title = 'dropped by the benchmark'
		WHERE id IN (SELECT id FROM dropped) AND status = 'pending'`, queue)
	return err
}
