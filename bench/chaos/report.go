package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// maxSamples bounds the examples printed under the table for each finding.
const maxSamples = 5

// settleResult is how the settling phase ended.
type settleResult struct {
	took           time.Duration
	pending        int // accepted messages still pending at its end
	inboundMissing int // accepted inbound messages not stored at its end
	mediaPending   int // files of accepted inbound photos still being fetched at its end
}

// settle waits, with Meta's faults cleared, until every accepted message has left pending and
// every accepted inbound message is stored, or until limit after the last fault.
func settle(ctx context.Context, pool *pgxpool.Pool, res *loadResult, lastFault time.Time, limit time.Duration) settleResult {
	ids := make([]int64, len(res.sends))
	for i, m := range res.sends {
		ids[i] = m.ID
	}
	wamids := make([]string, len(res.inbound))
	for i, m := range res.inbound {
		wamids[i] = m.WAMID
	}
	start := time.Now()
	deadline := lastFault.Add(limit)
	logf("settling: waiting until %s for every accepted message to leave pending", deadline.Format("15:04:05"))
	var r settleResult
	lastLog := time.Now()
	for {
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		var found int
		err := pool.QueryRow(qctx, `SELECT count(*) FROM messages WHERE id = ANY($1) AND status = 'pending'`, ids).Scan(&r.pending)
		if err == nil {
			err = pool.QueryRow(qctx, `SELECT count(DISTINCT wa_message_id) FROM messages WHERE direction = 'in' AND wa_message_id = ANY($1)`, wamids).Scan(&found)
			r.inboundMissing = len(wamids) - found
		}
		if err == nil {
			err = pool.QueryRow(qctx, `SELECT count(*) FROM messages m JOIN media_files f ON f.id = m.media_id
				WHERE m.wa_message_id = ANY($1) AND f.status = 'pending'`, wamids).Scan(&r.mediaPending)
		}
		cancel()
		r.took = time.Since(start)
		if err == nil && r.pending == 0 && r.inboundMissing == 0 && r.mediaPending == 0 {
			logf("settled after %s", r.took.Round(100*time.Millisecond))
			return r
		}
		if time.Since(lastLog) >= 10*time.Second {
			logf("settling: %d accepted messages pending, %d accepted inbound not stored, %d files being fetched", r.pending, r.inboundMissing, r.mediaPending)
			lastLog = time.Now()
		}
		if time.Now().After(deadline) || !sleep(ctx, 500*time.Millisecond) {
			logf("settling ended after %s: %d accepted messages still pending, %d accepted inbound not stored",
				r.took.Round(100*time.Millisecond), r.pending, r.inboundMissing)
			return r
		}
	}
}

// metaSend is one request the fake Meta's messages endpoint received (GET /simulator/sends).
type metaSend struct {
	At                    time.Time `json:"at"`
	To                    string    `json:"to"`
	Type                  string    `json:"type"`
	Body                  string    `json:"body"`
	BizOpaqueCallbackData string    `json:"biz_opaque_callback_data"`
	WAMessageID           string    `json:"wa_message_id"`
	ErrorCode             int       `json:"error_code"`
	Fault                 string    `json:"fault"`
}

// dbMessage is an accepted message as the database has it at the end.
type dbMessage struct {
	status, waMessageID, errorTitle, lastError, pendingReason string
	outSeq                                                    int64
	errorCode, attempts                                       int
}

// report is everything counted, rendered as one table and notes.
type report struct {
	params     string
	wall       time.Duration
	settled    settleResult
	killTarget time.Duration
	unexpected []string
	lb         string
	apiRetries int64
	events     []*faultEvent
	overrun    time.Duration // how long the last fault ended after the load, if it did

	acceptedSends, acceptedInbound  int
	notAccepted, inboundNotAccepted []string
	inboundRetries                  int64

	metaReceived, metaAccepted, lostAnswers, injected5xx, injected429, otherRefused int

	lost, failed, pending, duplicates, duplicateExtra, outOfOrder   int
	inboundLost, inboundDuplicated                                  int
	mediaAccepted, mediaNotStored                                   int
	notAtMetaButSent, unknownAtMeta, wamidMismatch, outSeqBackwards int
	sameIDTwice                                                     int

	notes map[string][]string // samples under each finding
}

func (r *report) note(key, format string, args ...any) {
	if len(r.notes[key]) < maxSamples {
		r.notes[key] = append(r.notes[key], fmt.Sprintf(format, args...))
	}
}

// count gathers what the fake Meta received and what the database holds, keeps both next to the
// suite's own records in the run directory for spot checks, and counts every violation.
func count(ctx context.Context, pool *pgxpool.Pool, simURL, runDir string, res *loadResult, events []*faultEvent) (*report, error) {
	r := &report{events: events, notes: map[string][]string{},
		acceptedSends: len(res.sends), acceptedInbound: len(res.inbound),
		notAccepted: res.notAccepted, inboundNotAccepted: res.inboundNotAccepted, inboundRetries: res.inboundRetries}

	sends, err := fetchSends(ctx, simURL, filepath.Join(runDir, "sends.json"))
	if err != nil {
		return nil, err
	}
	if err := writeJSON(filepath.Join(runDir, "accepted.json"), res.sends); err != nil {
		return nil, err
	}
	if err := writeJSON(filepath.Join(runDir, "inbound.json"), res.inbound); err != nil {
		return nil, err
	}

	// What Meta accepted, per message id, in the order it received them.
	slices.SortStableFunc(sends, func(a, b metaSend) int { return a.At.Compare(b.At) })
	byID := map[int64][]metaSend{}
	accepted := map[int64]sentMsg{}
	for _, m := range res.sends {
		if _, dup := accepted[m.ID]; dup {
			r.sameIDTwice++
			r.note("same id", "message %d was answered to two different writes (the second: c%03d #%04d, client_id %s)", m.ID, m.Conv, m.Seq, m.ClientID)
		}
		accepted[m.ID] = m
	}
	for _, s := range sends {
		if s.Type == "read" {
			continue // a read receipt, not a message
		}
		r.metaReceived++
		switch {
		case s.WAMessageID != "":
			r.metaAccepted++
			if s.Fault != "" { // accepted with a fault: the answer was lost on its way back
				r.lostAnswers++
			}
			id, err := strconv.ParseInt(s.BizOpaqueCallbackData, 10, 64)
			if _, ours := accepted[id]; err != nil || !ours {
				r.unknownAtMeta++
				r.note("unknown at Meta", "Meta accepted %s (callback data %q, body %q) at %s: not a message the API accepted",
					s.WAMessageID, s.BizOpaqueCallbackData, s.Body, s.At.Format(time.RFC3339Nano))
				continue
			}
			byID[id] = append(byID[id], s)
		case s.Fault == "error_rate" || s.Fault == "fail_next":
			switch status := faultStatus(s.ErrorCode); {
			case status == http.StatusTooManyRequests:
				r.injected429++
			case status >= 500:
				r.injected5xx++
			default:
				r.otherRefused++
			}
		default:
			r.otherRefused++ // timeouts, client gone, or refused as invalid
		}
	}

	db, err := loadMessages(ctx, pool, res.sends)
	if err != nil {
		return nil, err
	}

	// Lost, failed, pending, duplicated.
	for _, m := range res.sends {
		row, stored := db[m.ID]
		at := byID[m.ID]
		what := fmt.Sprintf("message %d (c%03d #%04d)", m.ID, m.Conv, m.Seq)
		if stored && row.status == "failed" {
			r.failed++
			r.note("failed", "%s failed: code %d %q after %d attempts (last error %q)", what, row.errorCode, row.errorTitle, row.attempts, row.lastError)
		}
		if stored && row.status == "pending" {
			r.pending++
			r.note("pending", "%s still pending after %d attempts (reason %q, last error %q)", what, row.attempts, row.pendingReason, row.lastError)
		}
		switch {
		case len(at) > 0:
		case stored && row.status == "failed" && (row.errorCode != 0 || row.errorTitle != ""):
		case !stored:
			r.lost++
			r.note("lost", "%s: accepted with HTTP %d but not in the database", what, m.HTTPStatus)
		default:
			r.lost++
			if row.status != "pending" && row.status != "failed" {
				r.notAtMetaButSent++
			}
			r.note("lost", "%s: never accepted by Meta; status %s, wa_message_id %q, %d attempts, last error %q",
				what, row.status, row.waMessageID, row.attempts, row.lastError)
		}
		if len(at) > 1 {
			r.duplicates++
			r.duplicateExtra += len(at) - 1
			var copies []string
			for _, s := range at {
				copies = append(copies, fmt.Sprintf("%s at %s (fault %q)", short(s.WAMessageID), s.At.Format("15:04:05.000"), s.Fault))
			}
			r.note("duplicates", "%s accepted by Meta %d times: %s", what, len(at), strings.Join(copies, ", "))
		}
		if len(at) > 0 && stored && row.waMessageID != "" && !slices.ContainsFunc(at, func(s metaSend) bool { return s.WAMessageID == row.waMessageID }) {
			r.wamidMismatch++
			r.note("wamid mismatch", "%s records %s, which Meta never gave it", what, short(row.waMessageID))
		}
	}

	r.countOrder(res.sends, byID, db)

	// Inbound: every webhook answered 2xx must be exactly one message.
	wamids := make([]string, len(res.inbound))
	for i, m := range res.inbound {
		wamids[i] = m.WAMID
	}
	rows, err := pool.Query(ctx, `SELECT wa_message_id, count(*) FROM messages WHERE direction = 'in' AND wa_message_id = ANY($1) GROUP BY 1`, wamids)
	if err != nil {
		return nil, fmt.Errorf("error counting inbound messages: %w", err)
	}
	stored := map[string]int{}
	for rows.Next() {
		var wamid string
		var n int
		if err := rows.Scan(&wamid, &n); err != nil {
			return nil, err
		}
		stored[wamid] = n
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// Every accepted photo must have its file stored: fetched from Meta once the message was.
	var photos []string
	for _, m := range res.inbound {
		if m.Media {
			photos = append(photos, m.WAMID)
		}
	}
	r.mediaAccepted = len(photos)
	var storedFiles int
	err = pool.QueryRow(ctx, `SELECT count(*) FROM messages m JOIN media_files f ON f.id = m.media_id
		WHERE m.wa_message_id = ANY($1) AND f.status = 'stored'`, photos).Scan(&storedFiles)
	if err != nil {
		return nil, fmt.Errorf("error counting stored files: %w", err)
	}
	r.mediaNotStored = len(photos) - storedFiles
	if r.mediaNotStored > 0 {
		r.note("media not stored", "%d of %d accepted photos have no stored file (pending or failed)", r.mediaNotStored, len(photos))
	}
	for _, m := range res.inbound {
		switch n := stored[m.WAMID]; {
		case n == 0:
			r.inboundLost++
			r.note("inbound lost", "%s from %s, answered 2xx at %s (try %d), has no message", m.WAMID, m.From, m.AcceptedAt.Format("15:04:05.000"), m.Tries)
		case n > 1:
			r.inboundDuplicated++
			r.note("inbound duplicated", "%s from %s is %d messages", m.WAMID, m.From, n)
		}
	}
	return r, nil
}

// countOrder walks, per conversation, the messages in the order Meta first accepted them and
// counts those that reached Meta before a message of the same conversation written earlier. It
// also checks that the server's out_seq follows the order the suite wrote in.
func (r *report) countOrder(sends []sentMsg, byID map[int64][]metaSend, db map[int64]dbMessage) {
	type arrival struct {
		m  sentMsg
		at time.Time
	}
	perConv := map[int][]arrival{}
	written := map[int][]sentMsg{}
	for _, m := range sends {
		written[m.Conv] = append(written[m.Conv], m)
		if at := byID[m.ID]; len(at) > 0 {
			perConv[m.Conv] = append(perConv[m.Conv], arrival{m, at[0].At})
		}
	}
	for c, list := range perConv {
		slices.SortStableFunc(list, func(a, b arrival) int { return a.at.Compare(b.at) })
		// From the last arrival backwards: a message is out of order when some message that
		// arrived after it was written before it.
		var minLater *arrival
		for i := len(list) - 1; i >= 0; i-- {
			a := &list[i]
			if minLater != nil && minLater.m.Seq < a.m.Seq {
				r.outOfOrder++
				r.note("out of order", "c%03d: #%04d (message %d) reached Meta at %s, before #%04d (message %d) at %s",
					c, a.m.Seq, a.m.ID, a.at.Format("15:04:05.000"), minLater.m.Seq, minLater.m.ID, minLater.at.Format("15:04:05.000"))
			}
			if minLater == nil || a.m.Seq < minLater.m.Seq {
				minLater = a
			}
		}
	}
	for c, list := range written {
		slices.SortFunc(list, func(a, b sentMsg) int { return cmp.Compare(a.Seq, b.Seq) })
		for i := 1; i < len(list); i++ {
			prev, ok1 := db[list[i-1].ID]
			cur, ok2 := db[list[i].ID]
			if ok1 && ok2 && cur.outSeq <= prev.outSeq {
				r.outSeqBackwards++
				r.note("out_seq", "c%03d: #%04d has out_seq %d, not after #%04d's %d", c, list[i].Seq, cur.outSeq, list[i-1].Seq, prev.outSeq)
			}
		}
	}
}

// faultStatus is the HTTP status the simulator answers an injected Meta code with.
func faultStatus(code int) int {
	switch code {
	case 429, 130429:
		return http.StatusTooManyRequests
	case 500, 1, 131000:
		return http.StatusInternalServerError
	case 2, 131016, 133004:
		return http.StatusServiceUnavailable
	case 190:
		return http.StatusUnauthorized
	}
	return http.StatusBadRequest
}

func short(wamid string) string {
	if len(wamid) > 22 {
		return wamid[:22] + "…"
	}
	return wamid
}

// fetchSends reads every send the fake Meta received and keeps the raw answer in path.
func fetchSends(ctx context.Context, simURL, path string) ([]metaSend, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, simURL+"/simulator/sends", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("error reading the simulator's sends: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("error reading the simulator's sends: HTTP %d: %v", resp.StatusCode, err)
	}
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		return nil, err
	}
	var sends []metaSend
	if err := json.Unmarshal(raw, &sends); err != nil {
		return nil, fmt.Errorf("error decoding the simulator's sends: %w", err)
	}
	return sends, nil
}

// loadMessages reads the accepted messages' rows. pending_reason is read through to_jsonb so
// that the suite also runs against a schema without it.
func loadMessages(ctx context.Context, pool *pgxpool.Pool, sends []sentMsg) (map[int64]dbMessage, error) {
	ids := make([]int64, len(sends))
	for i, m := range sends {
		ids[i] = m.ID
	}
	rows, err := pool.Query(ctx, `
		SELECT m.id, m.status, coalesce(m.out_seq, -1), coalesce(m.wa_message_id, ''), coalesce(m.error_code, 0),
		       coalesce(m.error_title, ''), m.last_error, m.attempts, coalesce(to_jsonb(m)->>'pending_reason', '')
		FROM messages m WHERE m.id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("error reading the accepted messages: %w", err)
	}
	defer rows.Close()
	out := map[int64]dbMessage{}
	for rows.Next() {
		var id int64
		var m dbMessage
		if err := rows.Scan(&id, &m.status, &m.outSeq, &m.waMessageID, &m.errorCode, &m.errorTitle, &m.lastError, &m.attempts, &m.pendingReason); err != nil {
			return nil, err
		}
		out[id] = m
	}
	return out, rows.Err()
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// row is one line of the table; gated rows make the run fail when missed.
type row struct {
	metric, value, target string
	gated, ok             bool
}

// render prints the parameters, the table and the notes, and reports whether every target was met.
func (r *report) render() (string, bool) {
	var rows []row
	info := func(metric, value string) { rows = append(rows, row{metric: metric, value: value, target: "-"}) }
	zero := func(metric string, n int) {
		rows = append(rows, row{metric: metric, value: strconv.Itoa(n), target: "0", gated: true, ok: n == 0})
	}

	info("sends accepted by the API (2xx)", strconv.Itoa(r.acceptedSends))
	info("inbound accepted (webhook answered 2xx)", strconv.Itoa(r.acceptedInbound))
	info("sends Meta received", strconv.Itoa(r.metaReceived))
	info("sends Meta accepted", strconv.Itoa(r.metaAccepted))
	info("lost answers injected", strconv.Itoa(r.lostAnswers))
	info("5xx injected", strconv.Itoa(r.injected5xx))
	info("429 injected", strconv.Itoa(r.injected429))
	zero("writes the API never accepted", len(r.notAccepted)+len(r.inboundNotAccepted))
	zero("lost", r.lost)
	rows = append(rows, row{metric: "failed", value: strconv.Itoa(r.failed), target: "- (expect 0)"})
	zero("pending "+r.settleText(), r.pending)
	zero("duplicates at Meta (messages sent twice or more)", r.duplicates)
	zero("out of order", r.outOfOrder)
	zero("inbound lost", r.inboundLost)
	zero("inbound duplicated", r.inboundDuplicated)
	zero(fmt.Sprintf("inbound photos whose file is not stored (of %d)", r.mediaAccepted), r.mediaNotStored)
	rows = append(rows, r.killRow())
	for _, e := range r.events {
		if e.kind != faultKill && e.watch != nil {
			resolved, after, maxLeft, _ := e.watch.result()
			v := fmt.Sprintf("none left after %s", after.Round(100*time.Millisecond))
			if !resolved {
				v = fmt.Sprintf("%d still running after %s", maxLeft, after.Round(time.Second))
			}
			info("jobs left running by the "+e.kind, v)
		}
	}
	planned := map[string]int{}
	var failedFaults int
	for _, e := range r.events {
		planned[e.kind]++
		if e.err != nil {
			failedFaults++
		}
	}
	rows = append(rows, row{metric: "faults injected", target: "all, without error", gated: true, ok: failedFaults == 0,
		value: fmt.Sprintf("kills %d, restarts %d, freezes %d; %d failed", planned[faultKill], planned[faultRestart], planned[faultFreeze], failedFaults)})
	zero("processes that exited by themselves", len(r.unexpected))

	var b strings.Builder
	fmt.Fprintf(&b, "\nchaos run: %s; wall time %s\n\n", r.params, r.wall.Round(time.Second))
	fmt.Fprintln(&b, "| metric | value | target |")
	fmt.Fprintln(&b, "| --- | --- | --- |")
	ok := true
	for _, row := range rows {
		mark := ""
		if row.gated && !row.ok {
			mark, ok = " **MISSED**", false
		}
		fmt.Fprintf(&b, "| %s | %s%s | %s |\n", row.metric, row.value, mark, row.target)
	}

	fmt.Fprintf(&b, "\nOther counts: %d sends at Meta refused otherwise (timeouts, invalid); %d sends at Meta of messages the API never accepted; "+
		"%d lost messages the database calls sent; %d messages whose wa_message_id Meta never gave them; %d out_seq against the write order; "+
		"%d ids answered to two writes; %d agent request retries; %d inbound retries; load balancer: %s.\n",
		r.otherRefused, r.unknownAtMeta, r.notAtMetaButSent, r.wamidMismatch, r.outSeqBackwards, r.sameIDTwice, r.apiRetries, r.inboundRetries, r.lb)
	fmt.Fprintln(&b, "\nFaults:")
	for _, e := range r.events {
		fmt.Fprintf(&b, "- %s %s: %s", e.start.Format("15:04:05.000"), e.kind, e.detail)
		if e.err != nil {
			fmt.Fprintf(&b, " FAILED: %v", e.err)
		}
		if e.watch != nil {
			resolved, after, maxLeft, left := e.watch.result()
			if resolved {
				fmt.Fprintf(&b, "; its running jobs released after %s", after.Round(100*time.Millisecond))
			} else {
				fmt.Fprintf(&b, "; %d of its jobs still running after %s", maxLeft, after.Round(time.Second))
			}
			if len(left) > 0 {
				var jobs []string
				for _, j := range left[:min(len(left), maxSamples)] {
					jobs = append(jobs, fmt.Sprintf("%d %s message %s attempted %s by %s", j.ID, j.Kind, j.MessageID, j.AttemptedAt.Format("15:04:05.000"), j.AttemptedBy))
				}
				fmt.Fprintf(&b, " (last seen running: %s)", strings.Join(jobs, "; "))
			}
		}
		fmt.Fprintln(&b)
	}
	if r.overrun > 0 {
		fmt.Fprintf(&b, "- the last fault ended %s after the load\n", r.overrun.Round(100*time.Millisecond))
	}
	for _, s := range r.unexpected {
		fmt.Fprintf(&b, "- %s\n", s)
	}
	samples := append(append([]string(nil), r.notAccepted...), r.inboundNotAccepted...)
	r.notes["not accepted"] = samples[:min(len(samples), maxSamples)]
	for _, key := range []string{"not accepted", "lost", "failed", "pending", "duplicates", "out of order", "inbound lost",
		"inbound duplicated", "media not stored", "unknown at Meta", "wamid mismatch", "out_seq", "same id"} {
		if len(r.notes[key]) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\nExamples, %s:\n", key)
		for _, s := range r.notes[key] {
			fmt.Fprintf(&b, "- %s\n", s)
		}
	}
	return b.String(), ok
}

func (r *report) settleText() string {
	return fmt.Sprintf("(after %s of settling)", r.settled.took.Round(time.Second))
}

// killRow is the slowest release of a killed instance's jobs, against the target.
func (r *report) killRow() row {
	target := "≤ " + r.killTarget.String()
	var worst time.Duration
	var n, within, unresolved int
	for _, e := range r.events {
		if e.kind != faultKill || e.watch == nil {
			continue
		}
		n++
		resolved, after, _, _ := e.watch.result()
		worst = max(worst, after)
		switch {
		case !resolved:
			unresolved++
		case after <= r.killTarget:
			within++
		}
	}
	if n == 0 {
		return row{metric: "kills: jobs of the dead instance released", value: "no kill", target: target}
	}
	v := fmt.Sprintf("max %s; %d of %d kills within target", worst.Round(100*time.Millisecond), within, n)
	if unresolved > 0 {
		v = fmt.Sprintf("> %s: %d of %d kills never released within the run; %d within target", worst.Round(time.Second), unresolved, n, within)
	}
	return row{metric: "kills: jobs of the dead instance released", value: v, target: target, gated: true, ok: within == n}
}
