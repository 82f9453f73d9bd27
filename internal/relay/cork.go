package relay

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// corkAt is how many bytes of frames the writer gathers before it sends
// them; corkMax is the most a corked socket holds before it writes through.
const (
	corkAt  = 64 << 10
	corkMax = 1 << 20
)

// corkBufs holds the arrays of sockets that are not writing, so that a
// socket's burst of frames takes one instead of growing a new one, and an
// idle socket holds none.
var corkBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// corkConn is a hijacked connection that can hold back writes while the
// writer queues a batch of frames, then send them in one write: the
// WebSocket library flushes every frame with a write of its own, a system
// call each, and a room's fan-out writes many small frames to one socket at
// a time.
type corkConn struct {
	net.Conn
	mu     sync.Mutex // guards corked and buf, and orders the writes
	corked bool
	buf    []byte
}

// Write holds p while corked (up to corkMax), else sends what is held and
// then p. The library's frame lock keeps its own writes in order; the lock
// here orders them with uncork, which may run on the writer's goroutine at
// the same time as a ping.
func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.corked && len(c.buf)+len(p) <= corkMax {
		if c.buf == nil {
			c.buf = (*corkBufs.Get().(*[]byte))[:0]
		}
		c.buf = append(c.buf, p...)
		return len(p), nil
	}
	if err := c.sendLocked(); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

func (c *corkConn) cork() {
	c.mu.Lock()
	c.corked = true
	c.mu.Unlock()
}

// uncork sends what was held.
func (c *corkConn) uncork() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	return c.sendLocked()
}

// release gives the held array back to corkBufs while the socket is idle.
func (c *corkConn) release() {
	c.mu.Lock()
	if c.buf != nil && len(c.buf) == 0 {
		b := c.buf
		corkBufs.Put(&b)
		c.buf = nil
	}
	c.mu.Unlock()
}

// Close sends what is held before it closes the connection: the library
// writes its answer to a client's close frame and closes at once, and that
// answer may have been held by a writer's cork. The send is bounded by
// closeFlush, so a peer that does not read cannot hold up the close; and a
// write under way (a peer too slow to take it, being cut) is not waited
// for: closing is what ends it.
func (c *corkConn) Close() error {
	if c.mu.TryLock() {
		if len(c.buf) > 0 {
			c.Conn.SetWriteDeadline(time.Now().Add(closeFlush))
			c.sendLocked()
		}
		c.mu.Unlock()
	}
	return c.Conn.Close()
}

// closeFlush bounds the send of held frames when a socket closes.
const closeFlush = time.Second

// discard forgets what was held: the socket failed, and the frames are
// held for a resume instead.
func (c *corkConn) discard() {
	c.mu.Lock()
	c.corked, c.buf = false, nil
	c.mu.Unlock()
}

func (c *corkConn) sendLocked() error {
	if len(c.buf) == 0 {
		return nil
	}
	_, err := c.Conn.Write(c.buf)
	if cap(c.buf) > corkAt*2 {
		c.buf = nil // keep no big array past a burst of large frames
	} else {
		c.buf = c.buf[:0]
	}
	return err
}

// Buffer sizes for a socket's reads and writes, smaller than the HTTP
// server's 4 KiB each since every open socket keeps both: a frame larger
// than the read buffer is read straight into its message, and writes go
// through the corkConn, which gathers them anyway.
const (
	readBuffer  = 512
	writeBuffer = 512
)

// corkWriter is the ResponseWriter handed to the WebSocket library: its
// Hijack returns the connection wrapped in a corkConn, with small buffered
// reader and writer in place of the HTTP server's.
type corkWriter struct {
	http.ResponseWriter
	conn *corkConn
}

func (w *corkWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("relay: the connection cannot be hijacked")
	}
	nc, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.conn = &corkConn{Conn: nc}
	// A client may send its first frames right behind the request: those
	// bytes are in the HTTP server's reader, and must be in the new one's
	// buffer, where the library looks for them.
	br := bufio.NewReaderSize(w.conn, readBuffer)
	if n := brw.Reader.Buffered(); n > 0 {
		early, _ := brw.Reader.Peek(n)
		br = bufio.NewReaderSize(io.MultiReader(bytes.NewReader(bytes.Clone(early)), w.conn), max(n, readBuffer))
		if _, err := br.Peek(n); err != nil {
			nc.Close()
			return nil, nil, err
		}
	}
	// The 101 answer was flushed before the hijack: brw.Writer is empty.
	return w.conn, bufio.NewReadWriter(br, bufio.NewWriterSize(w.conn, writeBuffer)), nil
}
