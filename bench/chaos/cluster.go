package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wainbox/wainbox/internal/devdb"
)

// cluster is the suite's own PostgreSQL: never the machine's server, because the suite restarts
// and freezes it.
type cluster struct {
	cfg devdb.Config
	url string // server URL, database postgres
}

// startCluster initializes and starts a cluster in dir on a free port.
func startCluster(ctx context.Context, dir string) (*cluster, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	c := &cluster{cfg: devdb.Config{Dir: dir, Port: port}}
	logf("starting PostgreSQL in %s on port %d", dir, port)
	c.url, err = devdb.StartCluster(ctx, &c.cfg)
	return c, err
}

// restart is `pg_ctl restart -m fast`: every connection is cut, as in a crash or a failover.
func (c *cluster) restart(ctx context.Context) error {
	return devdb.RestartCluster(ctx, &c.cfg)
}

// freeze stops every process of the cluster with SIGSTOP for d and then continues them. A frozen
// server still accepts TCP connections (the kernel does) but answers nothing, like a server
// stalled on its disk or a network partition that drops packets rather than refusing them: every
// query in flight and every new connection hangs. The processes are continued even when ctx ends
// early, so that the cluster can always be stopped.
func (c *cluster) freeze(ctx context.Context, d time.Duration) (int, error) {
	postmaster, err := devdb.PostmasterPID(&c.cfg)
	if err != nil {
		return 0, err
	}
	// The postmaster is stopped first so that it forks no new backend while its children are
	// listed and stopped.
	if err := syscall.Kill(postmaster, syscall.SIGSTOP); err != nil {
		return 0, fmt.Errorf("error stopping the postmaster %d: %w", postmaster, err)
	}
	pids := []int{postmaster}
	defer func() {
		for i := len(pids) - 1; i >= 0; i-- {
			_ = syscall.Kill(pids[i], syscall.SIGCONT)
		}
	}()
	children, err := childrenOf(postmaster)
	if err != nil {
		return 0, err
	}
	for _, pid := range children {
		if err := syscall.Kill(pid, syscall.SIGSTOP); err == nil {
			pids = append(pids, pid)
		}
	}
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
	return len(pids), nil
}

// stop shuts the cluster down and, unless keep, removes its data directory.
func (c *cluster) stop(keep bool) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := devdb.Stop(ctx, &c.cfg); err != nil {
		logf("error stopping PostgreSQL: %v", err)
		return
	}
	if keep {
		logf("PostgreSQL stopped; its data directory %s is kept (start it with pg_ctl -D, as its owner)", c.cfg.Dir)
		return
	}
	// The server log is worth keeping next to the instances' logs; the data directory is not.
	_ = os.Rename(filepath.Join(c.cfg.Dir, "server.log"), filepath.Join(filepath.Dir(c.cfg.Dir), "postgresql.log"))
	if err := os.RemoveAll(c.cfg.Dir); err != nil {
		logf("error removing %s: %v", c.cfg.Dir, err)
	}
	_ = os.Remove(c.cfg.Dir + ".lock")
}

// childrenOf lists the processes whose parent is pid, from /proc.
func childrenOf(pid int) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("error listing processes: %w", err)
	}
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // exited meanwhile
		}
		// The command name in parentheses may hold spaces; the fields after its last ')' are
		// state and parent pid.
		s := string(stat)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) >= 2 && fields[1] == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	return out, nil
}

// freePort asks the kernel for a port that is free now. Another process could take it before
// it is used, which on a test machine is rare enough.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("error finding a free port: %w", err)
	}
	defer l.Close()
	addr, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		return 0, errors.New("error finding a free port: not a TCP address")
	}
	return addr.Port, nil
}
