package main

import (
	"strings"
	"testing"
	"time"

	"veil/internal/client"
	"veil/internal/protocol"
	"veil/internal/relay"
	"veil/internal/vtest"
)

func dialAs(t *testing.T, link, alias string) *client.Client {
	t.Helper()
	c, err := client.Dial(t.Context(), client.Config{Link: link, Alias: alias})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestListenOwnerReadsReports: veil listen --owner-key-file becomes the
// owner and prints a report a Go member sends about another's message, and
// the room's lock and a removal.
func TestListenOwnerReadsReports(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	link, owner := createRoom(t, s, "--name", "moderated")
	keyFile := writeFile(t, "owner.txt", "owner key: "+owner+"\n")
	l := startListen(t, nil, "--alias", "mod-bot", "--owner-key-file", keyFile, link)
	if m := l.expect(t, "state", ""); m["owner"] != true || m["locked"] != false {
		t.Fatalf("listen printed %v", m)
	}
	troll := dialAs(t, link, "troll")
	reporter := dialAs(t, link, "reporter")
	vtest.Poll(t, "everyone to see everyone", func() bool { return len(troll.Members()) == 2 && len(reporter.Members()) == 2 })
	l.expectAllFrom(t, "join", "troll", "reporter")

	vile := "something <b>vile</b>\x1b[31m"
	if err := troll.Say(t.Context(), vile, 0); err != nil {
		t.Fatal(err)
	}
	e := expectEvent(t, reporter, "msg", vile)
	if err := reporter.Report(t.Context(), e.ID, "please look"); err != nil {
		t.Fatal(err)
	}
	r := l.expect(t, "report", vile)
	for k, want := range map[string]any{"from": "troll", "fingerprint": troll.Fingerprint(), "id": e.ID, "reporter": "reporter",
		"reporter_fingerprint": reporter.Fingerprint(), "note": "please look"} {
		if r[k] != want {
			t.Errorf("report %s = %v, want %v (line %v)", k, r[k], want, r)
		}
	}

	// Another owner session locks the room and removes the troll; listen
	// prints both.
	mod := dialAs(t, link, "mod")
	key, _ := client.ParseOwnerKey(owner)
	if err := mod.ClaimOwner(t.Context(), *key); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, mod, "state", "")
	vtest.Poll(t, "mod to see the troll", func() bool { _, err := mod.Member("troll"); return err == nil })
	if err := mod.Lock(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	if m := l.expect(t, "state", ""); m["owner"] != true || m["locked"] != true {
		t.Fatalf("listen printed %v", m)
	}
	tr, _ := mod.Member("troll")
	if err := mod.Kick(t.Context(), tr.Session); err != nil {
		t.Fatal(err)
	}
	if m := l.expectFrom(t, "leave", "troll"); m["text"] != "removed by the owner" {
		t.Fatalf("listen printed %v", m)
	}
}

func TestListenWrongOwnerKey(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	link, _ := createRoom(t, s)
	wrong := writeFile(t, "owner.txt", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n")
	code, out, errs := cli(t, "", "listen", "--owner-key-file", wrong, link)
	if code != exitUsage || !strings.Contains(errs, "the server refused the owner key (wrong owner key)") || strings.Contains(out, `"owner":true`) {
		t.Fatalf("listen with a wrong owner key = %d\nstdout %q\nstderr %q", code, out, errs)
	}
	code, _, errs = cli(t, "", "listen", "--owner-key-file", writeFile(t, "k", "nonsense\n"), link)
	if code != exitUsage || !strings.Contains(errs, "no owner key in it") {
		t.Fatalf("listen with no key in the file = %d %q", code, errs)
	}
}

// TestListenStaysActive: on a relay that closes sessions idle for a
// second, listen keeps telling it that it is there, while a silent Go
// member is closed with 4015.
func TestListenStaysActive(t *testing.T) {
	defer func(d time.Duration) { listenActiveEvery = d }(listenActiveEvery)
	listenActiveEvery = 200 * time.Millisecond
	s := vtest.NewServer(t, vtest.Options{Relay: relay.Options{Idle: time.Second}})
	rm := s.CreateRoom(t, vtest.CreateOptions{})
	l := startListen(t, nil, "--alias", "ear", rm.Link)
	// A watcher, active until it sees listen join, then silent.
	w := dialAs(t, rm.Link, "watcher")
	vtest.Poll(t, "the listener to join", func() bool {
		w.Active(t.Context())
		_, err := w.Member("ear")
		return err == nil
	})
	// The watcher, then another silent member, are closed after an idle
	// second each: time passes by the relay's own clock.
	for i, alias := range []string{"watcher", "silent"} {
		c := w
		if i > 0 {
			c = dialAs(t, rm.Link, alias)
			l.expectFrom(t, "join", alias)
		}
		if e := expectEvent(t, c, "closed", ""); e.Code != protocol.CloseIdle {
			t.Fatalf("%s got %+v", alias, e)
		}
		if m := l.expectFrom(t, "leave", alias); m["text"] != "idle" {
			t.Fatalf("listen printed %v", m)
		}
	}
	if code, _, errs := cli(t, "", "send", rm.Link, "still there?"); code != 0 {
		t.Fatalf("send = %d: %s", code, errs)
	}
	l.expect(t, "message", "still there?")
}

// TestChatRemovedByTheOwner: veil chat removed by an owner says so and
// exits 3; a locked room refuses chat and send alike.
func TestChatRemovedByTheOwner(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	rm := s.CreateRoom(t, vtest.CreateOptions{})
	owner := dialAs(t, rm.Link, "owner")
	if err := owner.ClaimOwner(t.Context(), rm.Owner); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, owner, "state", "")
	_, done, _ := chatSession(t, rm, owner)
	m, err := owner.Member("tester")
	if err != nil {
		t.Fatal(err)
	}
	if err := owner.Kick(t.Context(), m.Session); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := waitChat(t, done)
	if code != exitRefused || !strings.Contains(stderr, "The owner removed you from this room.") {
		t.Fatalf("after a kick: code %d, stderr %q", code, stderr)
	}

	if err := owner.Lock(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	if e := expectEvent(t, owner, "state", ""); !e.Locked {
		t.Fatalf("state %+v", e)
	}
	code, _, stderr = runChat(t, rm.Link)
	if code != exitRefused || strings.TrimSpace(stderr) != "This room is locked: the owner is not letting anyone new in." {
		t.Fatalf("chat in a locked room = %d, %q", code, stderr)
	}
	code, _, stderr = cli(t, "", "send", rm.Link, "let me in")
	if code != exitRefused || !strings.Contains(stderr, "veil send: this room is locked: the owner is not letting anyone new in") {
		t.Fatalf("send to a locked room = %d, %q", code, stderr)
	}
}
