package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/coder/websocket"

	"veil/internal/protocol"
)

// maxMessage bounds one message from the server: the largest WELCOME.
const maxMessage = protocol.MaxWelcome

// writeTimeout bounds one write to a socket.
const writeTimeout = 10 * time.Second

// UpgradeError is a refused upgrade: the server answered with an HTTP
// status instead of 101 (429 and 503 for veil's socket caps).
type UpgradeError struct {
	Status int
	Body   string
}

func (e *UpgradeError) Error() string { return fmt.Sprintf("upgrade refused: %d %s", e.Status, e.Body) }

// wsConn is one client socket and the buffer its messages are read into.
// One goroutine reads (ReadMessage); writes may come from any goroutine.
type wsConn struct {
	// set at construction
	c *websocket.Conn

	// owned by the reader
	msg []byte // the last message read; reused
}

// wsClient returns the HTTP client whose connections come from local (nil:
// the kernel's choice). An upgraded connection leaves its pool, so one
// client serves every socket from local.
func wsClient(local net.Addr) *http.Client {
	d := &net.Dialer{LocalAddr: local}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 4}}
}

// dialWS upgrades url (ws://HOST:PORT/PATH) to a WebSocket through hc. A
// refused upgrade is an *UpgradeError. ctx bounds the handshake only.
func dialWS(ctx context.Context, hc *http.Client, url string) (*wsConn, error) {
	c, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{
		HTTPClient:      hc,
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
			return nil, &UpgradeError{Status: resp.StatusCode, Body: strings.TrimSpace(string(body))}
		}
		return nil, err
	}
	c.SetReadLimit(maxMessage)
	return &wsConn{c: c}, nil
}

// WriteBinary writes p as one binary message, bounded by ctx's deadline or,
// without one, by writeTimeout. ctx's end closes the socket.
func (w *wsConn) WriteBinary(ctx context.Context, p []byte) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, writeTimeout)
		defer cancel()
	}
	return w.c.Write(ctx, websocket.MessageBinary, p)
}

// Leave does the close handshake with code: it sends a close frame, waits
// for the server's (the library gives up after 5 s), then shuts the
// connection. A reader blocked in ReadMessage gets the server's close frame
// as a websocket.CloseError.
func (w *wsConn) Leave(code int) { w.c.Close(websocket.StatusCode(code), "") }

// Close shuts the TCP connection at once (unless Leave is under way: then
// it waits for Leave).
func (w *wsConn) Close() { w.c.CloseNow() }

// DropBuffer lets go of the message buffer, which the WELCOME sized, so
// that an idle socket holds only what the messages that follow need.
func (w *wsConn) DropBuffer() { w.msg = nil }

// ReadMessage returns the next data message, read into w's buffer: the
// payload is valid until the next call. ctx bounds the read, and its end
// closes the socket. With a ctx that is never done a read allocates
// nothing once the buffer has grown; one that can end costs the library's
// callback on every frame (8 allocations a message). A close frame from
// the server is a websocket.CloseError; a connection that ends without one
// is an error wrapping io.EOF.
func (w *wsConn) ReadMessage(ctx context.Context) ([]byte, error) {
	_, r, err := w.c.Reader(ctx)
	if err != nil {
		return nil, err
	}
	b := w.msg[:0]
	for {
		if len(b) == cap(b) {
			b = slices.Grow(b, max(cap(b), 512))
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if errors.Is(err, io.EOF) {
			w.msg = b
			return b, nil
		}
		if err != nil {
			w.msg = b
			return nil, err
		}
	}
}
