package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// broadcastEnv, when set to a listen address, makes the benchmark binary run as the fan-out's
// ceiling instead: a bare broadcaster of event frames over coder/websocket, with no database in
// the path. It runs as its own process, like the server it is compared with, so that the sockets'
// reads and writes cross the same process boundary and its RSS is its own.
const broadcastEnv = "WAINBOX_BENCH_BROADCAST"

func init() {
	if addr := os.Getenv(broadcastEnv); addr != "" {
		if err := serveBroadcast(addr); err != nil {
			fmt.Fprintln(os.Stderr, "broadcast:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
}

// broadcaster is the bare fan-out: one writer per socket draining a bounded queue of shared,
// pre-encoded frames, one WebSocket write per frame, the simplest fan-out a server could do.
type broadcaster struct {
	mu    sync.Mutex
	socks map[chan []byte]struct{}
}

func serveBroadcast(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Println(l.Addr().String())
	// The parent closes stdin when it is done (or dies): the broadcaster ends with it.
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	b := &broadcaster{socks: map[chan []byte]struct{}{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/ws", b.serveWS)
	mux.HandleFunc("POST /broadcast", b.serveBroadcast)
	return http.Serve(l, mux)
}

// serveWS speaks just enough of the protocol for the benchmark's client: it reads the auth and
// resume messages and answers ready, then sends what is broadcast.
func (b *broadcaster) serveWS(w http.ResponseWriter, r *http.Request) {
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		return
	}
	defer conn.CloseNow()
	ctx := context.Background()
	for range 2 {
		if _, _, err := conn.Read(ctx); err != nil {
			return
		}
	}
	if err := conn.Write(ctx, websocket.MessageText, []byte(`{"type":"ready","id":0}`)); err != nil {
		return
	}
	q := make(chan []byte, 1024)
	b.mu.Lock()
	b.socks[q] = struct{}{}
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.socks, q)
		b.mu.Unlock()
	}()
	gone := make(chan struct{})
	go func() {
		defer close(gone)
		for {
			if _, _, err := conn.Read(ctx); err != nil {
				return
			}
		}
	}()
	for {
		select {
		case f := <-q:
			if f == nil { // overflowed
				return
			}
			if err := conn.Write(ctx, websocket.MessageText, f); err != nil {
				return
			}
		case <-gone:
			return
		}
	}
}

// serveBroadcast sends n messages at rate per second, each as per frames (message.created, then
// its sent, delivered and read statuses), the frames evenly paced, open loop; it answers the time
// each frame was handed to the sockets' queues, in unix nanoseconds, per message and status.
func (b *broadcaster) serveBroadcast(w http.ResponseWriter, r *http.Request) {
	rate, _ := strconv.ParseFloat(r.URL.Query().Get("rate"), 64)
	per, _ := strconv.Atoi(r.URL.Query().Get("per"))
	n, _ := strconv.Atoi(r.URL.Query().Get("n"))
	if rate <= 0 || per < 1 || per > 4 || n < 1 {
		http.Error(w, "rate, per (1-4) and n are required", http.StatusBadRequest)
		return
	}
	times := make([][4]int64, n)
	interval := time.Duration(float64(time.Second) / (rate * float64(per)))
	start := time.Now()
	for k := range n * per {
		if wait := time.Until(start.Add(time.Duration(k) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		m, lvl := k/per, k%per
		f := broadcastFrame(int64(k+1), int64(m+1), lvl)
		times[m][lvl] = time.Now().UnixNano()
		b.mu.Lock()
		for q := range b.socks {
			select {
			case q <- f:
			default:
				// A slow consumer is cut, as the server does: its writer ends at the nil.
				select {
				case <-q:
				default:
				}
				q <- nil
				delete(b.socks, q)
			}
		}
		b.mu.Unlock()
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(times)
}

var levelStatus = [4]string{"pending", "sent", "delivered", "read"}

// broadcastFrame is an event message of the size and shape the server sends for a message.
func broadcastFrame(id, messageID int64, lvl int) []byte {
	kind := "message.created"
	if lvl > 0 {
		kind = "message.status"
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	return fmt.Appendf(nil, `{"type":"event","id":%d,"kind":%q,"conversation_id":1,"data":{"created_at":%q,"direction":"outbound","message_id":%d,"preview":"fan-out benchmark","reply_to_message_id":null,"sender":"agent","status":%q,"type":"text"},"created_at":%q}`,
		id, kind, now, messageID, levelStatus[lvl], now)
}

// broadcastProcess is the ceiling's process, started from the benchmark's own binary.
type broadcastProcess struct {
	cmd   *exec.Cmd
	url   string
	stdin io.WriteCloser
}

func startBroadcaster() (*broadcastProcess, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), broadcastEnv+"=127.0.0.1:0")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("error starting the broadcaster: %w", err)
	}
	return &broadcastProcess{cmd: cmd, url: "http://" + addr[:len(addr)-1], stdin: stdin}, nil
}

func (p *broadcastProcess) stop() {
	_ = p.stdin.Close()
	_ = p.cmd.Wait()
}

// broadcast asks for n messages at rate and returns when each of their frames was sent.
func (p *broadcastProcess) broadcast(rate float64, per, n int) ([][4]int64, error) {
	resp, err := http.Post(fmt.Sprintf("%s/broadcast?rate=%g&per=%d&n=%d", p.url, rate, per, n), "", nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var times [][4]int64
	if err := json.NewDecoder(resp.Body).Decode(&times); err != nil {
		return nil, fmt.Errorf("broadcast answered %d: %w", resp.StatusCode, err)
	}
	return times, nil
}
