package panel_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/apptest"
)

// The browser tests drive Debian's Chromium through the DevTools protocol (chromedp). One
// Chromium process serves the whole package; each page gets a browser context of its own
// (separate storage, as two people on two computers), so tests run in parallel without sharing
// sessions.

const chromiumPath = "/usr/bin/chromium"

// eventually bounds the waits for what events bring. Generous: events wait for every older
// transaction of the PostgreSQL cluster (docs/realtime.md), and the tests share the machine's
// cluster with other suites. Bounds on how fast the panel is are asserted separately.
const eventually = 20 * time.Second

// browser is the shared Chromium, set up by TestMain.
var browser context.Context

func TestMain(m *testing.M) {
	os.Exit(runWithBrowser(m))
}

func runWithBrowser(m *testing.M) int {
	if err := ensureChromium(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "wainbox-chromium-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.UserDataDir(dir),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true), // the tests run as root
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		// Without these Chromium reaches for Google's services, which this closed network refuses.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.WindowSize(1280, 800),
	)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		fmt.Fprintf(os.Stderr, "starting Chromium: %v\n", err)
		return 1
	}
	browser = ctx
	return m.Run()
}

// ensureChromium installs Debian's chromium with apt-get when it is missing and the tests run as
// root, as the test setup does for PostgreSQL.
func ensureChromium() error {
	if _, err := os.Stat(chromiumPath); err == nil {
		return nil
	}
	if os.Geteuid() != 0 {
		return errors.New("chromium not found at " + chromiumPath + ": install Debian's chromium package to run the panel's browser tests")
	}
	for _, args := range [][]string{{"update"}, {"install", "-y", "--no-install-recommends", "chromium"}} {
		fmt.Fprintf(os.Stderr, "panel tests: Chromium not found; running apt-get %s\n", strings.Join(args, " "))
		cmd := exec.Command("/usr/bin/apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("apt-get %s: %w", args[0], err)
		}
	}
	return nil
}

// page is one browser tab in a browser context of its own.
type page struct {
	t   *testing.T
	ctx context.Context

	mu sync.Mutex
	// frames are the WebSocket frames the page received, with when the test saw them.
	frames []frame
}

type frame struct {
	at      time.Time
	payload string
}

// frameAt is when the page first received a WebSocket frame containing s.
func (p *page) frameAt(s string) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range p.frames {
		if strings.Contains(f.payload, s) {
			return f.at, true
		}
	}
	return time.Time{}, false
}

// newPage opens a tab with its own cookies and storage, closed when the test ends. The page's
// console messages and uncaught exceptions go to the test log.
func newPage(t *testing.T) *page {
	t.Helper()
	p := &page{t: t}
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext(), chromedp.WithListener(func(ev any) {
		switch ev := ev.(type) {
		case *network.EventWebSocketFrameReceived:
			p.mu.Lock()
			p.frames = append(p.frames, frame{at: time.Now(), payload: string(ev.Response.PayloadData)})
			p.mu.Unlock()
		case *runtime.EventConsoleAPICalled:
			var parts []string
			for _, a := range ev.Args {
				parts = append(parts, string(a.Value)+a.Description)
			}
			t.Logf("console.%s: %s", ev.Type, strings.Join(parts, " "))
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			desc := d.Text
			if d.Exception != nil {
				desc += " " + d.Exception.Description
			}
			t.Logf("exception: %s (%s:%d)", desc, d.URL, d.LineNumber)
		}
	}))
	t.Cleanup(cancel)
	require.NoError(t, chromedp.Do(ctx)) // chromedp enables the network domain: frames are reported
	p.ctx = ctx
	return p
}

// run runs actions with a deadline.
func (p *page) run(timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(p.ctx, timeout)
	defer cancel()
	return chromedp.Do(ctx, actions...)
}

func (p *page) must(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	require.NoError(p.t, p.run(eventually, actions...))
}

// waitJS polls a JavaScript expression until it is true, failing the test after timeout.
func (p *page) waitJS(timeout time.Duration, expr string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, timeout)
	defer cancel()
	ok, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(20*time.Millisecond)))
	if err != nil {
		text, _ := chromedp.Run(p.ctx, chromedp.Evaluate[string](`document.body.innerText`))
		p.t.Logf("page text:\n%s", text)
	}
	require.NoError(p.t, err, "waiting for %s", expr)
	require.True(p.t, ok)
}

// click clicks the first element matching the CSS selector once it exists. It clicks from
// JavaScript, in the page's own turn: the panel redraws headers and messages as events arrive,
// and a node found by one DevTools call can be gone by the next.
func (p *page) click(selector string) {
	p.t.Helper()
	p.waitJS(eventually, fmt.Sprintf(`(() => { const e = document.querySelector(%s); if (e && !e.disabled) e.click(); return !!e && !e.disabled; })()`, js(selector)))
}

// eval evaluates expr and returns its value.
func eval[T any](p *page, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, eventually)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	require.NoError(p.t, err, "evaluating %s", expr)
	return v
}

// do evaluates expr for its effect.
func (p *page) do(expr string) {
	p.t.Helper()
	eval[any](p, expr)
}

// login opens the panel at base and signs in as email, then waits for the live connection.
func (p *page) login(base, email string) {
	p.t.Helper()
	p.must(
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#login-email`)),
		chromedp.SendKeys(chromedp.CSS(`#login-email`), email),
		chromedp.SendKeys(chromedp.CSS(`#login-password`), apptest.UserPassword),
		chromedp.Click(chromedp.CSS(`form.login button[type=submit]`)),
	)
	p.waitJS(eventually, `document.querySelector('.conn')?.dataset.state === 'live'`)
}

func contextWithTimeout(p *page) (context.Context, context.CancelFunc) {
	return context.WithTimeout(p.ctx, eventually)
}

func itoa(n int) string { return fmt.Sprint(n) }

// js quotes s as a JavaScript string literal.
func js(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
