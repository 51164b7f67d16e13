package businesshours_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/businesshours"
)

func TestParseRefusesWhatItCannotRead(t *testing.T) {
	for spec, zone := range map[string]string{
		"":                            "",
		"mon-fri":                     "",
		"monday 09:00-18:00":          "",
		"mon-fri 9:00-18:00":          "",
		"mon-fri 18:00-09:00":         "",
		"mon-fri 09:00-25:00":         "",
		"mon 09:00-12:00 11:00-13:00": "",
		"mon-fri 09:00-18:00 ":        "Mars/Olympus",
	} {
		_, err := businesshours.Parse(spec, zone)
		require.Error(t, err, "%q in %q", spec, zone)
	}
}

// A customer who writes on Friday evening and is answered on Monday morning waited one working
// hour, not a weekend; the windows follow the local clock across a change to summer time.
func TestBetweenCountsOnlyWorkingHours(t *testing.T) {
	h, err := businesshours.Parse("mon-fri 09:00-13:00 14:00-18:00; sat 10:00-12:00", "America/New_York")
	require.NoError(t, err)
	ny, _ := time.LoadLocation("America/New_York")
	at := func(month time.Month, day, hour, minute int) time.Time {
		return time.Date(2026, month, day, hour, minute, 0, 0, ny)
	}
	// Friday 6 March 17:30 to Monday 9 March 09:30: half an hour on Friday, Saturday's two hours,
	// half an hour on Monday. Summer time begins on Sunday 8 March.
	require.Equal(t, 3*time.Hour, h.Between(at(3, 6, 17, 30), at(3, 9, 9, 30)))
	require.Equal(t, time.Duration(0), h.Between(at(3, 8, 0, 0), at(3, 8, 23, 0)), "Sunday is closed")
	require.Equal(t, 5*time.Hour, h.Between(at(3, 10, 11, 0), at(3, 10, 17, 0)), "lunch is not working time")
	require.Equal(t, time.Duration(0), h.Between(at(3, 10, 17, 0), at(3, 10, 11, 0)))
	require.Equal(t, 10*time.Minute, h.Between(at(3, 10, 9, 0).UTC(), at(3, 10, 9, 10).UTC()), "instants in any zone")
	require.Equal(t, "mon-fri 09:00-13:00 14:00-18:00; sat 10:00-12:00", h.String())
	all, err := businesshours.Parse("sun-sat 00:00-24:00", "")
	require.NoError(t, err)
	require.Equal(t, 51*time.Hour, all.Between(at(3, 6, 0, 0), at(3, 8, 4, 0)), "a day of 23 hours")
}
