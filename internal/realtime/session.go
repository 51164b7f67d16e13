package realtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/jackc/pgx/v5"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/database"
	"github.com/wainbox/wainbox/internal/eventlog"
)

// session is one WebSocket. Its handler goroutine owns all of its state and is the socket's only
// writer; a second goroutine only reads client messages and hands them over, and pings run on a
// short-lived goroutine of their own.
type session struct {
	svc  *Service
	conn *websocket.Conn
	// wc is conn's connection, to which events are written as pre-encoded frames.
	wc *wsConn
	// frames is the list of frames of the last write, kept for the next (keepFrames).
	frames [][]byte
	client *client
	logger *slog.Logger

	in         chan []byte
	readerDone chan struct{}
	done       chan struct{}
	readErr    error // set by the reader before it closes in

	fail    chan closeReason
	pinging atomic.Bool
	// writeGuard drops the connection when a run of writes outlasts the write timeout (a peer
	// that stopped reading, with the kernel's buffers full). One timer per socket, re-armed per
	// run: writes themselves take a context that never ends, because a per-write deadline
	// costs the library a timer and a context callback each time, which was a seventh of the
	// server's CPU in a 1,000-socket fan-out.
	writeGuard *time.Timer

	state      sessionState
	principal  *auth.Principal
	subscribed bool
	// slot is the user whose cap of sockets counts this one, or 0 while it counts among the
	// instance's unauthenticated sockets (admission); serveWS releases it when the session ends.
	slot int64
}

type sessionState int

const (
	stateAuth   sessionState = iota // waiting for the auth message
	stateResume                     // authenticated, waiting for the resume message
	stateLive                       // receiving events
)

type closeReason struct {
	code   websocket.StatusCode
	reason string
}

// closeLost ends a session whose connection is already gone: there is no one to send a code to.
var closeLost = closeReason{}

func newSession(svc *Service, conn *websocket.Conn, wc *wsConn) *session {
	s := &session{
		svc:        svc,
		conn:       conn,
		wc:         wc,
		client:     newClient(svc.cfg.QueueSize),
		logger:     svc.logger,
		in:         make(chan []byte),
		readerDone: make(chan struct{}),
		done:       make(chan struct{}),
		fail:       make(chan closeReason, 1),
	}
	s.writeGuard = time.AfterFunc(svc.cfg.WriteTimeout, s.writeTimedOut)
	s.writeGuard.Stop()
	return s
}

// startWrites arms the write timeout for the writes that follow, until endWrites.
func (s *session) startWrites() { s.writeGuard.Reset(s.svc.cfg.WriteTimeout) }

func (s *session) endWrites() { s.writeGuard.Stop() }

// writeTimedOut runs on the timer's goroutine: closing the connection fails the blocked write,
// and the session ends as lost (a close frame could not get through the full buffers anyway).
func (s *session) writeTimedOut() {
	var userID int64
	if p := s.client.principal.Load(); p != nil { // the session's own field is its goroutine's
		userID = p.UserID
	}
	s.svc.metrics.WriteTimeouts.Inc()
	s.logger.Info("realtime: socket write timed out, dropping it", "timeout", s.svc.cfg.WriteTimeout, "user_id", userID)
	_ = s.conn.CloseNow()
}

func (s *session) run() {
	go s.read()
	cr := s.loop()
	close(s.done)
	s.writeGuard.Stop()
	if s.subscribed {
		s.svc.hub.unsubscribe(s.client)
	}
	if cr == closeLost {
		_ = s.conn.CloseNow()
	} else {
		s.svc.metrics.Closes.WithLabelValues(strconv.Itoa(int(cr.code))).Inc()
		s.logger.Debug("realtime: closing socket", "code", int(cr.code), "reason", cr.reason, "user_id", s.userID())
		_ = s.conn.Close(cr.code, cr.reason)
	}
	<-s.readerDone
}

func (s *session) userID() int64 {
	if s.principal == nil {
		return 0
	}
	return s.principal.UserID
}

// read hands client messages to the session until the connection ends. It reads with no
// deadline: cancelling a read would drop the connection without a close frame, so deadlines are
// the session's timers, which close with a code.
func (s *session) read() {
	defer close(s.readerDone)
	defer close(s.in)
	for {
		typ, data, err := s.conn.Read(context.Background())
		if err != nil {
			s.readErr = err
			return
		}
		if typ != websocket.MessageText {
			data = nil // the session refuses it
		}
		select {
		case s.in <- data:
		case <-s.done:
			return
		}
	}
}

func (s *session) loop() closeReason {
	cfg := &s.svc.cfg
	authTimer := time.NewTimer(cfg.AuthTimeout)
	defer authTimer.Stop()
	authC := authTimer.C
	expiry := time.NewTimer(time.Hour)
	expiry.Stop()
	defer expiry.Stop()
	ping := time.NewTicker(cfg.PingInterval)
	defer ping.Stop()

	for {
		select {
		case <-s.svc.ctx.Done():
			return closeReason{websocket.StatusGoingAway, "server shutting down"}
		case <-authC:
			if s.state == stateAuth {
				return closeReason{CloseAuthTimeout, "no auth message within " + cfg.AuthTimeout.String()}
			}
			return closeReason{CloseAuthTimeout, "no resume message within " + cfg.AuthTimeout.String()}
		case <-expiry.C:
			return closeReason{CloseTokenExpired, "access token expired; reconnect with a new one"}
		case cr := <-s.fail:
			return cr
		case <-ping.C:
			s.ping()
		case <-s.client.wake:
			if cr, ok := s.flush(); !ok {
				return cr
			}
		case data, ok := <-s.in:
			if !ok {
				if websocket.CloseStatus(s.readErr) == -1 && !errors.Is(s.readErr, context.Canceled) {
					s.logger.Debug("realtime: socket read ended", "error", s.readErr, "user_id", s.userID())
				}
				return closeLost
			}
			wasAuth := s.state
			if cr, ok := s.handle(data, expiry); !ok {
				return cr
			}
			switch {
			case wasAuth == stateAuth && s.state == stateResume:
				authTimer.Reset(cfg.AuthTimeout)
			case wasAuth == stateResume && s.state == stateLive:
				authTimer.Stop()
				authC = nil
			}
		}
	}
}

// handle acts on one client message; ok is false when the socket must close with cr.
func (s *session) handle(data []byte, expiry *time.Timer) (cr closeReason, ok bool) {
	if data == nil {
		return closeReason{CloseInvalidMessage, "binary messages are not supported"}, false
	}
	m, err := parseClientMessage(data)
	if err != nil {
		return closeReason{CloseInvalidMessage, err.Error()}, false
	}
	if s.state == stateAuth && m.Type != typeAuth {
		return closeReason{CloseInvalidMessage, "the first message must be auth"}, false
	}
	switch m.Type {
	case typeAuth:
		return s.authenticate(m.Token, expiry)
	case typeResume:
		if s.state != stateResume {
			return closeReason{CloseInvalidMessage, "resume may be sent once"}, false
		}
		return s.resume(m.After)
	default: // typePing: parseClientMessage lets no other type through
		return s.write(mustJSON(typeMessage{Type: "pong"}))
	}
}

// authenticate handles the first auth message and in-band renewals. A renewal must be for the
// same user; it may carry a new role, which applies to the next event delivered.
func (s *session) authenticate(token string, expiry *time.Timer) (closeReason, bool) {
	p, err := s.svc.cfg.Tokens.Verify(token)
	switch {
	case errors.Is(err, auth.ErrExpiredToken):
		return closeReason{CloseTokenExpired, "access token expired; reconnect with a new one"}, false
	case database.Unavailable(err):
		// The token could not be checked, which is not the token's fault: 1011 makes the client
		// reconnect with backoff, where 4001 would send the agent back to the login page.
		s.logger.Warn("realtime: access token not checked: database unavailable", "error", err)
		return closeReason{websocket.StatusInternalError, "the service is temporarily unavailable; reconnect shortly"}, false
	case err != nil:
		return closeReason{CloseInvalidToken, "invalid access token"}, false
	case s.principal != nil && p.UserID != s.principal.UserID:
		return closeReason{CloseUserMismatch, "renewal token belongs to another user"}, false
	}
	if s.slot == 0 {
		if !s.svc.admitted.promote(p.UserID) {
			return closeReason{CloseTooManySockets, fmt.Sprintf(
				"this user has %d sockets on this instance already; close some, reconnect later", s.svc.cfg.MaxSocketsPerUser)}, false
		}
		s.slot = p.UserID
	}
	s.principal = p
	s.client.principal.Store(p)
	expiry.Reset(time.Until(p.ExpiresAt))
	if s.state == stateAuth {
		s.state = stateResume
	}
	return s.write(mustJSON(authenticatedMessage{Type: "authenticated", UserID: p.UserID, Role: p.Role, ExpiresAt: p.ExpiresAt.UTC()}))
}

// resume subscribes the socket and replays what it missed: the events after its cursor up to the
// hub's position, read from the table in log order. Live events after that position queue up
// meanwhile and follow the ready message, so nothing falls between replay and live delivery.
func (s *session) resume(after *int64) (closeReason, bool) {
	ctx, cancel := context.WithTimeout(s.svc.ctx, 30*time.Second)
	defer cancel()
	var (
		from  *Position
		reset string
	)
	switch {
	case after == nil:
	case *after == 0:
		from = &Position{}
	default:
		row, err := s.svc.q.EventPosition(ctx, s.svc.pool, *after)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			reset = resetUnknownCursor
		case err != nil:
			return s.internalError("error resolving resume cursor", err)
		case time.Since(row.CreatedAt) > s.svc.cfg.MaxReplayAge:
			reset = resetTooOld
		default:
			from = &Position{Xid: row.Xid.Uint64, ID: row.ID}
		}
	}

	head, err := s.svc.hub.subscribe(ctx, s.client, from)
	if err != nil {
		return s.internalError("error subscribing", err)
	}
	s.subscribed = true
	s.state = stateLive
	readyID := head.ID

	if from != nil && !head.After(*from) {
		readyID = from.ID // the client is ahead of this instance: nothing to replay
	}
	if from != nil && head.After(*from) {
		n, err := s.svc.q.EventCountRange(ctx, s.svc.pool, db.EventCountRangeParams{
			AfterXid: xid8(from.Xid), AfterID: from.ID, UptoXid: xid8(head.Xid), UptoID: head.ID,
			RowLimit: int32(s.svc.cfg.MaxReplay + 1),
		})
		if err != nil {
			return s.internalError("error counting events to replay", err)
		}
		if n > int64(s.svc.cfg.MaxReplay) {
			reset = resetTooFarBehind
		} else if cr, ok := s.replay(ctx, *from, head); !ok {
			return cr, false
		}
	}
	if reset != "" {
		s.svc.metrics.Resets.Inc()
		if cr, ok := s.write(mustJSON(resetMessage{Type: "reset", Reason: reset})); !ok {
			return cr, false
		}
	}
	return s.write(mustJSON(positionMessage{Type: "ready", ID: readyID}))
}

// replay writes the events in (from, upto] that the client may see.
func (s *session) replay(ctx context.Context, from, upto Position) (closeReason, bool) {
	cur := from
	for {
		rows, err := s.svc.q.EventListRange(ctx, s.svc.pool, db.EventListRangeParams{
			AfterXid: xid8(cur.Xid), AfterID: cur.ID, UptoXid: xid8(upto.Xid), UptoID: upto.ID,
			RowLimit: int32(s.svc.cfg.BatchSize),
		})
		if err != nil {
			return s.internalError("error reading events to replay", err)
		}
		frames := make([][]byte, 0, len(rows))
		revoked := false
		for _, r := range rows {
			ev := &Event{
				Position: Position{Xid: r.Xid.Uint64, ID: r.ID}, Kind: r.Kind, ConversationID: r.ConversationID,
				AssigneeID: r.AssigneeID, GroupID: r.GroupID, Payload: r.Payload, CreatedAt: r.CreatedAt,
				Former: formerHolder(r.Kind, r.Payload, r.GroupID),
			}
			cur = ev.Position
			// A revocation of this very session committed while the socket was authenticating
			// reaches it here rather than live. (Revocations of all of a user's sessions are
			// not applied from replay: they may predate this login.) The events before it are
			// still sent, then the close.
			if ev.Kind == eventlog.SessionsRevoked && s.principal.SessionID != "" && revokes(ev, s.principal.SessionID) {
				revoked = true
				break
			}
			if ev.visibleTo(s.principal) {
				frames = append(frames, ev.encodeFrame())
			}
		}
		sent := len(frames)
		if sent > 0 {
			// One page of events in one system call.
			s.startWrites()
			err := s.wc.writeFrames(frames)
			s.endWrites()
			if err != nil {
				return closeLost, false
			}
			s.svc.metrics.EventsReplayed.Add(float64(sent))
		}
		if revoked {
			return closeReason{CloseSessionRevoked, "session revoked; log in again"}, false
		}
		if len(rows) < s.svc.cfg.BatchSize {
			return closeReason{}, true
		}
	}
}

// flush writes what the hub queued, or closes a client that overflowed its queue or whose
// session the hub ended.
func (s *session) flush() (closeReason, bool) {
	if code, reason := s.client.closing(); code != 0 {
		return closeReason{code, reason}, false
	}
	msgs, overflowed := s.client.take()
	if len(msgs) > 0 {
		frames := s.frames[:0]
		events := 0
		for _, m := range msgs {
			frames = append(frames, m.frame)
			if m.event {
				events++
			}
		}
		s.client.release(msgs)
		s.startWrites()
		err := s.wc.writeFrames(frames)
		s.endWrites()
		s.keepFrames(frames)
		if err != nil {
			s.logger.Debug("realtime: write failed", "error", err, "user_id", s.userID())
			return closeLost, false
		}
		s.svc.metrics.EventsDelivered.Add(float64(events))
	}
	if overflowed {
		return closeReason{CloseSlowConsumer, "too many undelivered events; reconnect and resume"}, false
	}
	return closeReason{}, true
}

// keepFrames keeps a written list of frames for the next run, unless a backlog made it large.
func (s *session) keepFrames(frames [][]byte) {
	clear(frames)
	if cap(frames) <= maxSpareQueue {
		s.frames = frames[:0]
	} else {
		s.frames = nil
	}
}

// write sends one message. Writes are not cut short by shutdown (a cancelled write drops the
// connection without a close frame); the write timeout bounds them.
func (s *session) write(b []byte) (closeReason, bool) {
	s.startWrites()
	defer s.endWrites()
	if err := s.conn.Write(context.Background(), websocket.MessageText, b); err != nil {
		return closeLost, false
	}
	return closeReason{}, true
}

func (s *session) internalError(msg string, err error) (closeReason, bool) {
	if s.svc.ctx.Err() != nil {
		return closeReason{websocket.StatusGoingAway, "server shutting down"}, false
	}
	s.logger.Error("realtime: "+msg, "error", err, "user_id", s.userID())
	return closeReason{websocket.StatusInternalError, "internal error; reconnect and resume"}, false
}

// ping checks that the peer still answers. The library answers pings but sends none, and a
// browser tab that vanished without closing would otherwise hold its socket forever.
func (s *session) ping() {
	if !s.pinging.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer s.pinging.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), s.svc.cfg.PingTimeout)
		defer cancel()
		if err := s.conn.Ping(ctx); err != nil {
			select {
			case s.fail <- closeReason{CloseNoPong, fmt.Sprintf("no pong within %s", s.svc.cfg.PingTimeout)}:
			default:
			}
		}
	}()
}
