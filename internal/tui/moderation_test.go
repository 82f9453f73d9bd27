package tui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"veil/internal/client"
)

// stepper types lines into m and returns what each added to the pane, one
// entry a line.
func stepper(t *testing.T, m *Model, c *clock) func(line string) string {
	return func(line string) string {
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
}

// pane is the message pane of the screen without the member list,
// wrapped lines joined.
func pane(m *Model) string {
	var left []string
	for _, line := range strings.Split(paneOf(ansi.Strip(screen(m))), "\n") {
		l, _, _ := strings.Cut(line, "│")
		left = append(left, l)
	}
	return strings.Join(strings.Fields(strings.Join(left, " ")), " ")
}

// header is the screen's first line, plain.
func header(m *Model) string { return strings.SplitN(ansi.Strip(screen(m)), "\n", 2)[0] }

func TestOwnerOnlyCommandsAreRefused(t *testing.T) {
	f := newFakeRoom()
	m, c := newModel(t, f, 100, 30)
	f.join(bob)
	send(t, m, ev("join", bob, ""))
	step := stepper(t, m, c)
	for line, want := range map[string]string{
		"/kick bob": "Only the room's owner can remove a member. If you have the owner key: /owner KEY",
		"/lock":     "Only the room's owner can lock the room.",
		"/unlock":   "Only the room's owner can unlock the room.",
		"/kick":     "Usage: /kick ALIAS",
		"/owner":    "Usage: /owner KEY",
		"/owner xx": "an owner key is 32 bytes",
	} {
		if out := step(line); !strings.Contains(out, want) {
			t.Errorf("%s said %q, want %q", line, out, want)
		}
	}
	if len(f.kicks)+len(f.locks)+len(f.claims) != 0 {
		t.Fatalf("a refused command reached the room: kicks %v, locks %v, claims %v", f.kicks, f.locks, f.claims)
	}
	if h := header(m); strings.Contains(h, "owner") || strings.Contains(h, "locked") {
		t.Fatalf("a member's header shows a badge: %q", h)
	}
	// A relay that refuses anyway says so, with the way to become owner.
	send(t, m, EventMsg{Type: "error", Code: 4010, Text: "only the owner may do that"})
	if p := pane(m); !strings.Contains(p, "Not allowed: only the owner may do that. Give the owner key: /owner KEY") {
		t.Fatalf("pane: %s", p)
	}
}

func TestOwnerKeyFileClaimsAtStart(t *testing.T) {
	f := newFakeRoom()
	key := [32]byte{9, 8, 7}
	m := New(Config{Room: f, Owner: &key})
	m.timer = noTimer
	send(t, m, tea.WindowSizeMsg{Width: 100, Height: 30})
	run(t, m, m.Init())
	if len(f.claims) != 1 || f.claims[0] != key {
		t.Fatalf("claims %v, want the key file's", f.claims)
	}
	send(t, m, EventMsg{Type: "state", Owner: true})
	if h := header(m); !strings.Contains(h, " owner ") || strings.Contains(h, "locked") {
		t.Fatalf("header %q", h)
	}
	if p := pane(m); !strings.Contains(p, "You are the owner of this room: /kick ALIAS removes a member") {
		t.Fatalf("pane: %s", p)
	}
	// Without a key nothing is claimed.
	f = newFakeRoom()
	m, _ = newModel(t, f, 80, 24)
	run(t, m, m.Init())
	if len(f.claims) != 0 {
		t.Fatalf("claimed %v without a key", f.claims)
	}
}

func TestOwnerKicksAndLocks(t *testing.T) {
	f := newFakeRoom()
	m, c := newModel(t, f, 100, 30)
	step := stepper(t, m, c)
	for _, mb := range []client.Member{bob, carol, dave} {
		f.join(mb)
		send(t, m, ev("join", mb, ""))
	}
	// /owner KEY proves the key; once the relay agrees, /purge uses it.
	key := "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
	if out := step("/owner " + key); strings.Contains(out, key) {
		t.Fatalf("/owner echoed the key: %q", out)
	}
	if len(f.claims) != 1 || f.claims[0][31] != 31 {
		t.Fatalf("claims %v", f.claims)
	}
	send(t, m, EventMsg{Type: "error", Code: 4010, Text: "wrong owner key"})
	if p := pane(m); !strings.Contains(p, "The owner key was refused: it is not this room's owner key.") {
		t.Fatalf("pane: %s", p)
	}
	step("/owner " + key)
	send(t, m, EventMsg{Type: "state", Owner: true})
	if m.owner == nil || m.owner[31] != 31 || !strings.Contains(header(m), "owner") {
		t.Fatalf("owner key %v, header %q", m.owner, header(m))
	}
	if out := step("/owner " + key); !strings.Contains(out, "already") {
		t.Fatalf("/owner again said %q", out)
	}

	// /kick asks nothing; the relay's LEFT says it happened.
	step("/kick bob")
	if len(f.kicks) != 1 || f.kicks[0] != bob.Session {
		t.Fatalf("kicks %v", f.kicks)
	}
	f.leave(bob.Session)
	send(t, m, ev("leave", bob, "removed by the owner"))
	if out := step("/kick nobody"); !strings.Contains(out, `No member called "nobody"`) {
		t.Fatalf("/kick nobody said %q", out)
	}
	step("/kick carol")
	send(t, m, EventMsg{Type: "error", Code: 4016, Text: "no such member"})
	// Others' leaves: removed by another owner session, idle.
	f.leave(carol.Session)
	send(t, m, ev("leave", carol, "removed by the owner"))
	f.leave(dave.Session)
	send(t, m, ev("leave", dave, "idle"))
	p := pane(m)
	for _, want := range []string{
		"You removed bob from the room. They still have the link: /lock keeps anyone new out.",
		"Not removed: that member is not in the room any more.",
		"carol was removed by the owner",
		"dave left (idle)",
	} {
		if !strings.Contains(p, want) {
			t.Errorf("the pane lacks %q:\n%s", want, p)
		}
	}

	// /lock and /unlock; the header follows the relay's STATE.
	step("/lock")
	if h := header(m); strings.Contains(h, "locked") {
		t.Fatalf("locked before the relay said so: %q", h)
	}
	send(t, m, EventMsg{Type: "state", Owner: true, Locked: true})
	if h := header(m); !strings.Contains(h, " owner   locked ") {
		t.Fatalf("header %q", h)
	}
	if out := step("/lock"); !strings.Contains(out, "already locked") {
		t.Fatalf("/lock twice said %q", out)
	}
	eve := client.Member{Session: 13, Alias: "eve", Fingerprint: "eeee-eeee-eeee-eeee"}
	f.join(eve)
	send(t, m, ev("join", eve, ""))
	step("/kick eve")
	f.leave(eve.Session)
	send(t, m, ev("leave", eve, "removed by the owner"))
	if p := pane(m); !strings.Contains(p, "You removed eve from the room. It is locked, so they cannot join again.") {
		t.Fatalf("pane: %s", p)
	}
	step("/unlock")
	send(t, m, EventMsg{Type: "state", Owner: true})
	if fmt.Sprint(f.locks) != "[true false]" {
		t.Fatalf("locks %v", f.locks)
	}
	p = pane(m)
	for _, want := range []string{"The room is locked: nobody new can join.", "The room is unlocked: anyone with the link can join again."} {
		if !strings.Contains(p, want) {
			t.Errorf("the pane lacks %q:\n%s", want, p)
		}
	}
	if strings.Contains(header(m), "locked") {
		t.Fatalf("still locked: %q", header(m))
	}
}

// Every member sees the lock, owner or not.
func TestMembersSeeTheLock(t *testing.T) {
	f := newFakeRoom()
	m, _ := newModel(t, f, 80, 24)
	send(t, m, EventMsg{Type: "state", Locked: true})
	if h := header(m); !strings.Contains(h, "locked") || strings.Contains(h, "owner") {
		t.Fatalf("header %q", h)
	}
}

func TestMuteHidesMessagesAndFiles(t *testing.T) {
	f := newFakeRoom()
	m, c := newModel(t, f, 100, 30)
	step := stepper(t, m, c)
	f.join(bob)
	f.join(carol)
	send(t, m, ev("join", bob, ""))
	send(t, m, ev("join", carol, ""))
	send(t, m, EventMsg{Type: "msg", From: bob, ID: "b1", Text: "before the mute"})
	out := step("/mute bob")
	if !strings.Contains(out, "Muted bob (fingerprint "+bob.Fingerprint+")") || !strings.Contains(out, "Nobody is told") {
		t.Fatalf("/mute said %q", out)
	}
	for i := range 3 {
		send(t, m, EventMsg{Type: "msg", From: bob, ID: fmt.Sprint("b", i+2), Text: fmt.Sprint("noise ", i)})
	}
	send(t, m, EventMsg{Type: "msg", From: carol, ID: "c1", Text: "carol speaks"})
	send(t, m, EventMsg{Type: "dm", From: bob, ID: "b5", Text: "private noise"})
	send(t, m, received(bob, 1, "junk.bin", "application/octet-stream", []byte("junk")))
	p := pane(m)
	for _, gone := range []string{"before the mute", "noise 0", "noise 2", "private noise", "junk.bin"} {
		if strings.Contains(p, gone) {
			t.Errorf("a muted member's %q shows:\n%s", gone, p)
		}
	}
	for _, want := range []string{"(message from muted bob hidden) 21:07 -- Muted bob", "(3 messages from muted bob hidden) 21:07 <carol> carol speaks", "(2 messages from muted bob hidden)"} {
		if !strings.Contains(p, want) {
			t.Errorf("the pane lacks %q:\n%s", want, p)
		}
	}
	if len(m.received) != 0 || m.held != 0 {
		t.Errorf("a muted member's file is held: %d files, %d bytes", len(m.received), m.held)
	}
	// Hidden is still reportable.
	step("/report bob")
	if fmt.Sprint(f.reports) != "[b5|]" {
		t.Errorf("reports %v", f.reports)
	}
	if out := step("/unmute carol"); !strings.Contains(out, "carol is not muted") {
		t.Errorf("/unmute carol said %q", out)
	}
	// Unmute after bob left: found by the alias muted.
	f.leave(bob.Session)
	send(t, m, ev("leave", bob, "left"))
	if out := step("/unmute BOB"); !strings.Contains(out, "Unmuted bob") {
		t.Fatalf("/unmute said %q", out)
	}
	p = pane(m)
	for _, want := range []string{"<bob> before the mute", "<bob> noise 2", "[DM] bob → you: private noise", "junk.bin"} {
		if !strings.Contains(p, want) {
			t.Errorf("after /unmute the pane lacks %q:\n%s", want, p)
		}
	}
	if strings.Contains(p, "from muted") {
		t.Errorf("hidden lines after /unmute:\n%s", p)
	}
	if out := step("/mute nobody"); !strings.Contains(out, `No member called "nobody"`) {
		t.Errorf("/mute nobody said %q", out)
	}
}

func TestWordFilter(t *testing.T) {
	f := newFakeRoom()
	m, c := newModel(t, f, 120, 40)
	step := stepper(t, m, c)
	f.join(bob)
	send(t, m, ev("join", bob, ""))
	if out := step("/filter list"); !strings.Contains(out, "Your filter is off") {
		t.Fatalf("/filter list said %q", out)
	}
	msgs := []string{"the SPOILER is out!", "spoilers galore", "a class act", "what an ASS.", "the butler did it", "sp\u200boiler with a joiner", "ｓｐｏｉｌｅｒ in full width"}
	for i, text := range msgs {
		send(t, m, EventMsg{Type: "msg", From: bob, ID: fmt.Sprint("m", i), Text: text})
	}
	typeLine(t, m, "mine: the spoiler")
	for _, text := range msgs {
		if !strings.Contains(pane(m), text) {
			t.Fatalf("%q hidden with the filter off:\n%s", text, pane(m))
		}
	}
	out := step("/filter add Spoiler ass")
	if !strings.Contains(out, "Your filter hides messages with: spoiler, ass.") {
		t.Fatalf("/filter add said %q", out)
	}
	step("/filter add butler did, spoiler")
	p := pane(m)
	for text, hidden := range map[string]bool{
		msgs[0]: true, msgs[1]: false, msgs[2]: false, msgs[3]: true, msgs[4]: true, msgs[5]: true, msgs[6]: true,
		"<alice> mine: the spoiler": false, // your own words stay
	} {
		if strings.Contains(p, text) == hidden {
			t.Errorf("%q: hidden %v, want %v:\n%s", text, !hidden, hidden, p)
		}
	}
	if n := strings.Count(p, "(message hidden by your filter)"); n != 5 {
		t.Errorf("%d filtered lines, want 5:\n%s", n, p)
	}
	if out := step("/filter list"); !strings.Contains(out, "spoiler, ass, butler did.") {
		t.Errorf("/filter list said %q", out)
	}
	step("/filter clear")
	if p := pane(m); strings.Contains(p, "hidden by your filter") || !strings.Contains(p, msgs[0]) {
		t.Errorf("after /filter clear:\n%s", p)
	}
	for _, line := range []string{"/filter", "/filter add", "/filter frob"} {
		if out := step(line); !strings.Contains(out, "Usage: /filter") {
			t.Errorf("%s said %q", line, out)
		}
	}
}

func TestReportCommand(t *testing.T) {
	f := newFakeRoom()
	m, c := newModel(t, f, 120, 40)
	step := stepper(t, m, c)
	big := client.Member{Session: 21, Alias: "big bob", Fingerprint: "2222-3333-4444-5555", Safety: "1111 2222 3333"}
	for _, mb := range []client.Member{bob, big} {
		f.join(mb)
		send(t, m, ev("join", mb, ""))
	}
	send(t, m, EventMsg{Type: "msg", From: bob, ID: "b1", Text: "first"})
	send(t, m, EventMsg{Type: "msg", From: big, ID: "g1", Text: "from the big one"})
	send(t, m, EventMsg{Type: "msg", From: bob, ID: "b2", Text: "something vile\nover two lines"})
	send(t, m, EventMsg{Type: "msg", From: carol, ID: "c1", Text: "burns", TTL: 5})

	out := step("/report bob this crosses a line")
	if fmt.Sprint(f.reports) != "[b2|this crosses a line]" {
		t.Fatalf("reports %v", f.reports)
	}
	if !strings.Contains(out, "Reported to the owner: bob's message “something vile over two lines”.") {
		t.Fatalf("/report said %q", out)
	}
	step("/report big bob")
	step("/report 7 by session")
	if fmt.Sprint(f.reports) != "[b2|this crosses a line g1| b2|by session]" {
		t.Fatalf("reports %v", f.reports)
	}
	// Nothing of one's own, nor of anyone silent, nor of nobody.
	f.join(dave)
	for line, want := range map[string]string{
		"/report":           "Usage: /report ALIAS [NOTE]",
		"/report alice":     `No message from "alice" on the screen`,
		"/report dave":      "No message from dave on the screen",
		"/report nobody hi": `No message from "nobody" on the screen`,
		"/report bob " + strings.Repeat("x", 501): "at most 500 bytes",
	} {
		if out := step(line); !strings.Contains(out, want) {
			t.Errorf("%.30s said %q, want %q", line, out, want)
		}
	}
	// A message gone from the screen is forgotten and cannot be reported.
	c.t = c.t.Add(10 * time.Second)
	send(t, m, tickMsg(c.t))
	if fmt.Sprint(f.forgotten) != "[c1]" {
		t.Fatalf("forgotten %v", f.forgotten)
	}
	if out := step("/report carol"); !strings.Contains(out, `No message from "carol" on the screen`) {
		t.Fatalf("/report after expiry said %q", out)
	}
	// A member who left is still reportable while the message shows.
	f.leave(bob.Session)
	send(t, m, ev("leave", bob, "left"))
	n := len(f.reports)
	step("/report bob")
	if len(f.reports) != n+1 {
		t.Fatalf("no report of a member who left: %v", f.reports)
	}
	// The client's refusals, and the relay's.
	f.reportErr = client.ErrNotReportable
	if out := step("/report big bob"); !strings.Contains(out, "Not reported: that message can no longer be reported") {
		t.Errorf("refused report said %q", out)
	}
	send(t, m, EventMsg{Type: "error", Code: 4014, Text: "the owner is not in the room"})
	if p := pane(m); !strings.Contains(p, "Your report reached nobody: the owner is not in the room right now.") {
		t.Errorf("pane: %s", p)
	}
	f.noReports = true
	if out := step("/report big bob"); !strings.Contains(out, "This room takes no reports") {
		t.Errorf("/report in a room without a report key said %q", out)
	}
}

// hostile is peer text that tries every trick on a terminal.
const hostile = "\x1b[2J\x1b]0;pwned\x07wipe \u202eevil\u202c \u009b31mred\x00nul\rcr\x1b[5mblink"

func TestReportBlock(t *testing.T) {
	f := newFakeRoom()
	f.owner = true
	m, c := newModel(t, f, 100, 30)
	mallory := client.Member{Session: 66, Alias: "mal\x1b[31mlory\u202e", Fingerprint: "6666-6666-6666-6666"}
	rep := client.Member{Session: 67, Alias: "rep\x07orter", Fingerprint: "7777-7777-7777-7777"}
	c.t = c.t.Add(time.Second)
	send(t, m, EventMsg{Type: "report", From: mallory, ID: "x", Text: "vile " + hostile + "\nsecond line", Reporter: &rep, Note: "note " + hostile + "\nno newline"})
	s := screen(m)
	rest := sgr.ReplaceAllString(s, "")
	for _, bad := range []string{"\x1b", "\x07", "\u009b", "\r", "\x00", "\u202e", "\u202c"} {
		if strings.Contains(rest, bad) {
			t.Errorf("the view holds %q outside styling:\n%q", bad, rest)
		}
	}
	for _, gone := range []string{"2J", "]0;", "pwned", "[31m", "[5m"} {
		if strings.Contains(rest, gone) {
			t.Errorf("escape parameters %q survived:\n%s", gone, rest)
		}
	}
	p := pane(m)
	want := "REPORT from reporter: mallory (6666-6666-6666-6666) wrote: vile wipe evil rednulcrblink second line — note: note wipe evil rednulcrblink no newline"
	if !strings.Contains(p, want) {
		t.Fatalf("the pane lacks\n%s\n%s", want, p)
	}
	if !strings.Contains(s, styleReport.Render("REPORT")) {
		t.Errorf("REPORT is not marked:\n%q", s)
	}
	// Neither mute nor the filter hides a report from the owner.
	f.join(mallory)
	typeLine(t, m, "/mute mallory")
	typeLine(t, m, "/filter add vile")
	if !strings.Contains(pane(m), "REPORT from reporter") {
		t.Fatalf("a report was hidden:\n%s", pane(m))
	}
}

func TestActiveAtMostOnceAMinute(t *testing.T) {
	f := newFakeRoom()
	m, c := newModel(t, f, 80, 24)
	key := func() { send(t, m, tea.KeyPressMsg{Code: 'x', Text: "x"}) }
	key() // just joined: the join was the sign of life
	if f.actives != 0 {
		t.Fatalf("%d ACTIVE right after joining", f.actives)
	}
	c.t = c.t.Add(61 * time.Second)
	key()
	key()
	send(t, m, tea.PasteMsg{Content: "pasted"})
	if f.actives != 1 {
		t.Fatalf("%d ACTIVE for keys within a minute, want 1", f.actives)
	}
	c.t = c.t.Add(30 * time.Second)
	key()
	c.t = c.t.Add(31 * time.Second)
	send(t, m, tea.PasteMsg{Content: "pasted"})
	if f.actives != 2 {
		t.Fatalf("%d ACTIVE after two minutes of keys, want 2", f.actives)
	}
	// Time alone sends nothing: an empty desk goes idle.
	c.t = c.t.Add(time.Hour)
	send(t, m, tickMsg(c.t))
	if f.actives != 2 {
		t.Fatalf("%d ACTIVE without a key", f.actives)
	}
}

// TestGoldenModeration: an owner's screen with the badges, a report, a
// muted member's burst, a filtered message and a removal.
func TestGoldenModeration(t *testing.T) {
	f := newFakeRoom()
	m, c := newModel(t, f, 80, 24)
	step := func(msg tea.Msg) {
		c.t = c.t.Add(20 * time.Second)
		send(t, m, msg)
	}
	for _, mb := range []client.Member{bob, carol, dave} {
		f.join(mb)
		step(ev("join", mb, ""))
	}
	step(EventMsg{Type: "state", Owner: true})
	step(EventMsg{Type: "msg", From: dave, ID: "d1", Text: "buy cheap pills at example.com"})
	rep := carol
	step(EventMsg{Type: "report", From: dave, ID: "d1", Text: "buy cheap pills at example.com", Reporter: &rep, Note: "spam, again"})
	typeLine(t, m, "/mute dave")
	for i := range 3 {
		step(EventMsg{Type: "msg", From: dave, ID: fmt.Sprint("d", i+2), Text: "more pills"})
	}
	typeLine(t, m, "/filter add spoiler")
	step(EventMsg{Type: "msg", From: bob, ID: "b1", Text: "spoiler: the butler did it"})
	step(EventMsg{Type: "msg", From: bob, ID: "b2", Text: "sorry, no spoilers here"})
	typeLine(t, m, "/kick dave")
	f.leave(dave.Session)
	step(ev("leave", dave, "removed by the owner"))
	typeLine(t, m, "/lock")
	step(EventMsg{Type: "state", Owner: true, Locked: true})
	s := screen(m)
	checkGeometry(t, s, 80, 24)
	golden(t, "moderation-80x24.golden", ansi.Strip(s)+"\n")
	golden(t, "moderation-80x24.ansi.golden", s+"\n")
}
