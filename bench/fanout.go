package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/database"
	"github.com/wainbox/wainbox/internal/dbtest"
)

// benchFanout measures the real-time fan-out with the server as its own process (so its RSS is its
// own) and the agents' sockets in this one (benchFanoutRows has the rows and their ceilings).
func benchFanout(ctx context.Context, e *Env) ([]Row, error) {
	srv, err := startServerProcess(ctx, e)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	bp, err := startBroadcaster()
	if err != nil {
		return nil, err
	}
	defer bp.stop()
	return benchFanoutRows(ctx, e, srv, bp)
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

func openConversation(c *http.Client, base, token, waID string) (int64, error) {
	body := fmt.Sprintf(`{"wa_id":%q,"client_id":%q,"type":"text","text":{"body":"hello"}}`, waID, uuid.NewString())
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

// fanOut sends messages one after another (a new one when every socket got the previous one, or
// after 2 s) and measures, per socket, the delay from the message's commit to its arrival. A
// message that reaches a socket after the next was sent still counts by its delay: losses are
// counted once every message had 10 s more to arrive.
func fanOut(ctx context.Context, clock *commitClock, socks []*socket, c *http.Client, base, token string, conv int64, messages int) (latencies, int, error) {
	type sent struct {
		id        int64
		committed time.Time
	}
	var all []sent
	for range messages {
		arrived := socks[0].tracker.next()
		id, started, err := postForFanout(c, base, token, conv)
		if err != nil {
			return nil, 0, err
		}
		select {
		case <-arrived:
		case <-time.After(2 * time.Second):
		}
		// Asked once the message has reached every socket, so the query does not share the
		// cores with the fan-out it times.
		committed, err := clock.committed(ctx, conv, id, started)
		if err != nil {
			return nil, 0, err
		}
		all = append(all, sent{id, committed})
	}
	var (
		lat  latencies
		lost int
	)
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		lat, lost = nil, 0
		for _, m := range all {
			for _, s := range socks {
				at, ok := s.at(m.id, levelCreated)
				if !ok {
					lost++
					continue
				}
				lat = append(lat, at.Sub(m.committed))
			}
		}
		if lost == 0 || time.Now().After(end) {
			return lat, lost, nil
		}
	}
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
func rss(pid int) (int64, error) { return procStatus(pid, "VmRSS:") }

// procStatus reads one of the sizes of /proc/<pid>/status (VmRSS:, VmHWM:, ...) in bytes.
func procStatus(pid int, key string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), key); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no %s for pid %d", key, pid)
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
