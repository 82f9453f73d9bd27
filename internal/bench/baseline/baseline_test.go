package baseline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"veil/internal/bench/baseline"
	"veil/internal/protocol"
	"veil/internal/vtest"
)

// TestMain fails the run if a test leaves a goroutine behind.
func TestMain(m *testing.M) { vtest.Main(m) }

// envelope returns an envelope frame of kind from session with body text;
// the baseline reads no more of it than the kind.
func envelope(kind byte, session uint32, text string) []byte {
	h := protocol.Header{Version: protocol.Version, Suite: 1, Kind: kind, Sender: session}
	return append(protocol.AppendHeader([]byte{protocol.TypeEnvelope}, h), text...)
}

type client struct {
	t       testing.TB
	ws      *websocket.Conn
	welcome protocol.Welcome
}

// join opens a socket to srv and joins rid.
func join(t testing.TB, srv *httptest.Server, rid protocol.RID) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	ws.SetReadLimit(protocol.MaxFrame)
	c := &client{t: t, ws: ws}
	c.write(protocol.Encode(protocol.Join{RID: rid}))
	f, err := protocol.Decode(c.read())
	w, ok := f.(protocol.Welcome)
	if err != nil || !ok || w.Session == 0 {
		t.Fatalf("answer to JOIN: %#v, %v; want a WELCOME with a session", f, err)
	}
	c.welcome = w
	return c
}

func (c *client) write(b []byte) {
	c.t.Helper()
	if err := c.ws.Write(c.t.Context(), websocket.MessageBinary, b); err != nil {
		c.t.Fatal(err)
	}
}

func (c *client) read() []byte {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.t.Context(), 5*time.Second)
	defer cancel()
	_, b, err := c.ws.Read(ctx)
	if err != nil {
		c.t.Fatal(err)
	}
	return b
}

// expect reads the next frame and fails unless it is want.
func (c *client) expect(who string, want []byte) {
	c.t.Helper()
	if got := c.read(); !bytes.Equal(got, want) {
		c.t.Fatalf("%s read %q, want %q", who, got, want)
	}
}

func TestCreateAnswers201(t *testing.T) {
	srv := httptest.NewServer(baseline.Handler())
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/api/rooms", "application/json", strings.NewReader(`{"rid":"anything"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var answer struct {
		TTL     int64 `json:"ttl"`
		Expires int64 `json:"expires_in_ms"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil || resp.StatusCode != http.StatusCreated || answer.TTL <= 0 {
		t.Fatalf("POST /api/rooms = %d %+v (%v), want 201 with a ttl", resp.StatusCode, answer, err)
	}
}

// Envelopes go, unchanged, to every other socket of the same rid and to
// no other: not back to the sender, not to another room.
func TestBroadcastStaysInItsRoom(t *testing.T) {
	srv := httptest.NewServer(baseline.Handler())
	defer srv.Close()
	ridA, ridB := protocol.RID{'a'}, protocol.RID{'b'}
	a, b := join(t, srv, ridA), join(t, srv, ridA)
	c, d := join(t, srv, ridB), join(t, srv, ridB)

	fromA := envelope(protocol.KindMsg, a.welcome.Session, "to room a")
	a.write(fromA)
	b.expect("b", fromA)

	// Had fromA reached c, c would read it before fromD.
	fromD := envelope(protocol.KindMsg, d.welcome.Session, "to room b")
	d.write(fromD)
	c.expect("c in the other room", fromD)

	// Nor does a get its own envelope back.
	fromB := envelope(protocol.KindMsg, b.welcome.Session, "back to a")
	b.write(fromB)
	a.expect("a", fromB)
}

// A later joiner's WELCOME lists the hellos sent so far.
func TestWelcomeListsHellos(t *testing.T) {
	srv := httptest.NewServer(baseline.Handler())
	defer srv.Close()
	rid := protocol.RID{'h'}
	a, b := join(t, srv, rid), join(t, srv, rid)
	if len(b.welcome.Members) != 0 {
		t.Fatalf("WELCOME before any hello lists %d members, want 0", len(b.welcome.Members))
	}
	hello := envelope(protocol.KindHello, a.welcome.Session, "a's hello")
	a.write(hello)
	b.expect("b", hello) // the relay has stored it by now

	c := join(t, srv, rid)
	want := []protocol.Member{{Session: a.welcome.Session, Hello: hello[1:]}}
	if got := c.welcome.Members; len(got) != 1 || got[0].Session != want[0].Session || !bytes.Equal(got[0].Hello, want[0].Hello) {
		t.Fatalf("WELCOME members = %+v, want %+v", got, want)
	}
}

func TestEnvelopeBeforeJoinCloses(t *testing.T) {
	srv := httptest.NewServer(baseline.Handler())
	defer srv.Close()
	ws, _, err := websocket.Dial(t.Context(), "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if err := ws.Write(t.Context(), websocket.MessageBinary, envelope(protocol.KindMsg, 1, "x")); err != nil {
		t.Fatal(err)
	}
	if code, _ := vtest.ReadUntilClose(t, ws); code != protocol.CloseBadFrame {
		t.Fatalf("close code %d, want %d", code, protocol.CloseBadFrame)
	}
}
