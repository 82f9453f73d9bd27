package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The WebSocket client here is the part of RFC 6455 the generator needs:
// the opening handshake, binary messages, answers to pings, and the close
// handshake. It exists so that reading a frame costs a few bounds checks
// and no allocation; through a general library, at a million deliveries a
// second on one core, the generator would be what is measured.

// wsGUID is the fixed string of RFC 6455 section 1.3.
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// WebSocket opcodes.
const (
	opCont   = 0x0
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xa
)

// maxMessage bounds one message from the server. A WELCOME of a 200-member
// room is larger than a protocol frame (about 78 KB), so this is above
// protocol.MaxFrame.
const maxMessage = 4 << 20

// handshakeTimeout bounds the opening handshake when ctx has no deadline.
const handshakeTimeout = 10 * time.Second

// writeTimeout bounds one write to a socket.
const writeTimeout = 10 * time.Second

// UpgradeError is a refused upgrade: the server answered with an HTTP
// status instead of 101 (429 and 503 for veil's socket caps).
type UpgradeError struct {
	Status int
	Body   string
}

func (e *UpgradeError) Error() string { return fmt.Sprintf("upgrade refused: %d %s", e.Status, e.Body) }

// CloseError is a close frame from the server.
type CloseError struct {
	Code   int
	Reason string
}

func (e *CloseError) Error() string { return fmt.Sprintf("closed %d %s", e.Code, e.Reason) }

// errNoClose is a connection that ended without a close frame.
var errNoClose = errors.New("connection lost without a close frame")

// wsConn is one client socket. One goroutine reads (ReadMessage); writes
// may come from any goroutine.
type wsConn struct {
	// set at construction
	c  net.Conn
	br *bufio.Reader

	// owned by the reader
	msg []byte // the message being assembled; reused

	wmu        sync.Mutex // guards the writes and the fields below
	wbuf       []byte
	closeSent  bool
	writeError error
}

// dialWS connects to addr (host:port) from local (nil: any), upgrades path
// to a WebSocket and returns the socket. bufSize is the read buffer's size.
func dialWS(ctx context.Context, local net.Addr, addr, path string, bufSize int) (*wsConn, error) {
	d := net.Dialer{LocalAddr: local}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(handshakeTimeout)
	}
	c.SetDeadline(deadline)
	var nonce [16]byte
	rand.Read(nonce[:])
	key := base64.StdEncoding.EncodeToString(nonce[:])
	req := "GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		c.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(c, bufSize)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("upgrade: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
		resp.Body.Close()
		c.Close()
		return nil, &UpgradeError{Status: resp.StatusCode, Body: strings.TrimSpace(string(body))}
	}
	sum := sha1.Sum([]byte(key + wsGUID))
	if resp.Header.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(sum[:]) ||
		!strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") {
		c.Close()
		return nil, errors.New("upgrade: the answer is not a WebSocket handshake")
	}
	c.SetDeadline(time.Time{})
	return &wsConn{c: c, br: br}, nil
}

// appendFrame appends a masked client frame of opcode op carrying payload.
func appendFrame(b []byte, op byte, payload []byte) []byte {
	b = append(b, 0x80|op)
	switch n := len(payload); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n <= 0xffff:
		b = append(b, 0x80|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	var mask [4]byte
	rand.Read(mask[:])
	b = append(b, mask[:]...)
	start := len(b)
	b = append(b, payload...)
	for i := range payload {
		b[start+i] ^= mask[i&3]
	}
	return b
}

// binaryFrame returns payload as a complete masked binary frame, for
// WriteFrame: the generator builds its frames before the clock starts.
func binaryFrame(payload []byte) []byte {
	return appendFrame(make([]byte, 0, len(payload)+14), opBinary, payload)
}

// WriteFrame writes a frame made by binaryFrame.
func (w *wsConn) WriteFrame(frame []byte) error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	return w.writeLocked(frame)
}

// WriteBinary writes payload as one binary message.
func (w *wsConn) WriteBinary(payload []byte) error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	w.wbuf = appendFrame(w.wbuf[:0], opBinary, payload)
	return w.writeLocked(w.wbuf)
}

func (w *wsConn) writeLocked(b []byte) error {
	if w.writeError != nil {
		return w.writeError
	}
	if w.closeSent {
		return net.ErrClosed
	}
	w.c.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := w.c.Write(b); err != nil {
		w.writeError = err
		return err
	}
	return nil
}

// writeControl writes a control frame; a close frame is written once.
func (w *wsConn) writeControl(op byte, payload []byte) error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if w.closeSent {
		return nil
	}
	w.wbuf = appendFrame(w.wbuf[:0], op, payload)
	err := w.writeLocked(w.wbuf)
	if op == opClose {
		w.closeSent = true
	}
	return err
}

// SendClose starts the close handshake with code; the reader sees the
// server's answer as a CloseError.
func (w *wsConn) SendClose(code int) error {
	return w.writeControl(opClose, binary.BigEndian.AppendUint16(nil, uint16(code)))
}

// Close shuts the TCP connection at once.
func (w *wsConn) Close() error { return w.c.Close() }

// SetReadDeadline bounds the reads that follow.
func (w *wsConn) SetReadDeadline(t time.Time) { w.c.SetReadDeadline(t) }

// DropBuffer lets go of a large message buffer (a big WELCOME) so that an
// idle socket holds little.
func (w *wsConn) DropBuffer() {
	if cap(w.msg) > 64<<10 {
		w.msg = nil
	}
}

// ReadMessage returns the next data message. The payload is valid until the
// next call. Pings are answered here; a close frame is answered and
// returned as a *CloseError; a connection that ends without one is
// errNoClose.
func (w *wsConn) ReadMessage() (op byte, payload []byte, err error) {
	w.msg = w.msg[:0]
	started := false
	for {
		hdr, err := w.br.Peek(2)
		if err != nil {
			return 0, nil, lostErr(err)
		}
		fin, rsv, code := hdr[0]&0x80 != 0, hdr[0]&0x70, hdr[0]&0x0f
		if hdr[1]&0x80 != 0 || rsv != 0 {
			return 0, nil, errors.New("websocket: a masked or extended frame from the server")
		}
		n := uint64(hdr[1] & 0x7f)
		skip := 2
		switch n {
		case 126:
			ext, err := w.br.Peek(4)
			if err != nil {
				return 0, nil, lostErr(err)
			}
			n, skip = uint64(binary.BigEndian.Uint16(ext[2:])), 4
		case 127:
			ext, err := w.br.Peek(10)
			if err != nil {
				return 0, nil, lostErr(err)
			}
			n, skip = binary.BigEndian.Uint64(ext[2:]), 10
		}
		w.br.Discard(skip)
		if code >= opClose {
			if n > 125 || !fin {
				return 0, nil, errors.New("websocket: bad control frame")
			}
			var ctl [125]byte
			if _, err := io.ReadFull(w.br, ctl[:n]); err != nil {
				return 0, nil, lostErr(err)
			}
			switch code {
			case opPing:
				w.writeControl(opPong, ctl[:n])
			case opClose:
				ce := &CloseError{Code: 1005}
				if n >= 2 {
					ce.Code, ce.Reason = int(binary.BigEndian.Uint16(ctl[:2])), string(ctl[2:n])
				}
				w.writeControl(opClose, ctl[:min(n, 2)])
				return 0, nil, ce
			}
			continue
		}
		switch {
		case code == opCont && !started, code != opCont && started, code != opCont && code != opBinary && code != opText:
			return 0, nil, fmt.Errorf("websocket: unexpected opcode %#x", code)
		}
		if code != opCont {
			op, started = code, true
		}
		if uint64(len(w.msg))+n > maxMessage {
			return 0, nil, fmt.Errorf("websocket: a message over %d bytes", maxMessage)
		}
		start := len(w.msg)
		w.msg = grow(w.msg, int(n))
		if _, err := io.ReadFull(w.br, w.msg[start:]); err != nil {
			return 0, nil, lostErr(err)
		}
		if fin {
			return op, w.msg, nil
		}
	}
}

// grow extends b by n bytes, reallocating only when it must.
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b[:len(b)+n]
	}
	nb := make([]byte, len(b)+n, max(2*cap(b), len(b)+n, 512))
	copy(nb, b)
	return nb
}

func lostErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errNoClose
	}
	return err
}
