package app_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/apptest"
	"github.com/wainbox/wainbox/internal/webhook"
	"github.com/wainbox/wainbox/internal/whatsapp"
)

// memory is the process's memory at one moment: the Go heap after a collection, and the resident
// set as the kernel counts it.
type memory struct {
	heapInuse, heapSys, rss uint64
}

func measure(t *testing.T) memory {
	t.Helper()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m := memory{heapInuse: ms.HeapInuse, heapSys: ms.HeapSys}
	status, err := os.ReadFile("/proc/self/status")
	if err == nil {
		for line := range strings.SplitSeq(string(status), "\n") {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				var kb uint64
				_, _ = fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb)
				m.rss = kb << 10
			}
		}
	}
	return m
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

// headerOnlyResult is what one connection that sent only its headers got back.
type headerOnlyResult struct {
	status int
	closed bool          // the server closed the connection (the client did not give up first)
	after  time.Duration // from the headers sent to the connection closed
	err    error
}

// sendHeadersOnly opens a connection to addr, sends the headers of a request announcing a body of
// contentLength bytes and none of the body, then reads the answer and waits for the server to
// close the connection, giving up at giveUp.
func sendHeadersOnly(addr, method, path string, contentLength int, extra string, giveUp time.Duration, out chan<- headerOnlyResult) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		out <- headerOnlyResult{err: err}
		return
	}
	defer conn.Close()
	start := time.Now()
	_ = conn.SetDeadline(start.Add(giveUp))
	if _, err := fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n",
		method, path, addr, contentLength, extra); err != nil {
		out <- headerOnlyResult{err: err}
		return
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		out <- headerOnlyResult{err: err, after: time.Since(start)}
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	// The server must close the connection: nothing more is read from it.
	_, err = br.ReadByte()
	r := headerOnlyResult{status: resp.StatusCode, closed: err == io.EOF, after: time.Since(start)}
	if err != io.EOF {
		r.err = err
	}
	out <- r
}

func hostPort(t *testing.T, in *apptest.Instance) string {
	t.Helper()
	u, err := url.Parse(in.URL)
	require.NoError(t, err)
	return net.JoinHostPort("127.0.0.1", u.Port())
}

// A hundred connections that send only the headers of a webhook POST announcing 3 MiB, and never
// the body, hold neither memory nor connections: no buffer is sized from Content-Length, only
// HTTP_MAX_PUBLIC_BODIES of them are read at once (the rest are answered 503 and closed at once),
// and those are answered 408 and closed at the body deadline.
//
// Not parallel: it measures the heap of the whole test process, which other tests would disturb.
func TestHeaderOnlyBodiesAreCutOffAndCostNoMemory(t *testing.T) {
	const (
		conns    = 100
		capacity = 64
		deadline = 2 * time.Second
		// slack is the time past the deadline a connection may take to be answered and closed.
		slack = 2 * time.Second
	)
	in := apptest.Start(t, &apptest.Options{Env: map[string]string{
		"HTTP_BODY_TIMEOUT": deadline.String(), "HTTP_MAX_PUBLIC_BODIES": fmt.Sprint(capacity),
	}})
	addr := hostPort(t, in)
	in.Do("GET", "/readyz", "", nil, http.StatusOK, nil)
	before := measure(t)

	results := make(chan headerOnlyResult, conns)
	signature := whatsapp.SignatureHeader + ": sha256=" + strings.Repeat("0", 64) + "\r\n"
	for range conns {
		go sendHeadersOnly(addr, "POST", "/webhooks/whatsapp", webhook.MaxBodyBytes, signature, deadline+slack+5*time.Second, results)
	}
	// The connections past the cap are answered at once: when all of them have been, the cap's
	// worth of bodies are being waited for.
	var got []headerOnlyResult
	refused := 0
	signal := time.After(deadline)
collect:
	for refused < conns-capacity {
		select {
		case r := <-results:
			got = append(got, r)
			if r.status == http.StatusServiceUnavailable {
				refused++
			}
		case <-signal:
			break collect
		}
	}
	during := measure(t)
	t.Logf("memory before: heap in use %.1f MiB, heap sys %.1f MiB, RSS %.1f MiB", mib(before.heapInuse), mib(before.heapSys), mib(before.rss))
	t.Logf("memory with %d header-only bodies of 3 MiB: heap in use %.1f MiB, heap sys %.1f MiB, RSS %.1f MiB",
		conns, mib(during.heapInuse), mib(during.heapSys), mib(during.rss))
	growth := int64(during.heapInuse) - int64(before.heapInuse)
	require.Less(t, growth, int64(50<<20), "the heap grew by %.1f MiB", float64(growth)/(1<<20))
	require.Equal(t, conns-capacity, refused, "connections past HTTP_MAX_PUBLIC_BODIES are refused at once")

	for len(got) < conns {
		got = append(got, <-results)
	}
	statuses := map[int]int{}
	for _, r := range got {
		require.NoError(t, r.err, "after %s", r.after)
		require.True(t, r.closed, "the server closed the connection")
		require.Less(t, r.after, deadline+slack, "closed within the body deadline")
		statuses[r.status]++
	}
	require.Equal(t, map[int]int{http.StatusServiceUnavailable: conns - capacity, http.StatusRequestTimeout: capacity}, statuses)

	// The instance serves as before.
	in.Do("GET", "/readyz", "", nil, http.StatusOK, nil)
}

// Every route class cuts off a body that does not arrive: login and refresh (capped as public),
// an agent's send, and a body that starts and then stalls.
func TestSlowBodiesAreCutOffOnEveryRoute(t *testing.T) {
	t.Parallel()
	const (
		deadline = time.Second
		slack    = 2 * time.Second
	)
	in := apptest.Start(t, &apptest.Options{Env: map[string]string{"HTTP_BODY_TIMEOUT": deadline.String()}})
	addr := hostPort(t, in)
	auth := "Authorization: Bearer " + in.AdminToken() + "\r\n"
	for _, tc := range []struct{ name, method, path, extra string }{
		{"login", "POST", "/api/auth/login", ""},
		{"refresh", "POST", "/api/auth/refresh", ""},
		{"send", "POST", "/api/conversations/1/messages", auth},
		{"new user", "POST", "/api/users", auth},
		{"webhook", "POST", "/webhooks/whatsapp", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out := make(chan headerOnlyResult, 1)
			sendHeadersOnly(addr, tc.method, tc.path, 1000, tc.extra, deadline+slack+5*time.Second, out)
			r := <-out
			require.NoError(t, r.err)
			require.Equal(t, http.StatusRequestTimeout, r.status)
			require.True(t, r.closed)
			require.Less(t, r.after, deadline+slack)
		})
	}
	t.Run("a body that stalls", func(t *testing.T) {
		t.Parallel()
		pr, pw := io.Pipe()
		t.Cleanup(func() { pw.Close() })
		go func() { _, _ = pw.Write([]byte(`{"email":"admin@example.com",`)) }()
		req, err := http.NewRequest("POST", in.URL+"/api/auth/login", pr)
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		start := time.Now()
		resp, err := in.Client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		require.Equal(t, http.StatusRequestTimeout, resp.StatusCode, "%s", b)
		require.Contains(t, string(b), `"request_timeout"`)
		require.Less(t, time.Since(start), deadline+slack)
	})
}

// Meta's largest webhook, a signed body of exactly 3 MiB, is still accepted.
func TestWebhookAcceptsASignedBodyOf3MiB(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	head, tail := `{"object":"whatsapp_business_account","entry":[],"pad":"`, `"}`
	body := []byte(head + strings.Repeat("x", webhook.MaxBodyBytes-len(head)-len(tail)) + tail)
	require.Len(t, body, 3<<20)
	req, err := http.NewRequest("POST", in.URL+"/webhooks/whatsapp", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(whatsapp.SignatureHeader, whatsapp.Sign([]byte(in.Config.WhatsApp.AppSecret), body))
	resp, err := in.Client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", answer)
	var stored int
	require.NoError(t, in.Pool().QueryRow(t.Context(), "SELECT octet_length(body) FROM webhook_events").Scan(&stored))
	require.Equal(t, len(body), stored)
}
