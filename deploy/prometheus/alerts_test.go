// Package prometheus_test holds the alerting rules shipped with wainbox to two checks: Prometheus's
// own rule checker accepts them, and every series they read is one the server exports.
package prometheus_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/apptest"
)

// The rules are checked by promtool, Prometheus's own checker, rather than by importing
// Prometheus's rule parser: that module is one of the largest in Go, and a test-only import of it
// would still be resolved, downloaded and vetted by everyone who builds wainbox. promtool is found
// on PATH, or extracted from Debian's prometheus package (as the development database installs
// PostgreSQL) without installing the package, which would start a Prometheus server.
func TestAlertRulesAreValid(t *testing.T) {
	t.Parallel()
	promtool := findPromtool(t)
	out, err := exec.Command(promtool, "check", "rules", "alerts.yml").CombinedOutput()
	require.NoError(t, err, "promtool check rules:\n%s", out)
	require.Contains(t, string(out), "SUCCESS")
}

// Every wainbox_ series an expression reads is exported by a freshly started instance: a rule
// over a renamed or missing metric would never fire, silently.
func TestAlertRulesReadExportedMetrics(t *testing.T) {
	t.Parallel()
	rules, err := os.ReadFile("alerts.yml")
	require.NoError(t, err)
	used := map[string]bool{}
	for _, line := range strings.Split(string(rules), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") || strings.Contains(line, "description:") || strings.Contains(line, "summary:") {
			continue
		}
		for _, m := range regexp.MustCompile(`wainbox_[a-z0-9_]+`).FindAllString(line, -1) {
			used[m] = true
		}
	}
	require.NotEmpty(t, used)

	const token = "alerts-test-scrape-token"
	in := apptest.Start(t, &apptest.Options{Env: map[string]string{"METRICS_TOKEN": token}})
	resp := in.Request("GET", "/metrics", token, nil)
	require.Equal(t, 200, resp.Status)
	exported := map[string]bool{}
	for _, line := range strings.Split(string(resp.Body), "\n") {
		if name, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, kind, _ := strings.Cut(name, " ")
			exported[name] = true
			if kind == "histogram" {
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					exported[name+suffix] = true
				}
			}
		}
	}
	var missing []string
	for m := range used {
		if !exported[m] {
			missing = append(missing, m)
		}
	}
	slices.Sort(missing)
	require.Empty(t, missing, "alert rules read series the server does not export")
}

// findPromtool returns a promtool: on PATH, cached from an earlier run, or extracted from Debian's
// package with apt-get download (as root, like the development database's PostgreSQL).
func findPromtool(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("promtool"); err == nil {
		return p
	}
	cache, err := os.UserCacheDir()
	require.NoError(t, err)
	dir := filepath.Join(cache, "wainbox", "promtool")
	cached := filepath.Join(dir, "usr", "bin", "promtool")
	if _, err := os.Stat(cached); err == nil {
		return cached
	}
	if _, err := exec.LookPath("apt-get"); err != nil || os.Geteuid() != 0 {
		require.FailNow(t, "promtool is needed to check the alert rules",
			"install Prometheus's promtool on PATH (Debian: apt-get install prometheus); as root on Debian this test fetches it itself")
	}
	tmp := t.TempDir()
	run := func(name string, args ...string) {
		cmd := exec.Command(name, args...)
		cmd.Dir = tmp
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s %s:\n%s", name, strings.Join(args, " "), out)
	}
	run("apt-get", "download", "prometheus")
	debs, err := filepath.Glob(filepath.Join(tmp, "prometheus_*.deb"))
	require.NoError(t, err)
	require.Len(t, debs, 1)
	// Extracted beside the cache and renamed into place, so that tests running at once never see
	// half a binary.
	staging := fmt.Sprintf("%s.%d", dir, os.Getpid())
	require.NoError(t, os.MkdirAll(filepath.Dir(dir), 0o755))
	run("dpkg-deb", "-x", debs[0], staging)
	if err := os.Rename(staging, dir); err != nil {
		_ = os.RemoveAll(staging) // another test put it there first
	}
	return cached
}
