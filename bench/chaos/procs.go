package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// authSecret is shared by every instance, so that a token issued by one is valid on the others.
const authSecret = "chaos-auth-secret-chaos-auth-secret-0123456789"

// readyTimeout bounds how long a new instance or the simulator may take to answer.
const readyTimeout = 60 * time.Second

// buildBinary builds wainbox into the run directory. The suite runs the binary itself rather than
// `go run`, so that a kill -9 reaches the server and not a go command in front of it.
func buildBinary(ctx context.Context, runDir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("error finding the module root (run from inside the repository): %v", err)
	}
	bin := filepath.Join(runDir, "wainbox")
	logf("building %s", bin)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/wainbox")
	cmd.Dir = filepath.Dir(gomod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("error building wainbox: %w: %s", err, bytes.TrimSpace(out))
	}
	return bin, nil
}

// prepareDatabase applies the migrations and creates the admin the agents' requests log in as.
func prepareDatabase(ctx context.Context, bin, runDir, dbURL string, o *options) error {
	env := append(os.Environ(), "DATABASE_URL="+dbURL)
	for _, args := range [][]string{
		{"migrate"},
		{"user", "create", "--email", o.adminEmail, "--name", "Chaos", "--role", "admin", "--password", o.adminPassword},
	} {
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = env
		cmd.Dir = runDir
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("error running wainbox %s: %w: %s", args[0], err, bytes.TrimSpace(out))
		}
	}
	logf("database migrated, admin %s created", o.adminEmail)
	return nil
}

// proc is one child process: the simulator or a wainbox instance.
type proc struct {
	name string
	cmd  *exec.Cmd
	addr string // host:port it serves on
	log  string
	done chan struct{} // closed when it has exited
	err  error         // its exit status, once done

	mu       sync.Mutex
	expected bool // killed or stopped by the suite, so its exit is not news
}

// startProc starts bin with args and env, its output to logPath. Each child gets its own process
// group, so that a Ctrl-C reaches only the suite, which then stops the children in order, and a
// parent-death signal, so that no child outlives a suite that is itself killed.
func startProc(name, bin string, args, env []string, addr, logPath string) (*proc, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("error starting %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, addr: addr, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// riverClientID reads, from the instance's log, the id its River client records in river_job's
// attempted_by, so that the jobs a killed instance left running can be told from the others'.
// It returns "" when the log does not say.
func (p *proc) riverClientID() string {
	f, err := os.Open(p.log)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.Contains(line, []byte(`"River client started"`)) {
			continue
		}
		var entry struct {
			ClientID string `json:"client_id"`
		}
		if json.Unmarshal(line, &entry) == nil && entry.ClientID != "" {
			return entry.ClientID
		}
	}
	return ""
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *proc) expect() {
	p.mu.Lock()
	p.expected = true
	p.mu.Unlock()
}

func (p *proc) wasExpected() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.expected
}

// kill9 is the crash: SIGKILL, no shutdown, no chance to finish anything.
func (p *proc) kill9() error {
	p.expect()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	<-p.done
	return nil
}

// terminate asks the process to shut down gracefully and kills it after timeout.
func (p *proc) terminate(timeout time.Duration) {
	p.expect()
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(timeout):
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
	}
}

// waitReady polls url until it answers 200, the process exits, or readyTimeout passes.
func (p *proc) waitReady(parent context.Context, url string) error {
	ctx, cancel := context.WithTimeout(parent, readyTimeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before it was ready (%v); see %s", p.name, p.err, p.log)
		case <-ctx.Done():
			if parent.Err() != nil {
				return fmt.Errorf("%s: %w", p.name, parent.Err())
			}
			return fmt.Errorf("%s was not ready at %s within %s; see %s", p.name, url, readyTimeout, p.log)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// fleet is the suite's children: the fake Meta and the wainbox instances.
type fleet struct {
	bin, runDir, dbURL string
	lb                 *balancer
	sim                *proc

	mu        sync.Mutex
	instances []*proc // live ones, in start order
	all       []*proc
	started   int
}

func (f *fleet) simURL() string { return "http://" + f.sim.addr }

// startSimulator runs the fake Meta as its own process, so that it survives the instances' kills
// and keeps one record of every send whichever instance made it. Its webhooks go through the load
// balancer, like Meta's to a real deployment.
func (f *fleet) startSimulator(ctx context.Context) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	logPath := filepath.Join(f.runDir, "simulator.log")
	p, err := startProc("simulator", f.bin,
		[]string{"simulate", "--addr", addr, "--webhook-url", f.lb.url() + "/webhooks/whatsapp"},
		os.Environ(), addr, logPath)
	if err != nil {
		return err
	}
	f.sim = p
	f.mu.Lock()
	f.all = append(f.all, p)
	f.mu.Unlock()
	if err := p.waitReady(ctx, f.simURL()+"/simulator/faults"); err != nil {
		return err
	}
	logf("simulator (fake Meta) pid %d on %s, log %s", p.pid(), addr, logPath)
	return nil
}

// startInstances starts n instances together, as a deployment does.
func (f *fleet) startInstances(ctx context.Context, n int) error {
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := f.startInstance(ctx)
			errs <- err
		}()
	}
	var first error
	for range n {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// startInstance starts one fresh wainbox instance on a new port, waits until it is ready and
// puts it behind the load balancer.
func (f *fleet) startInstance(ctx context.Context) (*proc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.started++
	name := "i" + strconv.Itoa(f.started)
	f.mu.Unlock()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	env := append(os.Environ(),
		"DATABASE_URL="+f.dbURL,
		"HTTP_ADDR="+addr,
		"PUBLIC_BASE_URL="+f.lb.url(),
		"WHATSAPP_API_BASE_URL="+f.simURL()+"/simulator/graph",
		"WHATSAPP_ACCESS_TOKEN=simulator-access-token",
		"WHATSAPP_PHONE_NUMBER_ID=106540352242922",
		"WHATSAPP_APP_SECRET=simulator-app-secret",
		"WHATSAPP_VERIFY_TOKEN=simulator-verify-token",
		"AUTH_SECRET="+authSecret,
		// No bot: every outbound message is one the suite wrote, so every send at Meta is counted.
		"BOT_ENABLED=0",
		"LOG_FORMAT=json",
		// The run outlasts the default 15 minutes when the system is slow; a token that expired
		// mid-run would only add 401s to the noise.
		"ACCESS_TOKEN_TTL=4h",
		"SHUTDOWN_TIMEOUT=10s",
		// A customer's file fetched by a killed instance is rescued once the transfer's timeout
		// has passed: the files here are small, so a short one keeps that within the settling.
		"MEDIA_TRANSFER_TIMEOUT=30s",
		"MEDIA_RETRY_BASE=200ms",
	)
	logPath := filepath.Join(f.runDir, "instance-"+name+".log")
	p, err := startProc(name, f.bin, []string{"serve"}, env, addr, logPath)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.all = append(f.all, p)
	f.mu.Unlock()
	if err := p.waitReady(ctx, "http://"+addr+"/readyz"); err != nil {
		p.terminate(5 * time.Second)
		return nil, err
	}
	f.mu.Lock()
	f.instances = append(f.instances, p)
	f.mu.Unlock()
	f.lb.add(addr)
	logf("instance %s pid %d on %s, log %s", name, p.pid(), addr, logPath)
	return p, nil
}

// killRandom kills -9 one live instance chosen at random and returns it with the moment of the
// kill. The load balancer is not told: it finds out as a real one does, from refused connections.
func (f *fleet) killRandom(rng *rand.Rand) (*proc, time.Time, error) {
	f.mu.Lock()
	var live []*proc
	for _, p := range f.instances {
		if !p.exited() {
			live = append(live, p)
		}
	}
	if len(live) == 0 {
		f.mu.Unlock()
		return nil, time.Time{}, fmt.Errorf("no live instance to kill")
	}
	victim := live[rng.IntN(len(live))]
	f.mu.Unlock()
	at := time.Now()
	if err := victim.kill9(); err != nil {
		return nil, at, fmt.Errorf("error killing %s: %w", victim.name, err)
	}
	return victim, at, nil
}

// retire takes a dead instance out of the fleet and the load balancer, as a health check would
// once its replacement is up.
func (f *fleet) retire(p *proc) {
	f.mu.Lock()
	for i, q := range f.instances {
		if q == p {
			f.instances = append(f.instances[:i], f.instances[i+1:]...)
			break
		}
	}
	f.mu.Unlock()
	f.lb.remove(p.addr)
}

// unexpectedExits lists the children that exited without the suite asking: a crash of the
// server or the simulator, which the report shows.
func (f *fleet) unexpectedExits() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, p := range f.all {
		if p.exited() && !p.wasExpected() {
			out = append(out, fmt.Sprintf("%s (pid %d) exited by itself: %v; see %s", p.name, p.pid(), p.err, p.log))
		}
	}
	return out
}

// stopAll shuts every child down: instances first (they still talk to the simulator), then the
// simulator.
func (f *fleet) stopAll() {
	f.mu.Lock()
	all := append([]*proc(nil), f.all...)
	f.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range all {
		if p != f.sim {
			wg.Go(func() { p.terminate(15 * time.Second) })
		}
	}
	wg.Wait()
	if f.sim != nil {
		f.sim.terminate(5 * time.Second)
	}
}
