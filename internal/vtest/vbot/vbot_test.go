package main

import (
	"bufio"
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

func TestTwoBotsTalk(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "vbot")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
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
