package realtime

import (
	"bufio"
	"encoding/binary"
	"net"
	"net/http"
	"sync"
)

// Buffer sizes of a socket's own bufio reader and writer, in place of the 4 KiB pair net/http
// hands over with a hijacked connection. Client messages are a few hundred bytes (an auth with its
// token is the largest), and events are written around this writer (wsConn.writeFrames), so small
// buffers cost nothing in speed and save 7.5 KiB per idle socket. The writer must still hold a
// whole control frame (127 bytes): see wsConn.
const (
	readBufferSize  = 512
	writeBufferSize = 256
)

// smallBuffers hands coder/websocket's Accept a hijacked connection wrapped in a wsConn, with
// small bufio buffers. net/http's own buffers stay with its connection object, which is freed
// when the handler returns (serveWS returns as soon as the socket is accepted).
type smallBuffers struct {
	http.ResponseWriter
	conn *wsConn
}

func (w *smallBuffers) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err // Accept wraps it
	}
	c := &wsConn{Conn: nc}
	// A client may send its first messages right behind the upgrade request: the bytes net/http
	// read past it are served first.
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n)
		c.prefix = append([]byte(nil), b...)
	}
	w.conn = c
	return c, bufio.NewReadWriter(bufio.NewReaderSize(c, readBufferSize), bufio.NewWriterSize(c, writeBufferSize)), nil
}

// wsConn is a socket's connection. Events are written to it as frames encoded once for every
// socket (textFrame), a wake-up's worth in one system call, rather than through the library's
// writer, which takes a lock, a header encoding, a copy and a flush, and so one system call, per
// message. The library's own writes (its pongs and close frames, the session's pings and single
// messages) still go through it, and through this Write: mu keeps every write whole and in order.
// The frames the library writes from other goroutines than the session's are control frames, at
// most 127 bytes, which its writer's buffer holds whole, so each reaches Write in one piece and no
// batch of events can land inside one.
type wsConn struct {
	net.Conn
	prefix []byte // read only by the socket's reader goroutine

	mu sync.Mutex
}

func (c *wsConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

func (c *wsConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Conn.Write(p)
}

// writeFrames sends whole frames in one system call (writev on a TCP connection). It consumes
// frames (net.Buffers reslices its elements), which the caller does not reuse.
func (c *wsConn) writeFrames(frames [][]byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	bufs := net.Buffers(frames)
	_, err := bufs.WriteTo(c.Conn)
	return err
}

// textFrame encodes msg as one unmasked, final WebSocket text frame (RFC 6455, section 5.2), as a
// server sends it, so that an event is framed once for all the sockets it goes to.
func textFrame(msg []byte) []byte {
	n := len(msg)
	var f []byte
	switch {
	case n < 126:
		f = append(make([]byte, 0, 2+n), 0x81, byte(n))
	case n <= 0xFFFF:
		f = append(make([]byte, 0, 4+n), 0x81, 126, byte(n>>8), byte(n))
	default:
		f = append(make([]byte, 0, 10+n), 0x81, 127)
		f = binary.BigEndian.AppendUint64(f, uint64(n))
	}
	return append(f, msg...)
}
