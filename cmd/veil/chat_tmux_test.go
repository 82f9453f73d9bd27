package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"veil/internal/client"
	"veil/internal/vtest"
)

// These tests drive the real `veil chat` binary in a detached tmux session
// of fixed size on a private tmux server (its socket in t.TempDir()), with a
// real relay in-process and a Go member built on internal/client.

// veilBinary builds cmd/veil into t.TempDir().
func veilBinary(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is needed for the terminal tests (scripts/test.sh installs it; Debian: apt-get install tmux)")
	}
	bin := filepath.Join(t.TempDir(), "veil")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// The binary must know the command under test.
	out, _ := exec.Command(bin, "chat", "--help").CombinedOutput()
	if !strings.Contains(string(out), "Usage: veil chat") {
		t.Fatalf("veil chat --help does not show chat's usage (is chat wired in run.go?):\n%s", out)
	}
	return bin
}

// tmuxPane is one detached tmux session running one command.
type tmuxPane struct {
	t      *testing.T
	sock   string
	name   string
	status string // the file the command's exit status goes to
}

// startTmux runs argv in a new detached session of w×h on a private tmux
// server, with env set (and NO_COLOR and VEIL_PASSWORD unset unless env
// sets them). The pane stays after the command exits, so its exit status
// and last screen can be read. The session is killed at cleanup.
func startTmux(t *testing.T, w, h int, env []string, argv ...string) *tmuxPane {
	t.Helper()
	dir := t.TempDir()
	p := &tmuxPane{t: t, sock: filepath.Join(dir, "tmux.sock"), name: "veil-chat-test", status: filepath.Join(dir, "status")}
	cmd := append([]string{"env", "-u", "NO_COLOR", "-u", "VEIL_PASSWORD", "-u", "COLORTERM"}, env...)
	cmd = append(cmd, argv...)
	args := []string{"-S", p.sock, "-f", "/dev/null", "start-server", ";",
		"set-option", "-g", "remain-on-exit", "on", ";",
		"set-option", "-g", "history-limit", "2000", ";",
		"new-session", "-d", "-s", p.name, "-x", strconv.Itoa(w), "-y", strconv.Itoa(h), "--"}
	args = append(args, shellJoin(cmd)+"; echo $? > "+shellJoin([]string{p.status}))
	if out, err := exec.Command("tmux", args...).CombinedOutput(); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("tmux", "-S", p.sock, "kill-session", "-t", p.name).Run() })
	return p
}

// shellJoin quotes argv for the shell tmux hands its command to.
func shellJoin(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

func (p *tmuxPane) tmux(args ...string) string {
	p.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", p.sock}, args...)...).CombinedOutput()
	if err != nil {
		p.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// screen is the pane's visible text, no-break spaces (which keep safety
// codes whole) read as spaces.
func (p *tmuxPane) screen() string {
	return strings.ReplaceAll(p.tmux("capture-pane", "-p", "-t", p.name), "\u00a0", " ")
}

// screenEscapes is the visible text with its colours and attributes.
func (p *tmuxPane) screenEscapes() string { return p.tmux("capture-pane", "-p", "-e", "-t", p.name) }

// everything is the visible text and all the scrollback.
func (p *tmuxPane) everything() string {
	return p.tmux("capture-pane", "-p", "-S", "-", "-E", "-", "-t", p.name)
}

// typeLine types text and Enter.
func (p *tmuxPane) typeLine(text string) {
	p.tmux("send-keys", "-t", p.name, "-l", text)
	p.tmux("send-keys", "-t", p.name, "Enter")
}

// waitScreen polls the screen until it contains every want, for at most
// 15 seconds, and returns it.
func (p *tmuxPane) waitScreen(want ...string) string {
	p.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		s := p.screen()
		missing := ""
		for _, w := range want {
			if !strings.Contains(s, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return s
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("the screen never showed %q:\n%s", missing, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitPane polls the message pane until its text, wrapped lines joined
// (with spaces collapsed), contains every want, for at most 15 seconds.
func (p *tmuxPane) waitPane(want ...string) {
	p.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		s := p.screen()
		var pane []string
		for _, line := range strings.Split(s, "\n") {
			left, _, _ := strings.Cut(line, "│")
			pane = append(pane, left)
		}
		text := strings.Join(strings.Fields(strings.Join(pane, " ")), " ")
		missing := ""
		for _, w := range want {
			if !strings.Contains(text, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("the message pane never showed %q:\n%s", missing, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitExit polls until the command has exited and returns its status.
// The status comes from the shell that ran it (see startTmux), not from
// tmux, whose reaping of a dead pane's process lags at times under load.
func (p *tmuxPane) waitExit() int {
	p.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		b, err := os.ReadFile(p.status)
		if s := strings.TrimSpace(string(b)); err == nil && strings.HasSuffix(string(b), "\n") {
			n, err := strconv.Atoi(s)
			if err != nil {
				p.t.Fatalf("exit status %q", s)
			}
			return n
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("veil chat did not exit; screen:\n%s", p.screen())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// expectEvent reads c's events until one of type typ with text arrives.
func expectEvent(t *testing.T, c *client.Client, typ, text string) client.Event {
	t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case e, ok := <-c.Events():
			if !ok {
				t.Fatalf("%s: events ended waiting for %s %q", c.Alias(), typ, text)
			}
			if e.Type == typ && (text == "" || e.Text == text) {
				return e
			}
		case <-timeout:
			t.Fatalf("%s: no %s %q within 15s", c.Alias(), typ, text)
		}
	}
}

var colourSGR = regexp.MustCompile(`\x1b\[(?:[0-9;]*;)?(?:3[0-8]|4[0-8]|9[0-7]|10[0-7])(?:;[0-9;]*)?m`)

func TestChatInTmux(t *testing.T) {
	veil := veilBinary(t)
	s := vtest.NewServer(t, vtest.Options{})
	rm := s.CreateRoom(t, vtest.CreateOptions{Name: "tmux room", Password: "correct horse"})
	bob, err := client.Dial(t.Context(), client.Config{Link: rm.Link, Password: rm.Password, Alias: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()

	p := startTmux(t, 100, 30, []string{"VEIL_PASSWORD=" + rm.Password}, veil, "chat", "--alias", "alice", rm.Link)
	p.waitScreen("tmux room", "you: alice", "left", "Members (2)", "bob", bob.Fingerprint())
	joined := expectEvent(t, bob, "join", "")
	if joined.From.Alias != "alice" {
		t.Fatalf("bob saw %+v join", joined.From)
	}

	// Typed into the terminal, read by the Go member.
	p.typeLine("hello from the terminal")
	if e := expectEvent(t, bob, "msg", "hello from the terminal"); e.From.Fingerprint != joined.From.Fingerprint {
		t.Fatalf("the message came from %+v", e.From)
	}

	// Sent by the Go member, read off the screen; its escape sequence (a
	// window title) never reaches the terminal.
	if err := bob.Say(t.Context(), "hi alice \x1b]2;PWNED\x07\x1b[2Jfrom go", 0); err != nil {
		t.Fatal(err)
	}
	p.waitScreen("<bob> hi alice from go", "<alice> hello from the terminal")
	if title := p.tmux("display-message", "-p", "-t", p.name, "#{pane_title}"); strings.Contains(title, "PWNED") {
		t.Fatalf("a peer set the terminal's title: %q", title)
	}
	if !colourSGR.MatchString(p.screenEscapes()) {
		t.Errorf("no colour on a 256-colour terminal:\n%q", p.screenEscapes())
	}

	// /who: members with fingerprints and safety codes.
	alice, err := bob.Member("alice")
	if err != nil {
		t.Fatal(err)
	}
	p.typeLine("/who")
	p.waitScreen("2 in the room", "alice (you)", "safety code "+alice.Safety)

	// A DM, both ways.
	p.typeLine("/dm bob just for you")
	expectEvent(t, bob, "dm", "just for you")
	if err := bob.DM(t.Context(), alice.Session, "and back"); err != nil {
		t.Fatal(err)
	}
	p.waitScreen("[DM] bob → you: and back", bob.DMSafety(alice.Session))

	// /leave: a clean close, exit 0, and no message left on the main screen.
	p.typeLine("/leave")
	if code := p.waitExit(); code != 0 {
		t.Fatalf("exit status %d after /leave, want 0:\n%s", code, p.everything())
	}
	if e := expectEvent(t, bob, "leave", ""); e.From.Alias != "alice" {
		t.Fatalf("bob saw %+v leave", e.From)
	}
	all := p.everything()
	if !strings.Contains(all, "You left the room.") {
		t.Errorf("no goodbye on the terminal:\n%s", all)
	}
	for _, gone := range []string{"hello from the terminal", "hi alice", "just for you"} {
		if strings.Contains(all, gone) {
			t.Errorf("%q is still on the terminal after leaving:\n%s", gone, all)
		}
	}
}

// TestChatInTmuxPurgeWipes: a purge by another member wipes the terminal,
// says why and exits 4; NO_COLOR leaves no colour on the screen.
func TestChatInTmuxPurgeWipes(t *testing.T) {
	veil := veilBinary(t)
	s := vtest.NewServer(t, vtest.Options{})
	rm := s.CreateRoom(t, vtest.CreateOptions{Name: "doomed"})
	bob, err := client.Dial(t.Context(), client.Config{Link: rm.Link, Alias: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()

	p := startTmux(t, 80, 24, []string{"NO_COLOR=1"}, veil, "chat", "--alias", "carol", rm.Link)
	p.waitScreen("doomed", "Members (2)")
	expectEvent(t, bob, "join", "")
	if err := bob.Say(t.Context(), "the secret plan", 0); err != nil {
		t.Fatal(err)
	}
	p.waitScreen("<bob> the secret plan")
	if c := colourSGR.FindAllString(p.screenEscapes(), -1); len(c) > 0 {
		t.Errorf("colour under NO_COLOR: %q", c)
	}

	if err := bob.Purge(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if code := p.waitExit(); code != 4 {
		t.Fatalf("exit status %d after a purge, want 4:\n%s", code, p.everything())
	}
	all := p.everything()
	if !strings.Contains(all, "This room was purged. Everything in it is gone.") {
		t.Errorf("no word of the purge:\n%s", all)
	}
	for _, gone := range []string{"the secret plan", "doomed", "Members"} {
		if strings.Contains(all, gone) {
			t.Errorf("%q survived the purge on the terminal:\n%s", gone, all)
		}
	}
}

// TestChatInTmuxFiles: a 1 MiB file from a Go member is listed on the
// screen and written by /save with the same SHA-256; /file and /dmfile from
// the terminal reach the Go member whole.
func TestChatInTmuxFiles(t *testing.T) {
	veil := veilBinary(t)
	s := vtest.NewServer(t, vtest.Options{})
	rm := s.CreateRoom(t, vtest.CreateOptions{Name: "files"})
	bob, err := client.Dial(t.Context(), client.Config{Link: rm.Link, Alias: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()

	p := startTmux(t, 120, 30, nil, veil, "chat", "--alias", "alice", rm.Link)
	p.waitScreen("files", "Members (2)", "bob")
	expectEvent(t, bob, "join", "")

	// In: listed, then saved on /save with the same SHA-256, mode 0600.
	in := randomBytes(t, 1<<20)
	if err := bob.SendFile(t.Context(), 0, "random.bin", "application/octet-stream", in, false); err != nil {
		t.Fatal(err)
	}
	p.waitScreen("file #1 from bob: random.bin (1 MiB, application/octet-stream) — /save 1 [DIR]")
	dir := t.TempDir()
	p.typeLine("/save 1 " + dir)
	p.waitPane("Saved file #1 to "+filepath.Join(dir, "random.bin"), "— saved to "+filepath.Join(dir, "random.bin"))
	saved := filepath.Join(dir, "random.bin")
	b, err := os.ReadFile(saved)
	if err != nil || sha256.Sum256(b) != sha256.Sum256(in) {
		t.Fatalf("%s: %d bytes (%v), SHA-256 %x; sent %d bytes, %x", saved, len(b), err, sha256.Sum256(b), len(in), sha256.Sum256(in))
	}
	if st, _ := os.Stat(saved); st.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", saved, st.Mode())
	}
	// Once saved, the interface keeps no copy.
	p.typeLine("/save 1 " + dir)
	p.waitPane("veil keeps no copy once a file is saved")

	// Out: to the room, then to bob alone.
	out := randomBytes(t, 1<<20)
	path := filepath.Join(t.TempDir(), "from the terminal.bin")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	p.typeLine("/file " + path)
	e := expectFile(t, bob)
	if e.Type != "file" || e.File.Name != "from the terminal.bin" || sha256.Sum256(e.Data) != sha256.Sum256(out) || e.From.Alias != "alice" {
		t.Fatalf("bob got %s %q: %q, %d bytes, SHA-256 %x; want %x", e.Type, e.Text, e.File.Name, len(e.Data), sha256.Sum256(e.Data), sha256.Sum256(out))
	}
	p.waitPane("-- sent from the terminal.bin (1 MiB, application/octet-stream) to the room in")

	p.typeLine("/dmfile bob " + path)
	if e := expectFile(t, bob); e.Type != "file" || sha256.Sum256(e.Data) != sha256.Sum256(out) {
		t.Fatalf("bob got %s %q in a DM", e.Type, e.Text)
	}
	p.waitPane("-- sent from the terminal.bin (1 MiB, application/octet-stream) to bob (direct) in", "DM safety code")

	p.typeLine("/leave")
	if code := p.waitExit(); code != 0 {
		t.Fatalf("exit status %d after /leave:\n%s", code, p.everything())
	}
	if all := p.everything(); strings.Contains(all, "random.bin") {
		t.Errorf("the file list is still on the terminal after leaving:\n%s", all)
	}
}

// TestChatInTmuxModeration: an owner's veil chat (--owner-key-file) and a
// member's, with a Go troll. The member reports the troll; the owner reads
// the report, removes the troll, locks the room and removes the member,
// whose chat says so and exits 3.
func TestChatInTmuxModeration(t *testing.T) {
	veil := veilBinary(t)
	s := vtest.NewServer(t, vtest.Options{})
	rm := s.CreateRoom(t, vtest.CreateOptions{Name: "moderated"})
	keyFile := writeFile(t, "owner.txt", "owner key: "+base64.RawURLEncoding.EncodeToString(rm.Owner[:])+"\n")
	troll, err := client.Dial(t.Context(), client.Config{Link: rm.Link, Alias: "troll"})
	if err != nil {
		t.Fatal(err)
	}
	defer troll.Close()

	owner := startTmux(t, 120, 35, nil, veil, "chat", "--alias", "olga", "--owner-key-file", keyFile, rm.Link)
	owner.waitScreen(" owner ", "Members (2)")
	owner.waitPane("You are the owner of this room")
	expectEvent(t, troll, "join", "")
	member := startTmux(t, 120, 35, nil, veil, "chat", "--alias", "mia", rm.Link)
	member.waitScreen("Members (3)")
	owner.waitScreen("Members (3)")
	if strings.Contains(strings.SplitN(member.screen(), "\n", 2)[0], "owner") {
		t.Fatalf("the member's header shows the owner badge:\n%s", member.screen())
	}
	expectEvent(t, troll, "join", "")

	if err := troll.Say(t.Context(), "you are all \x1b[31midiots\u202e", 0); err != nil {
		t.Fatal(err)
	}
	member.waitScreen("<troll> you are all idiots")
	member.typeLine("/report troll abusive, twice now")
	member.waitPane("Reported to the owner: troll's message “you are all idiots”.")
	owner.waitPane("REPORT from mia: troll (" + troll.Fingerprint() + ") wrote: you are all idiots — note: abusive, twice now")

	owner.typeLine("/kick troll")
	if e := expectEvent(t, troll, "closed", ""); e.Code != 4012 {
		t.Fatalf("the troll got %+v", e)
	}
	owner.waitPane("You removed troll from the room.")
	member.waitPane("troll was removed by the owner")

	owner.typeLine("/lock")
	owner.waitScreen(" owner   locked ")
	member.waitScreen(" locked ")
	member.waitPane("The room is locked: nobody new can join.")
	if _, err := client.Dial(t.Context(), client.Config{Link: rm.Link, Alias: "troll-again"}); err == nil || !strings.Contains(err.Error(), "room locked") {
		t.Fatalf("a join of the locked room: %v", err)
	}

	owner.typeLine("/kick mia")
	if code := member.waitExit(); code != exitRefused {
		t.Fatalf("the removed member's chat exited %d, want %d:\n%s", code, exitRefused, member.everything())
	}
	if all := member.everything(); !strings.Contains(all, "The owner removed you from this room.") {
		t.Fatalf("no word of the removal:\n%s", all)
	}
	owner.waitPane("You removed mia from the room.")
	owner.typeLine("/leave")
	if code := owner.waitExit(); code != 0 {
		t.Fatalf("the owner's chat exited %d:\n%s", code, owner.everything())
	}
}
