package tui

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"veil/internal/client"
	"veil/internal/vtest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestMain(m *testing.M) { vtest.Main(m) }

// fakeRoom is a Room with fixed keys, members and countdown, recording what
// the interface asks of it.
type fakeRoom struct {
	mu        sync.Mutex
	alias     string
	fp        string
	name      string
	remaining time.Duration
	members   []client.Member
	dmSafety  map[uint32]string
	said      []string
	dms       []string
	purges    []*[32]byte
	logouts   int
	closed    int
	sayErr    error
	files     []sentFile
	fileErr   error
	events    chan client.Event // closed by Close, as client.Client does

	claims    [][32]byte
	kicks     []uint32
	locks     []bool
	actives   int
	reports   []string // "id|note"
	reportErr error
	forgotten []string
	noReports bool // the room takes no reports
	owner     bool
	locked    bool
}

// sentFile is one SendFile call.
type sentFile struct {
	to        uint32
	name, typ string
	data      []byte
	voice     bool
}

func newFakeRoom() *fakeRoom {
	return &fakeRoom{
		alias: "alice", fp: "3f2a-91bc-0d4e-77a1", name: "Night shift", remaining: 47*time.Minute + 12*time.Second,
		dmSafety: map[uint32]string{},
	}
}

var (
	bob   = client.Member{Session: 7, Alias: "bob", Fingerprint: "1a2b-3c4d-5e6f-7a8b", Safety: "1234 5678 9012"}
	carol = client.Member{Session: 9, Alias: "carol", Fingerprint: "9e8d-7c6b-5a49-3827", Safety: "4821 0937 5562"}
	dave  = client.Member{Session: 11, Alias: "dave", Fingerprint: "0c1d-2e3f-4a5b-6c7d", Safety: "7788 1200 4431"}
)

func (f *fakeRoom) Alias() string                { return f.alias }
func (f *fakeRoom) Fingerprint() string          { return f.fp }
func (f *fakeRoom) RoomName() string             { return f.name }
func (f *fakeRoom) Remaining() time.Duration     { return f.remaining }
func (f *fakeRoom) DMSafety(s uint32) string     { f.mu.Lock(); defer f.mu.Unlock(); return f.dmSafety[s] }
func (f *fakeRoom) Logout(context.Context) error { f.mu.Lock(); f.logouts++; f.mu.Unlock(); return nil }

func (f *fakeRoom) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed++
	if f.closed == 1 && f.events != nil {
		close(f.events)
	}
	return nil
}

func (f *fakeRoom) Members() []client.Member {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]client.Member(nil), f.members...)
}

func (f *fakeRoom) Member(who string) (client.Member, error) {
	for _, m := range f.Members() {
		if strings.EqualFold(m.Alias, who) || fmt.Sprint(m.Session) == who {
			return m, nil
		}
	}
	return client.Member{}, client.ErrNotMember
}

func (f *fakeRoom) Verify(s uint32) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.members {
		if f.members[i].Session == s {
			f.members[i].Verified = true
			return nil
		}
	}
	return client.ErrNotMember
}

func (f *fakeRoom) Say(_ context.Context, text string, _ int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sayErr != nil {
		return f.sayErr
	}
	f.said = append(f.said, text)
	return nil
}

func (f *fakeRoom) DM(_ context.Context, to uint32, text string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dms = append(f.dms, fmt.Sprintf("%d:%s", to, text))
	return nil
}

func (f *fakeRoom) SendFile(_ context.Context, to uint32, name, typ string, data []byte, voice bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fileErr != nil {
		return f.fileErr
	}
	f.files = append(f.files, sentFile{to, name, typ, bytes.Clone(data), voice})
	return nil
}

func (f *fakeRoom) Purge(_ context.Context, owner *[32]byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.purges = append(f.purges, owner)
	return nil
}

func (f *fakeRoom) ClaimOwner(_ context.Context, key [32]byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.claims = append(f.claims, key)
	return nil
}

func (f *fakeRoom) Kick(_ context.Context, s uint32) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.kicks = append(f.kicks, s)
	return nil
}

func (f *fakeRoom) Lock(_ context.Context, locked bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.locks = append(f.locks, locked)
	return nil
}

func (f *fakeRoom) Active(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.actives++
	return nil
}

func (f *fakeRoom) Report(_ context.Context, id, note string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.reportErr != nil {
		return f.reportErr
	}
	f.reports = append(f.reports, id+"|"+note)
	return nil
}

func (f *fakeRoom) Forget(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.forgotten = append(f.forgotten, id)
}

func (f *fakeRoom) CanReport() bool { f.mu.Lock(); defer f.mu.Unlock(); return !f.noReports }
func (f *fakeRoom) IsOwner() bool   { f.mu.Lock(); defer f.mu.Unlock(); return f.owner }
func (f *fakeRoom) Locked() bool    { f.mu.Lock(); defer f.mu.Unlock(); return f.locked }

func (f *fakeRoom) join(m client.Member) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.members = append(f.members, m)
}

func (f *fakeRoom) leave(s uint32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, m := range f.members {
		if m.Session == s {
			f.members = append(f.members[:i], f.members[i+1:]...)
			return
		}
	}
}

// clock is a fixed clock that tests move by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newModel(t *testing.T, f *fakeRoom, w, h int) (*Model, *clock) {
	t.Helper()
	c := &clock{time.Date(2026, 3, 14, 21, 7, 0, 0, time.UTC)}
	m := New(Config{Room: f, Now: c.now})
	m.timer = noTimer
	send(t, m, tea.WindowSizeMsg{Width: w, Height: h})
	return m, c
}

// noTimer stops time in tests: they send tickMsg and logoutTimeout
// themselves.
func noTimer(time.Duration, func(time.Time) tea.Msg) tea.Cmd { return nil }

// send feeds msg to m and runs the commands it returns, feeding their
// messages back; it returns those it does not feed back (quit).
func send(t *testing.T, m *Model, msg tea.Msg) []tea.Msg {
	t.Helper()
	_, cmd := m.Update(msg)
	return run(t, m, cmd)
}

func run(t *testing.T, m *Model, cmd tea.Cmd) []tea.Msg {
	t.Helper()
	if cmd == nil {
		return nil
	}
	switch msg := cmd().(type) {
	case tea.BatchMsg:
		var out []tea.Msg
		for _, c := range msg {
			out = append(out, run(t, m, c)...)
		}
		return out
	case tea.QuitMsg:
		return []tea.Msg{msg}
	case nil:
		return nil
	default:
		return send(t, m, msg)
	}
}

func typeLine(t *testing.T, m *Model, line string) []tea.Msg {
	t.Helper()
	send(t, m, tea.PasteMsg{Content: line})
	return send(t, m, tea.KeyPressMsg{Code: tea.KeyEnter})
}

func ev(typ string, from client.Member, text string) EventMsg {
	return EventMsg{Type: typ, From: from, Text: text}
}

// conversation plays a room's life into m: members join, talk, DM, one
// leaves, a gap and a reconnection, a long message and one that vanishes.
func conversation(t *testing.T, m *Model, f *fakeRoom, c *clock) {
	t.Helper()
	step := func(msg tea.Msg) {
		c.t = c.t.Add(20 * time.Second)
		send(t, m, msg)
	}
	f.join(bob)
	step(ev("join", bob, ""))
	f.join(carol)
	step(ev("join", carol, ""))
	step(ev("msg", bob, "hello **all** <b>not bold</b> _nor italic_"))
	c.t = c.t.Add(20 * time.Second)
	typeLine(t, m, "hi bob, hi carol")
	step(EventMsg{Type: "dm", From: carol, Text: "can we talk privately?", Safety: "5150 2231 0087", Hybrid: true})
	c.t = c.t.Add(20 * time.Second)
	f.dmSafety[carol.Session] = "5150 2231 0087"
	typeLine(t, m, "/dm carol sure, here")
	f.join(dave)
	step(ev("join", dave, ""))
	f.leave(dave.Session)
	step(ev("leave", dave, "dropped"))
	step(EventMsg{Type: "gap", From: bob, Missing: 2})
	step(ev("reconnecting", client.Member{}, "connection lost; reconnecting"))
	step(ev("reconnected", client.Member{}, "connection back; the session resumed"))
	step(ev("msg", carol, "A longer message, to show how the pane wraps a paragraph that does not fit on one line of the terminal, with a hanging indent under the name.\nAnd a second line."))
	step(EventMsg{Type: "msg", From: bob, Text: "this one self-destructs", TTL: 30})
	c.t = c.t.Add(20 * time.Second)
	typeLine(t, m, "/verify bob")
}

func screen(m *Model) string { return m.View().Content }

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/tui -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test ./internal/tui -update rewrites it):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// checkGeometry holds every screen to its size: h lines of at most w
// columns.
func checkGeometry(t *testing.T, s string, w, h int) {
	t.Helper()
	lines := strings.Split(s, "\n")
	if len(lines) != h {
		t.Errorf("%dx%d: %d lines, want %d", w, h, len(lines), h)
	}
	for i, l := range lines {
		if lw := ansi.StringWidth(l); lw > w {
			t.Errorf("%dx%d: line %d is %d columns wide: %q", w, h, i+1, lw, ansi.Strip(l))
		}
	}
}

func TestGoldenViews(t *testing.T) {
	for _, size := range []struct{ w, h int }{{80, 24}, {120, 40}, {60, 20}} {
		t.Run(fmt.Sprintf("%dx%d", size.w, size.h), func(t *testing.T) {
			f := newFakeRoom()
			m, c := newModel(t, f, size.w, size.h)
			conversation(t, m, f, c)
			s := screen(m)
			checkGeometry(t, s, size.w, size.h)
			golden(t, fmt.Sprintf("chat-%dx%d.golden", size.w, size.h), ansi.Strip(s)+"\n")
			if size.w == 80 {
				// The styles too, once: colours per member, notices, DM marks.
				golden(t, "chat-80x24.ansi.golden", s+"\n")
			}
		})
	}
}

func TestGoldenScrollback(t *testing.T) {
	f := newFakeRoom()
	m, c := newModel(t, f, 80, 24)
	conversation(t, m, f, c)
	for i := range 30 {
		c.t = c.t.Add(time.Second)
		send(t, m, ev("msg", bob, fmt.Sprintf("message %d", i+1)))
	}
	send(t, m, tea.KeyPressMsg{Code: tea.KeyPgUp})
	send(t, m, tea.KeyPressMsg{Code: tea.KeyPgUp})
	s := screen(m)
	checkGeometry(t, s, 80, 24)
	golden(t, "scrolled-80x24.golden", ansi.Strip(s)+"\n")
	// New lines keep the reader's place.
	before := ansi.Strip(s)
	send(t, m, ev("msg", carol, "while you read"))
	if got := ansi.Strip(screen(m)); paneOf(got) != paneOf(before) {
		t.Errorf("a new message moved the scrolled pane:\n%s\nwas\n%s", got, before)
	}
	// PgDn back to the bottom follows new messages again.
	for range 5 {
		send(t, m, tea.KeyPressMsg{Code: tea.KeyPgDown})
	}
	if m.scroll != 0 || !strings.Contains(screen(m), "while you read") {
		t.Errorf("after PgDn: scroll %d, screen\n%s", m.scroll, ansi.Strip(screen(m)))
	}
}

// paneOf is the message pane's rows of a plain screen.
func paneOf(s string) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[2:len(lines)-2], "\n")
}

// sgr matches Select Graphic Rendition sequences, the only escape sequences
// the view itself may contain.
var sgr = regexp.MustCompile("\x1b\\[[0-9;:]*m")

func TestPeerEscapesNeverReachTheView(t *testing.T) {
	f := newFakeRoom()
	f.name = "room\x1b]0;owned\x07name"
	m, c := newModel(t, f, 80, 24)
	evil := client.Member{Session: 66, Alias: "mal\x1b[31mlory\x1b[0m", Fingerprint: "6666-6666-6666-6666", Safety: "6666 6666 6666"}
	f.join(evil)
	c.t = c.t.Add(time.Second)
	send(t, m, ev("join", evil, ""))
	payloads := []string{
		"\x1b[2J\x1b[Hscreen cleared",           // erase the screen
		"\x1b]0;pwned title\x07title set",       // OSC window title
		"\x1b]52;c;ZXZpbA==\x07clipboard",       // OSC 52 clipboard write
		"\x1bPq#0;2;0;0;0#0~~@@vv@@~~\x1b\\dcs", // DCS (sixel)
		"\u009b2Jeight-bit CSI",                 // C1 CSI
		"\u009d0;c1 title\u009cC1 OSC",          // C1 OSC
		"\x9braw byte",                          // not UTF-8: becomes U+FFFD
		"carriage\rreturn\bback\x7fdel\x00nul",
		"bidi \u202eevil\u202c end",
		"tab\there",
		"dangling escape \x1b",
	}
	for _, p := range payloads {
		send(t, m, ev("msg", evil, p))
		send(t, m, EventMsg{Type: "dm", From: evil, Text: p})
	}
	send(t, m, ev("warning", evil, "warn\x1b[5mblink"))
	send(t, m, ev("leave", evil, "left"))
	typeLine(t, m, "/who")

	for _, size := range []struct{ w, h int }{{80, 200}, {60, 200}} {
		send(t, m, tea.WindowSizeMsg{Width: size.w, Height: size.h})
		s := screen(m)
		rest := sgr.ReplaceAllString(s, "")
		for _, bad := range []string{"\x1b", "\x07", "\x9b", "\r", "\b", "\x7f", "\x00", "\u202e", "\t", "\x9c"} {
			if strings.Contains(rest, bad) {
				t.Errorf("%dx%d: the view holds %q outside styling:\n%q", size.w, size.h, bad, rest)
			}
		}
		for _, gone := range []string{"2J", "]0;", "52;c", "ZXZpbA", "#0;2", "[31m", "[5m", "c1 title"} {
			if strings.Contains(rest, gone) {
				t.Errorf("%dx%d: escape parameters %q survived:\n%s", size.w, size.h, gone, rest)
			}
		}
		for _, kept := range []string{"screen cleared", "title set", "clipboard", "eight-bit CSI", "C1 OSC", "raw byte", "roomname", "mallory", "tab here"} {
			if !strings.Contains(ansi.Strip(s), kept) {
				t.Errorf("%dx%d: the visible text %q is missing:\n%s", size.w, size.h, kept, ansi.Strip(s))
			}
		}
	}
}

func TestMarkdownIsNotInterpreted(t *testing.T) {
	f := newFakeRoom()
	m, c := newModel(t, f, 160, 24)
	f.join(bob)
	c.t = c.t.Add(time.Second)
	send(t, m, ev("msg", bob, "**bold** _it_ [link](https://example.com) `code` <script>x</script>"))
	if !strings.Contains(ansi.Strip(screen(m)), "<bob> **bold** _it_ [link](https://example.com) `code` <script>x</script>") {
		t.Fatalf("the message was not shown verbatim:\n%s", ansi.Strip(screen(m)))
	}
}

func TestCommands(t *testing.T) {
	f := newFakeRoom()
	m, c := newModel(t, f, 100, 40)
	f.join(bob)
	big := client.Member{Session: 21, Alias: "big bob", Fingerprint: "2222-3333-4444-5555", Safety: "1111 2222 3333"}
	f.join(big)
	send(t, m, ev("join", bob, ""))
	send(t, m, ev("join", big, ""))
	step := func(line string) string {
		t.Helper()
		c.t = c.t.Add(time.Second)
		n := len(m.entries)
		typeLine(t, m, line)
		var b strings.Builder
		for _, e := range m.entries[n:] {
			b.WriteString(e.text + "\n")
		}
		return b.String()
	}

	step("hello room")
	step("//slash at the start")
	if strings.Join(f.said, "|") != "hello room|/slash at the start" {
		t.Errorf("said %q", f.said)
	}
	step("/dm big bob hi big")
	step("/DM bob hi small")
	step("/dm 7 by session")
	if strings.Join(f.dms, "|") != "21:hi big|7:hi small|7:by session" {
		t.Errorf("DMs %q", f.dms)
	}
	if out := step("/dm nobody hello"); !strings.Contains(out, `No member called "nobody"`) {
		t.Errorf("/dm to nobody said %q", out)
	}
	if out := step("/dm bob"); !strings.Contains(out, "Usage: /dm ALIAS TEXT") {
		t.Errorf("/dm without text said %q", out)
	}
	out := step("/who")
	for _, want := range []string{"3 in the room", "alice (you)\n    fingerprint 3f2a-91bc-0d4e-77a1",
		"  bob\n    fingerprint 1a2b-3c4d-5e6f-7a8b\n    safety code 1234 5678 9012", "  big bob\n    fingerprint 2222-3333-4444-5555"} {
		if !strings.Contains(out, want) {
			t.Errorf("/who lacks %q:\n%s", want, out)
		}
	}
	out = step("/verify big bob")
	if !strings.Contains(out, "Marked big bob verified") || !f.Members()[1].Verified || f.Members()[0].Verified {
		t.Errorf("/verify big bob: %q, members %+v", out, f.Members())
	}
	if out := step("/who"); !strings.Contains(out, "big bob ✓ verified\n") {
		t.Errorf("/who after verify: %q", out)
	}
	if !strings.Contains(ansi.Strip(screen(m)), "✓ big bob") {
		t.Errorf("the member list has no verified mark:\n%s", ansi.Strip(screen(m)))
	}
	if out := step("/help"); !strings.Contains(out, "/dm ALIAS TEXT") || !strings.Contains(out, "/logout") || !strings.Contains(out, "/kick ALIAS") ||
		!strings.Contains(out, "/report ALIAS [NOTE]") || !strings.Contains(out, "/filter add WORDS") || !strings.Contains(out, "/mute ALIAS") {
		t.Errorf("/help said %q", out)
	}
	if out := step("/frobnicate"); !strings.Contains(out, "Unknown command /frobnicate") || !strings.Contains(out, "/verify ALIAS") {
		t.Errorf("an unknown command said %q", out)
	}
	if out := step("/purge not-a-key"); !strings.Contains(out, "owner key") || len(f.purges) != 0 {
		t.Errorf("/purge with a bad key said %q, purges %v", out, f.purges)
	}
	key := "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8" // bytes 0..31, base64url
	step("/purge " + key)
	if len(f.purges) != 1 || f.purges[0] == nil || f.purges[0][31] != 31 {
		t.Errorf("purges %v", f.purges)
	}
	f.sayErr = errors.New("client: closed")
	if out := step("lost words"); !strings.Contains(out, "Not sent: client: closed") {
		t.Errorf("a failed send said %q", out)
	}
}

func TestPurgeUsesTheOwnerKeyFile(t *testing.T) {
	f := newFakeRoom()
	owner := [32]byte{1, 2, 3}
	m := New(Config{Room: f, Owner: &owner})
	m.timer = noTimer
	send(t, m, tea.WindowSizeMsg{Width: 80, Height: 24})
	typeLine(t, m, "/purge")
	if len(f.purges) != 1 || f.purges[0] == nil || *f.purges[0] != owner {
		t.Fatalf("purges %v", f.purges)
	}
}

func TestLeaveQuits(t *testing.T) {
	for _, cmd := range []string{"/leave", "/quit"} {
		f := newFakeRoom()
		m, _ := newModel(t, f, 80, 24)
		typeLine(t, m, "kept on screen")
		msgs := typeLine(t, m, cmd)
		if !hasQuit(msgs) || m.Result().Ending != Left || m.Result().Wiped() {
			t.Errorf("%s: msgs %v, result %+v", cmd, msgs, m.Result())
		}
	}
	f := newFakeRoom()
	m, _ := newModel(t, f, 80, 24)
	if msgs := send(t, m, tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}); !hasQuit(msgs) || m.Result().Ending != Left {
		t.Errorf("Ctrl+C: msgs %v, result %+v", msgs, m.Result())
	}
}

func hasQuit(msgs []tea.Msg) bool {
	for _, msg := range msgs {
		if _, ok := msg.(tea.QuitMsg); ok {
			return true
		}
	}
	return false
}

// Purge and expiry wipe the screen, as in the web client; other endings
// just end.
func TestRoomEndings(t *testing.T) {
	for _, tc := range []struct {
		name    string
		code    int
		ending  Ending
		wiped   bool
		message string
	}{
		{"purged", 4009, Closed, true, "This room was purged. Everything in it is gone."},
		{"expired", 4008, Closed, true, "This room has expired. Everything in it is gone."},
		{"going away", 1001, Closed, false, "The server is restarting or shutting down."},
		{"session ended", 4007, Closed, false, "Your session has ended."},
		{"too slow", 4011, Closed, false, "could not keep up"},
		{"removed", 4012, Closed, false, "The owner removed you from this room."},
		{"idle", 4015, Closed, false, "You were disconnected after a long time without activity."},
		{"lost", 0, Lost, false, "The connection to the server was lost"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeRoom()
			m, c := newModel(t, f, 80, 24)
			conversation(t, m, f, c)
			msgs := send(t, m, EventMsg{Type: "closed", Code: tc.code, Text: "reason"})
			r := m.Result()
			if !hasQuit(msgs) || r.Ending != tc.ending || r.Code != tc.code || r.Wiped() != tc.wiped || !strings.Contains(r.Message(), tc.message) {
				t.Fatalf("result %+v (wiped %v, %q), msgs %v", r, r.Wiped(), r.Message(), msgs)
			}
			s := ansi.Strip(screen(m))
			if tc.wiped {
				if strings.TrimSpace(s) != "" || len(m.entries) != 0 {
					t.Fatalf("the screen was not wiped:\n%s", s)
				}
			} else if !strings.Contains(s, "Marked bob verified") || len(m.entries) == 0 {
				t.Fatalf("the screen was wiped:\n%s", s)
			}
			// Nothing more happens once ended.
			send(t, m, ev("msg", bob, "too late"))
			if strings.Contains(screen(m), "too late") {
				t.Fatal("a message arrived after the end")
			}
		})
	}
}

func TestLogoutWipesAndExits(t *testing.T) {
	f := newFakeRoom()
	m, c := newModel(t, f, 80, 24)
	conversation(t, m, f, c)
	if msgs := typeLine(t, m, "/logout"); hasQuit(msgs) || f.logouts != 1 {
		t.Fatalf("/logout: msgs %v, logouts %d", msgs, f.logouts)
	}
	msgs := send(t, m, EventMsg{Type: "closed", Code: 1000, Text: "logged out"})
	r := m.Result()
	if !hasQuit(msgs) || r.Ending != LoggedOut || !r.Wiped() || !strings.HasPrefix(r.Message(), "You logged out.") {
		t.Fatalf("result %+v %q, msgs %v", r, r.Message(), msgs)
	}
	if s := ansi.Strip(screen(m)); strings.TrimSpace(s) != "" {
		t.Fatalf("not wiped:\n%s", s)
	}
	// Without the relay's confirmation, a timeout ends it the same way.
	f = newFakeRoom()
	m, _ = newModel(t, f, 80, 24)
	typeLine(t, m, "/logout")
	if msgs := send(t, m, logoutTimeout{}); !hasQuit(msgs) || m.Result().Ending != LoggedOut {
		t.Fatalf("timeout: result %+v", m.Result())
	}
}

func TestSelfDestructingMessagesVanish(t *testing.T) {
	f := newFakeRoom()
	m, c := newModel(t, f, 80, 24)
	f.join(bob)
	send(t, m, EventMsg{Type: "msg", From: bob, Text: "burn after reading", TTL: 30})
	if s := ansi.Strip(screen(m)); !strings.Contains(s, "burn after reading (vanishes in 30s)") {
		t.Fatalf("no countdown on the message:\n%s", s)
	}
	c.t = c.t.Add(10 * time.Second)
	send(t, m, tickMsg(c.t))
	if s := ansi.Strip(screen(m)); !strings.Contains(s, "(vanishes in 20s)") {
		t.Fatalf("the countdown did not move:\n%s", s)
	}
	c.t = c.t.Add(20 * time.Second)
	send(t, m, tickMsg(c.t))
	if s := ansi.Strip(screen(m)); strings.Contains(s, "burn after reading") {
		t.Fatalf("the message outlived its TTL:\n%s", s)
	}
}

func TestCountdown(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                                     "ending",
		59 * time.Second:                      "00:59 left",
		47*time.Minute + 12*time.Second:       "47:12 left",
		2*time.Hour + 3*time.Second:           "2:00:03 left",
		59*time.Minute + 999*time.Millisecond: "59:00 left",
	} {
		if got := countdown(d); got != want {
			t.Errorf("countdown(%v) = %q, want %q", d, got, want)
		}
	}
}
