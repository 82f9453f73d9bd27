package main

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"veil/internal/client"
	"veil/internal/p2p"
	"veil/internal/vtest"
)

// startP2P runs `veil p2p create --json` on loopback in the background
// and returns the link and owner key it prints, and its exit code once
// it ends.
func startP2P(t *testing.T, extra ...string) (link, owner string, code chan int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb vtest.SafeBuffer
	code = make(chan int, 1)
	args := append([]string{"p2p", "create", "--json", "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns"}, extra...)
	go func() { code <- run(ctx, args, strings.NewReader(""), &out, &errb) }()
	var r struct {
		Link     string `json:"link"`
		OwnerKey string `json:"owner_key"`
	}
	vtest.Poll(t, "veil p2p create to print its link", func() bool { return json.Unmarshal([]byte(out.String()), &r) == nil })
	t.Cleanup(func() {
		cancel()
		select {
		case <-code:
		case <-time.After(10 * time.Second):
			t.Errorf("veil p2p create did not stop; stderr: %s", errb.String())
		}
	})
	return r.Link, r.OwnerKey, code
}

var p2pFlags = []string{"--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns"}

// veil p2p create prints a p2p link and stays up as the first peer;
// veil listen and veil send join it with the same output as in server
// mode, and a purge with the owner key ends the room for all, the
// creator included.
func TestP2PCreateSendListen(t *testing.T) {
	link, owner, created := startP2P(t, "--purge", "owner")
	l, err := p2p.ParseLink(link)
	if err != nil || len(l.Peers) != 1 {
		t.Fatalf("veil p2p create printed %q: %v", link, err)
	}
	// A member with the owner key (as /purge KEY in veil chat) watches.
	c, _, err := p2p.Join(t.Context(), l, p2p.Options{Listen: []string{"/ip4/127.0.0.1/tcp/0"}, NoMDNS: true, Wait: 10 * time.Second}, client.Config{Alias: "boss"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go func() {
		for range c.Events() {
		}
	}()
	ear := startListen(t, nil, append(p2pFlags, "--alias", "ear", link)...)
	vtest.Poll(t, "the listener to join", func() bool { _, err := c.Member("ear"); return err == nil })
	for i, text := range []string{"hello <b>there</b>", "second"} {
		if code, _, errs := cli(t, "", append(append([]string{"send"}, p2pFlags...), "--alias", "mouth", link, text)...); code != 0 {
			t.Fatalf("send %d = %d: %s", i, code, errs)
		}
		m := ear.expect(t, "message", text)
		if m["from"] != "mouth" || m["fingerprint"] == "" {
			t.Fatalf("listen printed %v", m)
		}
	}
	key, err := client.ParseOwnerKey(owner)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Purge(t.Context(), key); err != nil {
		t.Fatal(err)
	}
	ear.expect(t, "purge", "")
	select {
	case code := <-ear.code:
		ear.code <- code // for the listener's cleanup
		if code != exitEnded {
			t.Errorf("veil listen exited %d after the purge, want %d", code, exitEnded)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("veil listen still up 10 s after the purge")
	}
	select {
	case c := <-created:
		created <- c // for the cleanup
		if c != exitEnded {
			t.Errorf("veil p2p create exited %d after the purge, want %d", c, exitEnded)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("veil p2p create still up 20 s after the purge")
	}
}

// Bad p2p input is refused with a message and exit 2; a send to a room
// nobody is in fails rather than losing the message without a word.
func TestP2PRefusals(t *testing.T) {
	l, _ := p2p.NewRoom(false, time.Hour, 0, nil)
	for _, c := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"send", "veil:p2p#1.abc", "hi"}, exitUsage, "bad link"},
		{[]string{"send", "--proxy", "socks5://127.0.0.1:9050", l.String(), "hi"}, exitUsage, "cannot go through a proxy"},
		{[]string{"send", "--bootstrap", "/ip4/127.0.0.1/tcp/1", l.String(), "hi"}, exitUsage, "PEERID"},
		{[]string{"send", "--listen", "/ip4/127.0.0.1/tcp/0", "https://veil.example/#1.AAAA", "hi"}, exitUsage, "are for a p2p link"},
		{[]string{"p2p", "create", "--ttl", "1s"}, exitUsage, "--ttl"},
		{[]string{"p2p", "create", "--listen", "127.0.0.1:4001"}, exitUsage, "not a multiaddr"},
		{[]string{"p2p", "create", "--purge", "nobody"}, exitUsage, "--purge"},
		{[]string{"p2p"}, exitUsage, "Usage"},
		{append(append([]string{"send"}, p2pFlags...), l.String(), "hi"), exitFailure, "no peer of this room answered"},
	} {
		code, _, errs := cli(t, "", c.args...)
		if code != c.code || !strings.Contains(errs, c.says) {
			t.Errorf("veil %s = %d, %q; want %d and %q", strings.Join(c.args, " "), code, errs, c.code, c.says)
		}
	}
}

// The terminal interface over a p2p room, driven in tmux: veil p2p create
// --chat shows the link and waits for Enter, veil chat joins with the
// link, both read each other, and a purge ends the room on both screens
// (exit 4, the screen wiped).
func TestP2PChatInTmux(t *testing.T) {
	bin := veilBinary(t)
	a := startTmux(t, 100, 30, nil, bin, "p2p", "create", "--chat", "--alias", "alice", "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns")
	a.waitScreen("press Enter to open the chat")
	m := regexp.MustCompile(`link: (veil:p2p\S+)`).FindStringSubmatch(a.tmux("capture-pane", "-p", "-J", "-t", a.name))
	if m == nil {
		t.Fatalf("no link on the screen:\n%s", a.screen())
	}
	a.tmux("send-keys", "-t", a.name, "Enter")
	a.waitScreen("You joined this room as alice")
	b := startTmux(t, 100, 30, nil, bin, "chat", "--alias", "bob", "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns", m[1])
	b.waitScreen("You joined this room as bob", "alice")
	a.waitPane("bob joined")
	b.typeLine("hello from bob <b>x</b>")
	a.waitPane("<bob> hello from bob <b>x</b>")
	a.typeLine("hi bob")
	b.waitPane("<alice> hi bob")
	b.typeLine("/kick alice")
	b.waitPane("Only the room's owner can remove a member")
	a.typeLine("/purge")
	for _, p := range []*tmuxPane{a, b} {
		if code := p.waitExit(); code != exitEnded {
			t.Errorf("exit %d after the purge, want %d; screen:\n%s", code, exitEnded, p.screen())
		}
		if s := p.everything(); strings.Contains(s, "hello from bob") {
			t.Errorf("a message is still on the screen or in the scrollback after the purge:\n%s", s)
		}
	}
}

// veil p2p node runs a DHT node in no room: peers that know only its
// address (a link without peers) find the room's creator through it.
func TestP2PNodeBootstrap(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb vtest.SafeBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"p2p", "node", "--listen", "/ip4/127.0.0.1/tcp/0"}, strings.NewReader(""), &out, &errb)
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("veil p2p node exited %d: %s", code, errb.String())
		}
	})
	vtest.Poll(t, "veil p2p node to print its address", func() bool { return strings.Contains(out.String(), "\n") })
	node := strings.TrimSpace(strings.Split(out.String(), "\n")[0])
	if _, err := p2p.ParsePeers([]string{node}); err != nil {
		t.Fatalf("veil p2p node printed %q: %v", out.String(), err)
	}

	link, _, _ := startP2P(t, "--bootstrap", node)
	l, err := p2p.ParseLink(link)
	if err != nil {
		t.Fatal(err)
	}
	l.Peers = nil // the room is found through the node alone
	bare := l.String()
	flags := append(append([]string{}, p2pFlags...), "--bootstrap", node)
	boot, _ := p2p.ParsePeers([]string{node})
	c, r, err := p2p.Join(t.Context(), l, p2p.Options{Listen: []string{"/ip4/127.0.0.1/tcp/0"}, NoMDNS: true, Bootstrap: boot, Wait: 20 * time.Second}, client.Config{Alias: "watch"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go func() {
		for range c.Events() {
		}
	}()
	if r.Members() != 1 {
		t.Fatalf("a peer that knows only the node found %d members, want the creator", r.Members())
	}
	ear := startListen(t, nil, append(flags, "--alias", "ear", bare)...)
	vtest.Poll(t, "the listener to join", func() bool { _, err := c.Member("ear"); return err == nil })
	if code, _, errs := cli(t, "", append(append([]string{"send"}, flags...), "--alias", "far", bare, "found you")...); code != 0 {
		t.Fatalf("send through the node = %d: %s", code, errs)
	}
	ear.expect(t, "message", "found you")
}
