package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/valyala/fasthttp"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/inbox"
)

// listAgents is how many users work the inbox at once in the lists section, each reading every
// listInterval: 100 reads a second in all, several times what 20 people clicking through a panel
// ask for, yet short of saturating the two cores the server, PostgreSQL and the load generator
// share (then every figure would measure the queue, not the reads).
const (
	listAgents   = 20
	listInterval = 200 * time.Millisecond
)

// Endpoints of the lists section, in the table's order.
var listEndpoints = []string{
	"list, all I may read", "list, mine", "list, unassigned", "list, my team", "list, by status", "list, by tag",
	"list, unread", "search by name", "search by number", "thread, first page", "thread, 50th page", "my unread count",
}

// listUser is one of the users hitting the inbox, with what it may read.
type listUser struct {
	datasetAgent
	token string
	scope string
	// own are conversations this user may read (for thread pages); long are long threads it may
	// read with the cursor of their 50th page.
	own  []int64
	long []longThread
}

type longThread struct{ id, cursor int64 }

// listRequest is one read: the endpoint, and its filter or thread position.
type listRequest struct {
	endpoint int
	filter   inbox.ConversationFilter
	conv     int64
	before   int64
}

// benchLists measures the inbox's reads on a year of data: 20 users (supervisors and agents of
// the five teams) each read the list with every filter, search, page threads and read their unread
// count, at random, all at once, for a phase; beside each figure the same SQL run through pgx in
// the same run (no HTTP, no JSON, the rows scanned), in alternating phases.
func benchLists(ctx context.Context, e *Env) ([]Row, error) {
	a, stop, err := instance(ctx, e, map[string]string{"BOT_ENABLED": "0"})
	if err != nil {
		return nil, err
	}
	defer stop()
	d, err := loadDataset(ctx, a)
	if err != nil {
		return nil, err
	}
	out := []Row{{
		Section: "lists",
		Metric: fmt.Sprintf("load the year with COPY (%d conversations, %d messages, %d history rows, %d tags), then VACUUM ANALYZE",
			d.Conversations, d.Messages, d.History, d.TagRows),
		Value: d.Took.Round(time.Second).String(), Target: "minutes, not hours",
	}}
	users, err := listUsers(ctx, a.BaseURL(), a.Pool(), d)
	if err != nil {
		return nil, err
	}
	pool := a.Pool()
	client := newLoadClient(listAgents)
	httpCall := func(u *listUser, req *listRequest) error {
		return client.get(a.BaseURL()+req.path(u), u.token)
	}
	sqlCall := func(u *listUser, req *listRequest) error { return req.sql(ctx, pool, u) }
	// A warm-up of each kind first (not measured): the year was just written, and the first reads
	// of a thread fetch its pages from disk. Then alternating phases, so neither side always runs
	// second or on a warmer cache.
	for _, fn := range []func(*listUser, *listRequest) error{sqlCall, httpCall} {
		if _, err := listPhase(e.Duration/4, users, d, fn); err != nil {
			return nil, err
		}
	}
	var ceil, subj [][]time.Duration
	for i, fn := range []func(*listUser, *listRequest) error{sqlCall, httpCall, httpCall, sqlCall} {
		lat, err := listPhase(e.Duration/2, users, d, fn)
		if err != nil {
			return nil, err
		}
		if i == 0 || i == 3 {
			ceil = merge(ceil, lat)
		} else {
			subj = merge(subj, lat)
		}
	}
	for i, name := range listEndpoints {
		s, c := latencies(subj[i]), latencies(ceil[i])
		out = append(out, Row{
			Section: "lists",
			Metric:  fmt.Sprintf("%s, %d users at once, over HTTP (%d calls)", name, listAgents, len(s)),
			Value:   fmt.Sprintf("p50 %s, p99 %s", ms(s.percentile(0.5)), ms(s.percentile(0.99))),
			Ceiling: fmt.Sprintf("SQL via pgx: p50 %s, p99 %s", ms(c.percentile(0.5)), ms(c.percentile(0.99))),
			Ratio:   ratio(c.percentile(0.99).Seconds(), s.percentile(0.99).Seconds()),
			Target:  "p99 <= 20 ms",
		})
	}
	return out, nil
}

func merge(a, b [][]time.Duration) [][]time.Duration {
	if a == nil {
		return b
	}
	for i := range a {
		a[i] = append(a[i], b[i]...)
	}
	return a
}

// listPhase runs fn for d with one goroutine per user, each picking its next request at random,
// and returns the latencies by endpoint.
func listPhase(d time.Duration, users []*listUser, ds *dataset, fn func(*listUser, *listRequest) error) ([][]time.Duration, error) {
	out := make([][]time.Duration, len(listEndpoints))
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		firstErr error
	)
	deadline := time.Now().Add(d)
	for i, u := range users {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))
			local := make([][]time.Duration, len(listEndpoints))
			// Users start spread over one interval, then read on schedule (late rather than never
			// when the machine is busy).
			next := time.Now().Add(time.Duration(i) * listInterval / time.Duration(len(users)))
			for next.Before(deadline) {
				req, ok := nextRequest(r, u, ds)
				if !ok {
					continue
				}
				time.Sleep(time.Until(next))
				next = next.Add(listInterval)
				t0 := time.Now()
				if err := fn(u, &req); err != nil {
					mu.Lock()
					firstErr = cmpOr(firstErr, fmt.Errorf("%s as %s: %w", listEndpoints[req.endpoint], u.Email, err))
					mu.Unlock()
					return
				}
				local[req.endpoint] = append(local[req.endpoint], time.Since(t0))
			}
			mu.Lock()
			for k := range out {
				out[k] = append(out[k], local[k]...)
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	return out, firstErr
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

var listStatuses = []string{inbox.ConversationOpen, inbox.ConversationPending, inbox.ConversationSnoozed, inbox.ConversationBot, inbox.ConversationResolved}

// nextRequest picks a random read for u; false when u has nothing of that kind to read.
func nextRequest(r *rand.Rand, u *listUser, d *dataset) (listRequest, bool) {
	req := listRequest{endpoint: r.IntN(len(listEndpoints))}
	f := &req.filter
	switch req.endpoint {
	case 1:
		f.AssigneeID = &u.ID
	case 2:
		f.Unassigned = true
	case 3:
		f.GroupID = &u.Team
	case 4:
		f.Status = listStatuses[r.IntN(len(listStatuses))]
	case 5:
		f.Tag = d.Tags[r.IntN(len(d.Tags))]
	case 6:
		f.Unread = true
	case 7:
		name := strings.Fields(d.Names[r.IntN(len(d.Names))])
		switch r.IntN(3) {
		case 0:
			f.Query = strings.Join(name, " ")
		case 1:
			f.Query = name[len(name)-1]
		default:
			w := []rune(strings.ToLower(name[0]))
			f.Query = string(w[:min(len(w), 4)])
		}
	case 8:
		f.Query = d.Numbers[r.IntN(len(d.Numbers))]
	case 9:
		if len(u.own) == 0 {
			return req, false
		}
		req.conv = u.own[r.IntN(len(u.own))]
	case 10:
		if len(u.long) == 0 {
			return req, false
		}
		t := u.long[r.IntN(len(u.long))]
		req.conv, req.before = t.id, t.cursor
	}
	return req, true
}

// path is the request's URL path and query.
func (req *listRequest) path(u *listUser) string {
	switch req.endpoint {
	case 9, 10:
		p := "/api/conversations/" + strconv.FormatInt(req.conv, 10) + "/messages?limit=50"
		if req.before != 0 {
			p += "&cursor=" + strconv.FormatInt(req.before, 10)
		}
		return p
	case 11:
		return "/api/conversations/unread"
	}
	q := url.Values{"limit": {"50"}}
	f := req.filter
	switch {
	case f.AssigneeID != nil:
		q.Set("assignee", "me")
	case f.Unassigned:
		q.Set("assignee", "unassigned")
	case f.GroupID != nil:
		q.Set("group", strconv.FormatInt(*f.GroupID, 10))
	case f.Unread:
		q.Set("unread", "true")
	}
	for k, v := range map[string]string{"status": f.Status, "tag": f.Tag, "q": f.Query} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return "/api/conversations?" + q.Encode()
}

// sql runs the statements the request's handler runs, through pgx, with the parameters the inbox
// would give them, and scans their rows.
func (req *listRequest) sql(ctx context.Context, pool *pgxpool.Pool, u *listUser) error {
	q := db.New()
	switch req.endpoint {
	case 9, 10:
		if _, err := q.ConversationGet(ctx, pool, req.conv); err != nil {
			return err
		}
		p := db.MessageListByConversationParams{ConversationID: req.conv, RowLimit: 50}
		if req.before != 0 {
			p.BeforeID = &req.before
		}
		_, err := q.MessageListByConversation(ctx, pool, p)
		return err
	case 11:
		_, err := q.ConversationUnreadCount(ctx, pool, &u.ID)
		return err
	}
	f := req.filter
	scope := u.scope
	if f.AssigneeID != nil && *f.AssigneeID == u.ID {
		scope = auth.ScopeAll // as inbox.SearchConversations reads one's own conversations
	}
	p := db.ConversationSearchParams{
		Scope: scope, ViewerID: u.ID, ViewerGroups: []int64{u.Team}, Unassigned: f.Unassigned,
		AssigneeID: f.AssigneeID, GroupID: f.GroupID, Unread: f.Unread, RowLimit: 50,
	}
	if f.Status != "" {
		p.Status = &f.Status
	}
	if f.Tag != "" {
		p.Tag = &f.Tag
	}
	if f.Query != "" {
		s := strings.TrimPrefix(f.Query, "+")
		p.Query = &s
	}
	rows, err := q.ConversationSearch(ctx, unprepared{pool}, p)
	if err != nil || len(rows) == 0 {
		return err
	}
	ids := make([]int64, len(rows))
	for i := range rows {
		ids[i] = rows[i].Conversation.ID
	}
	_, err = q.MessageLastOfConversations(ctx, pool, ids)
	return err
}

// listUsers logs in the supervisor and the first three agents of each team, and finds the
// conversations each may read for thread pages.
func listUsers(ctx context.Context, base string, pool *pgxpool.Pool, d *dataset) ([]*listUser, error) {
	var users []*listUser
	for i, ag := range d.Agents {
		if i%dsAgentsPerTeam >= listAgents/dsTeams {
			continue
		}
		token, err := login(base, ag.Email, dsPassword)
		if err != nil {
			return nil, err
		}
		u := &listUser{datasetAgent: ag, token: token, scope: auth.RolePermissions(ag.Role).ReadChats}
		var where string
		if u.scope == auth.ScopeAll {
			where = "true"
		} else {
			where = "assignee_id = $1"
		}
		r, err := pool.Query(ctx, "SELECT id FROM conversations WHERE "+where+" AND $1::bigint > 0 ORDER BY random() LIMIT 500", u.ID)
		if err != nil {
			return nil, err
		}
		for r.Next() {
			var id int64
			if err := r.Scan(&id); err != nil {
				return nil, err
			}
			u.own = append(u.own, id)
		}
		r.Close()
		if err := r.Err(); err != nil {
			return nil, err
		}
		for _, id := range d.LongThreads {
			var assignee *int64
			var cursor int64
			err := pool.QueryRow(ctx, `SELECT c.assignee_id, (SELECT m.id FROM messages m WHERE m.conversation_id = c.id
				ORDER BY m.id DESC OFFSET 49*50-1 LIMIT 1) FROM conversations c WHERE c.id = $1`, id).Scan(&assignee, &cursor)
			if err != nil {
				return nil, err
			}
			if u.scope == auth.ScopeAll || (assignee != nil && *assignee == u.ID) {
				u.long = append(u.long, longThread{id, cursor})
			}
		}
		users = append(users, u)
	}
	return users, nil
}

// get reads url with the bearer token and fails on any status but 200.
func (l *loadClient) get(url, token string) error {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(url)
	req.Header.Set("Authorization", "Bearer "+token)
	if err := l.c.Do(req, resp); err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	if resp.StatusCode() != fasthttp.StatusOK {
		return fmt.Errorf("GET %s: %d %s", url, resp.StatusCode(), resp.Body())
	}
	return nil
}

// unprepared runs queries in pgx's exec mode, as the inbox runs the conversation list (planned
// for each call's values).
type unprepared struct{ db.DBTX }

func (u unprepared) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return u.DBTX.Query(ctx, sql, append([]any{pgx.QueryExecModeExec}, args...)...)
}
