// Package businesshours is a team's weekly opening hours in its time zone, and the time between
// two instants that falls inside them: reports measure first response and resolution times in
// business hours when asked, because a customer who writes on Friday night and is answered on
// Monday morning waited for a team that was closed, not for a slow one.
package businesshours

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Hours is a weekly schedule: for each weekday the windows (minutes from local midnight) the team
// works, in Location. The zero value has no hours.
type Hours struct {
	Location *time.Location
	Week     [7][]Window // indexed by time.Weekday
	spec     string
}

// Window is one stretch of a day, [Start, End) in minutes from local midnight.
type Window struct{ Start, End int }

var days = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// Parse reads a schedule such as "mon-fri 09:00-18:00; sat 10:00-14:00" (several windows a day:
// "mon-fri 09:00-13:00 14:00-18:00"; "24:00" ends a day) in the time zone named zone (IANA, such
// as America/Bogota; "" is UTC). Days not named are closed.
func Parse(spec, zone string) (*Hours, error) {
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q", zone)
	}
	h := &Hours{Location: loc, spec: strings.TrimSpace(spec)}
	any := false
	for entry := range strings.SplitSeq(spec, ";") {
		fields := strings.Fields(entry)
		if len(fields) == 0 {
			continue
		}
		if len(fields) < 2 {
			return nil, fmt.Errorf("%q: want days then hours, such as mon-fri 09:00-18:00", strings.TrimSpace(entry))
		}
		wds, err := parseDays(fields[0])
		if err != nil {
			return nil, err
		}
		for _, f := range fields[1:] {
			w, err := parseWindow(f)
			if err != nil {
				return nil, err
			}
			for _, d := range wds {
				for _, o := range h.Week[d] {
					if w.Start < o.End && o.Start < w.End {
						return nil, fmt.Errorf("%s overlaps another window of %s", f, d)
					}
				}
				h.Week[d] = append(h.Week[d], w)
			}
			any = true
		}
	}
	if !any {
		return nil, errors.New("no hours given, such as mon-fri 09:00-18:00")
	}
	return h, nil
}

func parseDays(s string) ([]time.Weekday, error) {
	var out []time.Weekday
	for part := range strings.SplitSeq(strings.ToLower(s), ",") {
		from, to, isRange := strings.Cut(part, "-")
		a, ok := days[from]
		if !ok {
			return nil, fmt.Errorf("%q is not a day (mon, tue, wed, thu, fri, sat, sun)", from)
		}
		if !isRange {
			out = append(out, a)
			continue
		}
		b, ok := days[to]
		if !ok {
			return nil, fmt.Errorf("%q is not a day (mon, tue, wed, thu, fri, sat, sun)", to)
		}
		for d := a; ; d = (d + 1) % 7 {
			out = append(out, d)
			if d == b {
				break
			}
		}
	}
	return out, nil
}

func parseWindow(s string) (Window, error) {
	from, to, ok := strings.Cut(s, "-")
	if !ok {
		return Window{}, fmt.Errorf("%q: want hours such as 09:00-18:00", s)
	}
	a, err := parseClock(from)
	if err != nil {
		return Window{}, err
	}
	b, err := parseClock(to)
	if err != nil {
		return Window{}, err
	}
	if b <= a {
		return Window{}, fmt.Errorf("%q ends before it starts", s)
	}
	return Window{a, b}, nil
}

func parseClock(s string) (int, error) {
	var h, m int
	if n, err := fmt.Sscanf(s, "%d:%d", &h, &m); err != nil || n != 2 || len(s) != 5 || h < 0 || m < 0 || m > 59 || h > 24 || h == 24 && m != 0 {
		return 0, fmt.Errorf("%q is not a time of day (HH:MM)", s)
	}
	return h*60 + m, nil
}

// String is the schedule as it was given.
func (h *Hours) String() string { return h.spec }

// Between is how much of [a, b) falls inside the working hours (0 when b is not after a). Each
// local day is laid out on the calendar of Location, so a change to or from summer time moves the
// windows with the clocks.
func (h *Hours) Between(a, b time.Time) time.Duration {
	if !b.After(a) {
		return 0
	}
	var total time.Duration
	la := a.In(h.Location)
	y, m, d := la.Date()
	for day := time.Date(y, m, d, 0, 0, 0, 0, h.Location); day.Before(b); day = time.Date(day.Year(), day.Month(), day.Day()+1, 0, 0, 0, 0, h.Location) {
		for _, w := range h.Week[day.Weekday()] {
			start := time.Date(day.Year(), day.Month(), day.Day(), w.Start/60, w.Start%60, 0, 0, h.Location)
			end := time.Date(day.Year(), day.Month(), day.Day(), w.End/60, w.End%60, 0, 0, h.Location)
			if start.Before(a) {
				start = a
			}
			if end.After(b) {
				end = b
			}
			if end.After(start) {
				total += end.Sub(start)
			}
		}
	}
	return total
}
