package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"io"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"veil/internal/vtest"
)

func TestMain(m *testing.M) { vtest.Main(m) }

type bot struct {
	in  io.WriteCloser
	out chan map[string]any
}

func start(t *testing.T, bin, link, alias string) *bot {
	t.Helper()
	cmd := exec.Command(bin, "--alias", alias, link)
	cmd.Env = append(cmd.Environ(), "VEIL_PASSWORD=pw")
	in, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	b := &bot{in: in, out: make(chan map[string]any, 100)}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var m map[string]any
			json.Unmarshal(sc.Bytes(), &m)
			b.out <- m
		}
		close(b.out)
	}()
	t.Cleanup(func() {
		in.Close()
		cmd.Wait()
	})
	return b
}

func (b *bot) send(t *testing.T, cmd string) {
	if _, err := io.WriteString(b.in, cmd+"\n"); err != nil {
		t.Fatal(err)
	}
}

func (b *bot) wait(t *testing.T, event string) map[string]any {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case m, ok := <-b.out:
			if !ok {
				t.Fatalf("bot ended waiting for %s", event)
			}
			if m["event"] == event {
				return m
			}
		case <-deadline:
			t.Fatalf("no %s within 15s", event)
		}
	}
}

func build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "vbot")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

func TestTwoBotsTalk(t *testing.T) {
	bin := build(t)
	s := vtest.NewServer(t, vtest.Options{})
	rm := s.CreateRoom(t, vtest.CreateOptions{Password: "pw"})
	a := start(t, bin, rm.Link, "ann")
	a.wait(t, "ready")
	b := start(t, bin, rm.Link, "ben")
	b.wait(t, "ready")
	a.wait(t, "join")
	b.send(t, `{"say":"hi ann"}`)
	if m := a.wait(t, "msg"); m["text"] != "hi ann" || m["from"] != "ben" {
		t.Fatalf("ann got %v", m)
	}
	a.send(t, `{"dm":"ben","text":"psst"}`)
	if m := b.wait(t, "dm"); m["text"] != "psst" || m["hybrid"] != true {
		t.Fatalf("ben got %v", m)
	}
	a.send(t, `{"safety":"ben"}`)
	b.send(t, `{"safety":"ann"}`)
	sa, sb := a.wait(t, "safety"), b.wait(t, "safety")
	if sa["member"] != sb["member"] || sa["dm"] != sb["dm"] || sa["dm"] == nil {
		t.Fatalf("safety codes differ: %v vs %v", sa, sb)
	}
	a.send(t, `{"quit":true}`)
	if m := b.wait(t, "leave"); m["from"] != "ann" {
		t.Fatalf("ben saw %v", m)
	}
}

// TestOwnerBot: a bot proves the owner key, reads a report another bot
// sends about a third's message, locks the room and removes the third.
func TestOwnerBot(t *testing.T) {
	bin := build(t)
	s := vtest.NewServer(t, vtest.Options{})
	rm := s.CreateRoom(t, vtest.CreateOptions{Password: "pw"})
	ann := start(t, bin, rm.Link, "ann")
	ann.wait(t, "ready")
	ben := start(t, bin, rm.Link, "ben")
	ben.wait(t, "ready")
	cat := start(t, bin, rm.Link, "cat")
	cat.wait(t, "ready")
	ann.wait(t, "join")
	ann.wait(t, "join")
	ben.wait(t, "join")

	ann.send(t, `{"claim":"`+base64.RawURLEncoding.EncodeToString(rm.Owner[:])+`"}`)
	if m := ann.wait(t, "state"); m["owner"] != true || m["locked"] != false {
		t.Fatalf("ann's state %v", m)
	}
	cat.send(t, `{"say":"something vile"}`)
	msg := ben.wait(t, "msg")
	if msg["text"] != "something vile" || msg["id"] == nil {
		t.Fatalf("ben got %v", msg)
	}
	ben.send(t, `{"report":"something vile","note":"please look"}`)
	if m := ben.wait(t, "reported"); m["id"] != msg["id"] {
		t.Fatalf("ben reported %v", m)
	}
	r := ann.wait(t, "report")
	for k, want := range map[string]any{"from": "cat", "id": msg["id"], "text": "something vile", "reporter": "ben", "note": "please look"} {
		if r[k] != want {
			t.Errorf("report %s = %v, want %v (%v)", k, r[k], want, r)
		}
	}
	if r["fingerprint"] == nil || r["reporter_fingerprint"] == nil {
		t.Errorf("report without fingerprints: %v", r)
	}
	ben.send(t, `{"report":"never said","note":""}`)
	if m := ben.wait(t, "error"); m["text"] != `no message "never said" received to report` {
		t.Fatalf("ben got %v", m)
	}

	ben.send(t, `{"lock":true}`)
	if m := ben.wait(t, "error"); m["code"] != float64(4010) {
		t.Fatalf("a lock by a member: %v", m)
	}
	ann.send(t, `{"lock":true}`)
	if m := ben.wait(t, "state"); m["locked"] != true || m["owner"] != false {
		t.Fatalf("ben's state %v", m)
	}
	if m := ann.wait(t, "state"); m["locked"] != true || m["owner"] != true {
		t.Fatalf("ann's state %v", m)
	}
	ann.send(t, `{"kick":"cat"}`)
	if m := cat.wait(t, "closed"); m["code"] != float64(4012) {
		t.Fatalf("cat got %v", m)
	}
	if m := ben.wait(t, "leave"); m["from"] != "cat" || m["text"] != "removed by the owner" {
		t.Fatalf("ben saw %v", m)
	}
	ann.send(t, `{"active":true}`)
	ann.send(t, `{"lock":false}`)
	if m := ann.wait(t, "state"); m["locked"] != false || m["owner"] != true {
		t.Fatalf("ann's state %v", m)
	}
}
