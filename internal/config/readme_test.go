package config

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readmeRow is one row of README.md's configuration table.
type readmeRow struct{ name, def string }

// readmeTable reads the rows of the table under README.md's "## Configuration" heading:
// | `NAME` | default | meaning |
func readmeTable(t *testing.T) []readmeRow {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	_, section, found := strings.Cut(string(b), "\n## Configuration\n")
	require.True(t, found, "README.md has a Configuration section")
	section, _, _ = strings.Cut(section, "\n## ")
	var rows []readmeRow
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(line, "|")
		require.GreaterOrEqual(t, len(cells), 5, "a row of name, default and meaning: %s", line)
		rows = append(rows, readmeRow{
			name: strings.Trim(strings.TrimSpace(cells[1]), "`"),
			def:  strings.TrimSpace(cells[2]),
		})
	}
	require.NotEmpty(t, rows, "README.md's configuration table has rows")
	return rows
}

// README.md's configuration table is for a new user: it lists every variable of Vars, in the same
// order as `wainbox serve --help`, with the same default, and nothing Vars lacks.
func TestREADMEListsEveryVariable(t *testing.T) {
	t.Parallel()
	rows := readmeTable(t)
	inREADME := map[string]string{}
	var order []string
	for _, r := range rows {
		_, dup := inREADME[r.name]
		require.False(t, dup, "README.md lists %s twice", r.name)
		inREADME[r.name] = r.def
		order = append(order, r.name)
	}
	var names []string
	for i := range Vars {
		v := &Vars[i]
		names = append(names, v.Name)
		def, ok := inREADME[v.Name]
		if !ok {
			t.Errorf("%s is missing from README.md's configuration table", v.Name)
			continue
		}
		assert.Equal(t, v.ShownDefault(), def, "README.md's default of %s", v.Name)
	}
	inVars := map[string]bool{}
	for _, name := range names {
		inVars[name] = true
	}
	for _, name := range order {
		assert.True(t, inVars[name], "README.md lists %s, which wainbox does not read", name)
	}
	require.Equal(t, names, order, "README.md lists the variables in the order of --help")
}

// A default shown in words still names the literal default the variable takes, unless it is too
// long to show (the hand-off notice).
func TestShownDefaultsNameTheDefault(t *testing.T) {
	t.Parallel()
	for i := range Vars {
		v := &Vars[i]
		require.NotEmpty(t, v.Help, v.Name)
		require.NotNil(t, v.set, v.Name)
		if v.Shown == "" || v.Default == "" || strings.Contains(v.Default, "\n") {
			continue
		}
		require.Contains(t, v.Shown, "`"+v.Default+"`", "%s shows its default", v.Name)
	}
}
