package bench

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// wsServer starts a WebSocket server on loopback that runs serve on each
// socket it accepts, and returns its ws:// URL.
func wsServer(t *testing.T, serve func(c *websocket.Conn)) string {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		serve(c)
	}))
	t.Cleanup(s.Close)
	return "ws" + strings.TrimPrefix(s.URL, "http")
}

// The report names a refused upgrade by its status, a close by its code and
// reason, and a socket cut without a close frame as such.
func TestSocketErrorsAreClassified(t *testing.T) {
	refused := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "too many connections from your address", http.StatusTooManyRequests)
	}))
	defer refused.Close()
	for name, c := range map[string]struct {
		url  string
		want string
	}{
		"refused": {"ws" + strings.TrimPrefix(refused.URL, "http"), "upgrade refused 429 too many connections from your address"},
		"closed":  {wsServer(t, func(c *websocket.Conn) { c.Close(4005, "room full") }), "closed 4005 room full"},
		"cut":     {wsServer(t, func(c *websocket.Conn) { c.CloseNow() }), "connection lost without a close frame"},
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			ws, err := dialWS(ctx, wsClient(nil), c.url)
			if err == nil {
				_, err = ws.ReadMessage(ctx)
				ws.Close()
			}
			if got := classify(err); got != c.want {
				t.Errorf("classify(%v) = %q, want %q", err, got, c.want)
			}
		})
	}
}

// A message above the library's default limit (a big room's WELCOME) is
// read whole, and reading messages into the socket's buffer allocates
// nothing once the buffer has grown.
func TestReadMessage(t *testing.T) {
	big := bytes.Repeat([]byte("w"), 200<<10)
	small := bytes.Repeat([]byte("e"), 300)
	const n = 200
	sent := make(chan struct{})
	url := wsServer(t, func(c *websocket.Conn) {
		defer c.CloseNow()
		ctx := context.Background()
		c.Write(ctx, websocket.MessageBinary, big)
		for range n {
			c.Write(ctx, websocket.MessageBinary, small)
		}
		close(sent)
		c.Read(ctx) // until the client goes
	})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ws, err := dialWS(ctx, wsClient(nil), url)
	if err != nil {
		t.Fatalf("dialWS = %v", err)
	}
	defer ws.Close()
	if p, err := ws.ReadMessage(ctx); err != nil || !bytes.Equal(p, big) {
		t.Fatalf("ReadMessage = %d bytes, %v; want the %d-byte message", len(p), err, len(big))
	}
	<-sent
	var failed error
	allocs := testing.AllocsPerRun(n-1, func() {
		if p, err := ws.ReadMessage(context.Background()); err != nil || !bytes.Equal(p, small) {
			failed = err
		}
	})
	if failed != nil {
		t.Fatalf("ReadMessage = %v", failed)
	}
	if allocs != 0 {
		t.Errorf("ReadMessage allocates %.1f times a message, want 0", allocs)
	}
}
