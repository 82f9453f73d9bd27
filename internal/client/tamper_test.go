package client

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/coder/websocket"

	"veil/internal/e2ee"
	"veil/internal/protocol"
	"veil/internal/vtest"
)

// tamperer is a relay wrapper for tests: clients connect to it, it connects
// to the real relay, and it mutates, replays, reorders, drops and injects
// frames on their way to the client, by a fixed schedule, while on.
type tamperer struct {
	srv      *httptest.Server
	upstream string
	on       atomic.Bool
	counts   sync.Map // what it did -> *atomic.Int64
}

func newTamperer(t *testing.T, s *vtest.Server) *tamperer {
	tp := &tamperer{upstream: s.WSURL()}
	tp.on.Store(true)
	tp.srv = httptest.NewServer(http.HandlerFunc(tp.serve))
	t.Cleanup(tp.srv.Close)
	return tp
}

func (tp *tamperer) count(what string) {
	v, _ := tp.counts.LoadOrStore(what, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

func (tp *tamperer) did(what string) int64 {
	v, ok := tp.counts.Load(what)
	if !ok {
		return 0
	}
	return v.(*atomic.Int64).Load()
}

// link points rm's link at the tamperer.
func (tp *tamperer) link(rm *vtest.Room) string { return linkVia(tp.srv.URL, rm) }

// linkVia points rm's link at a test proxy's base URL.
func linkVia(base string, rm *vtest.Room) string {
	_, frag, _ := strings.Cut(rm.Link, "#")
	return base + "/#" + frag
}

// interpose accepts a client's socket, dials upstream for it, copies the
// client's frames upstream unchanged, and runs toClient with both sockets
// until either side ends. Both tamperers are built on it.
func interpose(w http.ResponseWriter, r *http.Request, upstream string, toClient func(ctx context.Context, up, down *websocket.Conn)) {
	down, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	down.SetReadLimit(protocol.MaxFrame)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	up, _, err := websocket.Dial(ctx, upstream, nil)
	if err != nil {
		down.CloseNow()
		return
	}
	up.SetReadLimit(protocol.MaxFrame)
	defer up.CloseNow()
	defer down.CloseNow()
	go func() {
		defer cancel()
		for {
			typ, b, err := down.Read(ctx)
			if err != nil || up.Write(ctx, typ, b) != nil {
				return
			}
		}
	}()
	toClient(ctx, up, down)
}

func (tp *tamperer) serve(w http.ResponseWriter, r *http.Request) {
	interpose(w, r, tp.upstream, tp.toClient)
}

// toClient alters the relay's frames on their way to the client.
func (tp *tamperer) toClient(ctx context.Context, up, down *websocket.Conn) {
	var held []byte
	var firstKey []byte
	n := 0
	send := func(b []byte) bool { return down.Write(ctx, websocket.MessageBinary, b) == nil }
	for {
		_, b, err := up.Read(ctx)
		if err != nil {
			return
		}
		h, herr := protocol.ParseHeader(b[1:])
		isMsg := herr == nil && b[0] == protocol.TypeEnvelope && (h.Kind == protocol.KindMsg || h.Kind == protocol.KindDM)
		if herr == nil && h.Kind == protocol.KindSenderKey && firstKey == nil {
			firstKey = b
		}
		if !tp.on.Load() || !isMsg {
			if held != nil {
				send(held)
				held = nil
			}
			if !send(b) {
				return
			}
			continue
		}
		n++
		out := [][]byte{}
		switch n % 8 {
		case 1: // mutate one byte anywhere past the frame type
			m := append([]byte{}, b...)
			var r [2]byte
			rand.Read(r[:])
			i := 1 + int(r[0])%(len(m)-1)
			m[i] ^= 1 << (r[1] % 8)
			out = append(out, m)
			tp.count("mutated")
		case 2: // replay it
			out = append(out, b, b)
			tp.count("replayed")
		case 3: // hold it back, it goes after the next frame
			held = b
			tp.count("reordered")
		case 4: // drop it
			tp.count("dropped")
		case 5: // inject a forgery with the same header and junk after it
			f := append([]byte{}, b[:1+protocol.HeaderLen]...)
			f[1+39]++ // another seq
			junk := make([]byte, len(b)-len(f))
			rand.Read(junk)
			out = append(out, append(f, junk...), b)
			tp.count("injected")
		case 6: // replay an old sender key, then the message
			if firstKey != nil {
				out = append(out, firstKey)
				tp.count("old key replayed")
			}
			out = append(out, b)
		case 7: // move it to another epoch
			m := append([]byte{}, b...)
			m[1+31]++
			out = append(out, m)
			tp.count("moved epoch")
		default:
			out = append(out, b)
		}
		if held != nil && n%8 != 3 {
			out = append(out, held)
			held = nil
		}
		for _, f := range out {
			if !send(f) {
				return
			}
		}
	}
}

// Clients behind a tampering relay accept no altered frame, report the gaps,
// and go on working with honest traffic.
func TestTamperingRelay(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{Relay: vtest.Unthrottled})
	tp := newTamperer(t, s)
	rm := s.CreateRoom(t, vtest.CreateOptions{})
	a := dial(t, rm, "a")
	victim := &vtest.Room{Link: tp.link(rm)}
	tp.on.Store(false)
	b := dial(t, victim, "b")
	settle(t, a, b)
	ab, _ := a.Member("b")
	a.DM(t.Context(), ab.Session, "dm setup")
	expect(t, b, "dm", "dm setup")
	tp.on.Store(true)

	const total = 160
	sent := map[string]bool{}
	for i := range total {
		text := fmt.Sprintf("honest %03d", i)
		sent[text] = true
		var err error
		if i%4 == 0 {
			err = a.DM(t.Context(), ab.Session, text)
		} else {
			err = a.Say(t.Context(), text, 0)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	tp.on.Store(false)
	a.Say(t.Context(), "honest again", 0)

	got := map[string]int{}
	var gaps uint64
	rejects := 0
	for {
		e := next(t, b)
		if e.Type == "msg" && e.Text == "honest again" {
			break
		}
		switch e.Type {
		case "msg", "dm":
			got[e.Text]++
		case "gap":
			gaps += e.Missing
		case "reject":
			rejects++
		}
	}
	for text, n := range got {
		if !sent[text] || n != 1 {
			t.Errorf("accepted %q %d times (sent: %v)", text, n, sent[text])
		}
	}
	for _, what := range []string{"mutated", "replayed", "reordered", "dropped", "injected", "old key replayed", "moved epoch"} {
		if tp.did(what) == 0 {
			t.Errorf("the tamperer never %s a frame", what)
		}
	}
	// Every frame that reached b unaltered was accepted; the dropped, mutated
	// and moved ones are missing and shown as gaps.
	lost := tp.did("dropped") + tp.did("mutated") + tp.did("moved epoch")
	if len(got) != total-int(lost) || gaps == 0 || rejects == 0 {
		t.Fatalf("accepted %d of %d (lost %d), gaps %d, rejects %d", len(got), total, lost, gaps, rejects)
	}
	// And the room still works both ways.
	b.Say(t.Context(), "still fine", 0)
	expect(t, a, "msg", "still fine")
	ba, _ := b.Member("a")
	b.DM(t.Context(), ba.Session, "dm still fine")
	expect(t, a, "dm", "dm still fine")
	t.Logf("tamperer: mutated %d, replayed %d, reordered %d, dropped %d, injected %d, old keys %d, moved %d; b accepted %d of %d, gaps %d, rejects %d",
		tp.did("mutated"), tp.did("replayed"), tp.did("reordered"), tp.did("dropped"), tp.did("injected"), tp.did("old key replayed"), tp.did("moved epoch"),
		len(got), total, gaps, rejects)
}

// Forward secrecy: every frame of a conversation is recorded; a decoder
// that is then given the link and the password opens no message.
func TestRecordedTrafficStaysSealed(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{Relay: vtest.Unthrottled})
	rm := s.CreateRoom(t, vtest.CreateOptions{Password: "correct horse"})
	var mu sync.Mutex
	var frames [][]byte
	tap := func(c *Config) {
		c.Tap = func(_ string, f []byte) {
			mu.Lock()
			frames = append(frames, append([]byte{}, f...))
			mu.Unlock()
		}
	}
	a := dial(t, rm, "a", tap)
	b := dial(t, rm, "b", tap)
	settle(t, a, b)
	ab, _ := a.Member("b")
	for i := range 20 {
		a.Say(t.Context(), fmt.Sprintf("group %d", i), 0)
		expect(t, b, "msg", fmt.Sprintf("group %d", i))
		a.DM(t.Context(), ab.Session, fmt.Sprintf("dm %d", i))
		expect(t, b, "dm", fmt.Sprintf("dm %d", i))
	}
	// The adversary: the link, the password, and every frame.
	l, _ := e2ee.ParseLink(rm.Link)
	k, err := e2ee.DeriveRoom(l.Secret[:], rm.Password)
	if err != nil {
		t.Fatal(err)
	}
	candidates := [][]byte{k.Msg[:], k.Roster[:], k.Join[:], k.Verifier[:], l.Secret[:]}
	mu.Lock()
	defer mu.Unlock()
	messages, opened := 0, 0
	for _, f := range frames {
		if len(f) == 0 || f[0] != protocol.TypeEnvelope {
			continue
		}
		h, err := protocol.ParseHeader(f[1:])
		if err != nil || (h.Kind != protocol.KindMsg && h.Kind != protocol.KindDM) {
			continue
		}
		messages++
		for _, key := range candidates {
			if len(key) != 32 {
				continue
			}
			// Skip the signature check: the adversary only wants plaintext.
			if _, err := openNoSig(f[1:], key); err == nil {
				opened++
			}
		}
	}
	if messages < 40 || opened != 0 {
		t.Fatalf("the recorder opened %d of %d messages", opened, messages)
	}
}

func openNoSig(env, key []byte) ([]byte, error) {
	return e2ee.Decrypt(env, key)
}
