package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/app"
	"github.com/wainbox/wainbox/internal/auth"
)

// dataset is what a section needs to know about the loaded year.
type dataset struct {
	ChannelID int64
	Teams     []int64
	// Agents are the users who work the inbox, team by team; the first of each team is a
	// supervisor (reads every conversation), the others agents (their own and the free pool).
	// Each logs in with dsPassword.
	Agents []datasetAgent
	Tags   []string
	// LongThreads are conversations of dsLongThreadMessages messages (a customer who writes all
	// year), for paging a thread back.
	LongThreads []int64
	// Names and Numbers are search terms that find customers: parts of names, whole numbers and
	// their last digits.
	Names, Numbers []string

	Conversations, Messages, History, TagRows int
	Took                                      time.Duration
}

type datasetAgent struct {
	ID    int64
	Email string
	Role  string
	Team  int64
}

// loadDataset creates the teams and agents through the app's own services, then writes the year
// with COPY on the app's pool and analyzes it. The rows are the ones the inbox would have written
// (see generator): ids grow with time, every conversation's last_message_at, last_out_seq,
// unread_count and status agree with its messages and history.
func loadDataset(ctx context.Context, a *app.App) (*dataset, error) {
	start := time.Now()
	pool := a.Pool()
	d := &dataset{}
	if err := pool.QueryRow(ctx, "SELECT id FROM channels ORDER BY is_default DESC, id LIMIT 1").Scan(&d.ChannelID); err != nil {
		return nil, fmt.Errorf("error finding the channel: %w", err)
	}
	if err := d.createTeam(ctx, a); err != nil {
		return nil, err
	}
	agentIDs := make([]int64, len(d.Agents))
	for i, ag := range d.Agents {
		agentIDs[i] = ag.ID
	}
	convs, msgs, hist := generate(20261201, start, agentIDs, d.Teams)
	for t := range dsTags {
		d.Tags = append(d.Tags, tagName(t))
	}
	w := &datasetWriter{pool: pool, d: d, agents: agentIDs, convs: convs, msgs: msgs, hist: hist}
	if err := w.write(ctx); err != nil {
		return nil, err
	}
	// These machines run PostgreSQL with autovacuum off: vacuum as it would have, so plans see
	// the visibility map and statistics of a table that has lived a year.
	if _, err := pool.Exec(ctx, "VACUUM (ANALYZE) contacts, conversations, messages, conversation_history, conversation_tags"); err != nil {
		return nil, fmt.Errorf("error analyzing the data set: %w", err)
	}
	d.Took = time.Since(start)
	return d, nil
}

// createTeam makes dsTeams teams of dsAgentsPerTeam users each.
func (d *dataset) createTeam(ctx context.Context, a *app.App) error {
	names := []string{"Ventas", "Soporte", "Facturación", "Envíos", "Cuentas clave"}
	q := db.New()
	for t := range dsTeams {
		g, err := q.GroupCreate(ctx, a.Pool(), db.GroupCreateParams{Name: names[t%len(names)] + " " + strconv.Itoa(t+1)})
		if err != nil {
			return fmt.Errorf("error creating team %d: %w", t+1, err)
		}
		d.Teams = append(d.Teams, g.ID)
		var members []int64
		for i := range dsAgentsPerTeam {
			role := auth.RoleAgent
			if i == 0 {
				role = auth.RoleSupervisor
			}
			n := t*dsAgentsPerTeam + i
			email := fmt.Sprintf("agent%02d@bench.example", n)
			u, err := a.Users.Create(ctx, auth.NewUser{Email: email, Name: firstNames[n%len(firstNames)] + " " + lastNames[(n*7)%len(lastNames)], Role: role, Password: dsPassword})
			if err != nil {
				return fmt.Errorf("error creating agent %d: %w", n, err)
			}
			d.Agents = append(d.Agents, datasetAgent{ID: u.ID, Email: email, Role: role, Team: g.ID})
			members = append(members, u.ID)
		}
		if err := q.GroupMembersAdd(ctx, a.Pool(), db.GroupMembersAddParams{GroupID: g.ID, UserIds: members}); err != nil {
			return fmt.Errorf("error filling team %d: %w", t+1, err)
		}
	}
	return nil
}

// datasetWriter writes the generated year with COPY, under ids it reserves from each table's
// identity so that the inbox's own inserts continue after them.
type datasetWriter struct {
	pool   *pgxpool.Pool
	d      *dataset
	agents []int64
	convs  []genConv
	msgs   []genMsg
	hist   []genHist
	// first ids of each table's block
	contact0, conv0, msg0, hist0 int64
}

func (w *datasetWriter) write(ctx context.Context) error {
	var err error
	for _, r := range []struct {
		table string
		n     int
		first *int64
	}{
		{"contacts", len(w.convs), &w.contact0}, {"conversations", len(w.convs), &w.conv0},
		{"messages", len(w.msgs), &w.msg0}, {"conversation_history", len(w.hist), &w.hist0},
	} {
		if *r.first, err = reserveIDs(ctx, w.pool, r.table, r.n); err != nil {
			return err
		}
	}
	steps := []struct {
		table string
		cols  []string
		src   func() pgx.CopyFromSource
	}{
		{"contacts", []string{"id", "channel_id", "wa_id", "profile_name", "last_inbound_at", "created_at", "updated_at"}, w.contacts},
		{"conversations", []string{"id", "channel_id", "contact_id", "status", "assignee_id", "unread_count", "last_out_seq",
			"last_message_at", "created_at", "updated_at", "group_id", "snoozed_until"}, w.conversations},
		{"messages", []string{"id", "conversation_id", "direction", "sender", "sender_user_id", "type", "body", "status",
			"wa_message_id", "client_id", "out_seq", "send_generation", "attempts", "created_at", "updated_at",
			"sent_at", "delivered_at", "read_at", "failed_at", "error_code", "error_title", "error_details"}, w.messages},
		{"conversation_history", []string{"id", "conversation_id", "actor_id", "action", "details", "created_at"}, w.history},
		{"conversation_tags", []string{"conversation_id", "tag", "created_by", "created_at"}, w.tags},
	}
	for _, s := range steps {
		var restore []string
		if s.table == "messages" || s.table == "conversation_history" {
			if restore, err = setAside(ctx, w.pool, s.table); err != nil {
				return err
			}
		}
		n, err := w.pool.CopyFrom(ctx, pgx.Identifier{s.table}, s.cols, s.src())
		if err != nil {
			return fmt.Errorf("error copying %s: %w", s.table, err)
		}
		for _, stmt := range restore {
			if _, err := w.pool.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("error restoring %s after loading it (%s): %w", s.table, stmt, err)
			}
		}
		switch s.table {
		case "conversations":
			w.d.Conversations = int(n)
		case "messages":
			w.d.Messages = int(n)
		case "conversation_history":
			w.d.History = int(n)
		case "conversation_tags":
			w.d.TagRows = int(n)
		}
	}
	return nil
}

// setAside drops table's secondary indexes and its own constraints but the primary key, and
// returns the statements that put them back as they were, indexes first. That is how pg_restore
// loads: an index built once over the rows, and a foreign key checked in one join, take a
// fraction of the time of keeping seven indexes and firing a check per row over three million
// COPYed rows.
func setAside(ctx context.Context, pool *pgxpool.Pool, table string) ([]string, error) {
	rows, err := pool.Query(ctx, `
		SELECT 'DROP INDEX ' || i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid), 0
		FROM pg_index i
		WHERE i.indrelid = $1::regclass AND NOT i.indisprimary
		  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
		UNION ALL
		SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', k.conrelid::regclass, k.conname),
		       format('ALTER TABLE %s ADD CONSTRAINT %I %s', k.conrelid::regclass, k.conname, pg_get_constraintdef(k.oid)),
		       CASE k.contype WHEN 'f' THEN 2 ELSE 1 END
		FROM pg_constraint k
		WHERE k.conrelid = $1::regclass AND k.contype IN ('u', 'f')
		ORDER BY 3`, table)
	if err != nil {
		return nil, fmt.Errorf("error reading the indexes of %s: %w", table, err)
	}
	var drops, restore []string
	for rows.Next() {
		var drop, create string
		var order int
		if err := rows.Scan(&drop, &create, &order); err != nil {
			return nil, err
		}
		drops, restore = append(drops, drop), append(restore, create)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("error reading the indexes of %s: %w", table, err)
	}
	for _, stmt := range drops {
		if _, err := pool.Exec(ctx, stmt); err != nil {
			return nil, fmt.Errorf("error setting aside %s (%s): %w", table, stmt, err)
		}
	}
	return restore, nil
}

// reserveIDs moves table's identity past n ids and returns the first of them.
func reserveIDs(ctx context.Context, pool *pgxpool.Pool, table string, n int) (int64, error) {
	var last int64
	err := pool.QueryRow(ctx, `SELECT setval(s, nextval(s) + $2 - 1) FROM pg_get_serial_sequence($1, 'id') s`, table, n).Scan(&last)
	if err != nil {
		return 0, fmt.Errorf("error reserving ids of %s: %w", table, err)
	}
	return last - int64(n) + 1, nil
}

// rows turns a generator of n rows into a COPY source.
func rows(n int, row func(i int) []any) pgx.CopyFromSource {
	i := 0
	return pgx.CopyFromFunc(func() ([]any, error) {
		if i == n {
			return nil, nil
		}
		i++
		return row(i - 1), nil
	})
}

func micros(us int64) time.Time { return time.UnixMicro(us) }

func (w *datasetWriter) agent(a int8) *int64 {
	if a < 0 {
		return nil
	}
	return &w.agents[a]
}

var countryCodes = []string{"52", "52", "52", "57", "34", "54", "56", "51"}

// waID is contact i's number: a country code and nine digits that differ for every i.
func waID(i int) string {
	return countryCodes[i%len(countryCodes)] + "3" + fmt.Sprintf("%09d", (int64(i)*48271+12345)%1_000_000_000)
}

func (w *datasetWriter) contacts() pgx.CopyFromSource {
	r := rand.New(rand.NewPCG(1, 2))
	return rows(len(w.convs), func(i int) []any {
		c := &w.convs[i]
		name := ""
		if r.IntN(30) != 0 { // some customers show no profile name
			name = firstNames[r.IntN(len(firstNames))] + " " + lastNames[r.IntN(len(lastNames))]
			if r.IntN(4) == 0 {
				name += " " + lastNames[r.IntN(len(lastNames))]
			}
		}
		if i%997 == 0 {
			w.d.Numbers = append(w.d.Numbers, waID(i), "+"+waID(i), waID(i)[5:])
			if name != "" {
				w.d.Names = append(w.d.Names, name)
			}
		}
		var inbound *time.Time
		if c.lastInboundAt != 0 {
			t := micros(c.lastInboundAt)
			inbound = &t
		}
		return []any{w.contact0 + int64(i), w.d.ChannelID, waID(i), name, inbound, micros(c.createdAt), micros(c.lastAt)}
	})
}

func (w *datasetWriter) conversations() pgx.CopyFromSource {
	outs := make([]int32, len(w.convs))
	for _, m := range w.msgs {
		if m.sender != gContact {
			outs[m.conv]++
		}
	}
	return rows(len(w.convs), func(i int) []any {
		c := &w.convs[i]
		id := w.conv0 + int64(i)
		if c.messages >= dsLongThreadMessages {
			w.d.LongThreads = append(w.d.LongThreads, id)
		}
		var snoozed *time.Time
		if c.status == "snoozed" {
			t := micros(c.snoozedUntil)
			snoozed = &t
		}
		return []any{id, w.d.ChannelID, w.contact0 + int64(i), c.status, w.agent(c.assignee), c.unread, int64(outs[i]),
			micros(c.lastAt), micros(c.createdAt), micros(c.lastAt), w.d.Teams[c.team], snoozed}
	})
}

func (w *datasetWriter) messages() pgx.CopyFromSource {
	r := rand.New(rand.NewPCG(3, 4))
	outSeq := make([]int32, len(w.convs))
	now := time.Now().UnixMicro()
	var clientID uuid.UUID
	return rows(len(w.msgs), func(i int) []any {
		m := &w.msgs[i]
		id := w.msg0 + int64(i)
		at := micros(m.at)
		wamid := "wamid.bench" + strconv.FormatInt(id, 10)
		if m.sender == gContact {
			return []any{id, w.conv0 + int64(m.conv), "in", "contact", nil, "text", customerLines[r.IntN(len(customerLines))],
				"received", &wamid, nil, nil, int32(0), int32(0), at, at, nil, nil, nil, nil, nil, nil, nil}
		}
		outSeq[m.conv]++
		sender, body := "bot", botLines[r.IntN(len(botLines))]
		switch m.sender {
		case gAgent:
			sender, body = "agent", agentLines[r.IntN(len(agentLines))]
		case gSystem:
			sender, body = "system", "Te comunicamos con una persona del equipo; en breve te responden."
		}
		binaryPutUint64(clientID[:8], r.Uint64())
		binaryPutUint64(clientID[8:], uint64(id))
		cid := clientID
		// Statuses as Meta reported them: nearly everything older than two days was read.
		sent, delivered, read := at.Add(time.Second), at.Add(3*time.Second), at.Add(time.Duration(10+r.IntN(600))*time.Second)
		status, x := "read", r.IntN(100)
		recent := now-m.at < 2*day
		switch {
		case x == 0:
			return []any{id, w.conv0 + int64(m.conv), "out", sender, w.agent(m.agent), "text", body, "failed", nil, &cid,
				int64(outSeq[m.conv]), int32(1), int32(1), at, sent, nil, nil, nil, &sent,
				int32(131026), "Message undeliverable", "Unable to deliver the message."}
		case x < 3 || (recent && x < 15):
			status = "sent"
		case x < 15 || (recent && x < 50):
			status = "delivered"
		}
		row := []any{id, w.conv0 + int64(m.conv), "out", sender, w.agent(m.agent), "text", body, status, &wamid, &cid,
			int64(outSeq[m.conv]), int32(1), int32(1), at, at, &sent, nil, nil, nil, nil, nil, nil}
		if status != "sent" {
			row[16] = &delivered
			row[14] = delivered
		}
		if status == "read" {
			row[17] = &read
			row[14] = read
		}
		return row
	})
}

func binaryPutUint64(b []byte, v uint64) {
	for i := range 8 {
		b[i] = byte(v >> (56 - 8*i))
	}
}

func (w *datasetWriter) history() pgx.CopyFromSource {
	return rows(len(w.hist), func(i int) []any {
		h := &w.hist[i]
		return []any{w.hist0 + int64(i), w.conv0 + int64(h.conv), w.agent(h.actor), h.action, []byte(h.details), micros(h.at)}
	})
}

func (w *datasetWriter) tags() pgx.CopyFromSource {
	type tagRow struct {
		conv int
		tag  uint8
	}
	var all []tagRow
	for i := range w.convs {
		for _, t := range w.convs[i].tags {
			all = append(all, tagRow{i, t})
		}
	}
	return rows(len(all), func(i int) []any {
		c := &w.convs[all[i].conv]
		return []any{w.conv0 + int64(all[i].conv), tagName(int(all[i].tag)), w.agent(c.tagger), micros(c.createdAt + (c.lastAt-c.createdAt)/2)}
	})
}

// tagName is tag t: topics with variants, the popular ones first.
func tagName(t int) string {
	variants := []string{"", "-urgente", "-vip", "-seguimiento"}
	return tagTopics[t%len(tagTopics)] + variants[t/len(tagTopics)%len(variants)]
}
