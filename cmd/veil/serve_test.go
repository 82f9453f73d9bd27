package main

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"veil/internal/client"
	"veil/internal/vtest"
)

var urlLine = regexp.MustCompile(`veil: serving on (http://127\.0\.0\.1:\d+)/`)

// startServe runs `veil serve` in-process on a free loopback port and
// returns its URL and a stop function that waits for run to return.
func startServe(t *testing.T, args ...string) (string, *vtest.SafeBuffer, func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &vtest.SafeBuffer{}, &vtest.SafeBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0", "-v"}, args...), nil, stdout, stderr)
	}()
	var url string
	vtest.Poll(t, "the URL line", func() bool {
		m := urlLine.FindStringSubmatch(stdout.String())
		if m != nil {
			url = m[1]
		}
		return m != nil
	})
	stopped := false
	stop := func() int {
		stopped = true
		cancel()
		return <-done
	}
	t.Cleanup(func() {
		if !stopped {
			stop()
		}
	})
	return url, stderr, stop
}

// Invariant 2: the server writes no file. It runs with its working
// directory, HOME and TMPDIR in empty folders through a whole conversation
// and a shutdown; all three stay empty.
func TestServeWritesNoFileAndSaysGoingAway(t *testing.T) {
	dir := t.TempDir()
	home, tmp := filepath.Join(dir, "home"), filepath.Join(dir, "tmp")
	os.Mkdir(home, 0o755)
	os.Mkdir(tmp, 0o755)
	t.Chdir(dir)
	t.Setenv("HOME", home)
	t.Setenv("TMPDIR", tmp)

	url, stderr, stop := startServe(t)
	s := vtest.Attach(url)
	rm := s.CreateRoom(t, vtest.CreateOptions{Name: "files", Password: "pw"})
	a, err := s.Join(t, rm, "a", vtest.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Join(t, rm, "b", vtest.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a.Expect("hello")
	a.Say("hello")
	b.Expect("msg")

	// A file goes through the relay too (two Go clients in another room).
	fileRoom := s.CreateRoom(t, vtest.CreateOptions{})
	fa, err := client.Dial(t.Context(), client.Config{Link: fileRoom.Link, Alias: "fa"})
	if err != nil {
		t.Fatal(err)
	}
	defer fa.Close()
	fb, err := client.Dial(t.Context(), client.Config{Link: fileRoom.Link, Alias: "fb"})
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	vtest.Poll(t, "fa to know fb", func() bool { return len(fa.Members()) == 1 })
	payload := []byte(strings.Repeat("file contents that must not land on disk ", 5000))
	if err := fa.SendFile(t.Context(), 0, "f.txt", "text/plain", payload, false); err != nil {
		t.Fatal(err)
	}
	for e := range fb.Events() {
		if e.Type == "file" {
			if string(e.Data) != string(payload) {
				t.Fatal("the file arrived altered")
			}
			break
		}
		if e.Type == "file-failed" || e.Type == "closed" {
			t.Fatalf("file: %s %s", e.Type, e.Text)
		}
	}

	closed := make(chan websocket.StatusCode, 2)
	for _, c := range []*vtest.Client{a, b} {
		go func() {
			code, _ := vtest.ReadUntilClose(t, c.WS)
			closed <- code
		}()
	}
	if code := stop(); code != 0 {
		t.Fatalf("serve exited %d; stderr:\n%s", code, stderr)
	}
	for range 2 {
		if code := <-closed; code != websocket.StatusGoingAway {
			t.Fatalf("member closed with %d, want 1001", code)
		}
	}
	var files []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if p != dir && p != home && p != tmp {
			files = append(files, p)
		}
		return nil
	})
	if len(files) > 0 {
		t.Fatalf("serve wrote %v", files)
	}
}

func TestCommandLine(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		code     int
		inStdout string
		inStderr string
	}{
		{"no command", nil, 2, "", "Usage:"},
		{"help", []string{"help"}, 0, "veil serve", ""},
		{"unknown command", []string{"nope"}, 2, "", `unknown command "nope"`},
		{"serve help", []string{"serve", "--help"}, 0, "", "-max-ttl duration"},
		{"bad flag", []string{"serve", "--nope"}, 2, "", "flag provided but not defined"},
		{"short max ttl", []string{"serve", "--max-ttl", "1s"}, 2, "", "below the 10s minimum"},
		{"half tls", []string{"serve", "--tls-cert", "x.pem"}, 2, "", "go together"},
		{"stray argument", []string{"serve", "extra"}, 2, "", `unexpected argument "extra"`},
		{"bad address", []string{"serve", "--addr", "127.0.0.1:99999"}, 1, "", "veil serve:"},
		{"bad trusted proxy", []string{"serve", "--trusted-proxy", "10.0.0.1"}, 2, "", "trusted-proxy"},
		{"too much work", []string{"serve", "--pow", "40"}, 2, "", "--pow must be between 0 and 28"},
		{"short idle", []string{"serve", "--idle", "5s"}, 2, "", "--idle must be 0 (never) or at least 1m"},
		{"no joins", []string{"serve", "--join-rate", "0"}, 2, "", "--join-rate must be at least 1"},
		{"room too big", []string{"serve", "--max-members", "1001"}, 2, "", "--max-members must be from 2 to 1000"},
		{"burst under a frame", []string{"serve", "--byte-burst", "1000"}, 2, "", "--byte-burst at least 65669"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb strings.Builder
			code := run(t.Context(), tc.args, strings.NewReader(""), &out, &errb)
			if code != tc.code || !strings.Contains(out.String(), tc.inStdout) || !strings.Contains(errb.String(), tc.inStderr) {
				t.Fatalf("run(%q) = %d\nstdout: %s\nstderr: %s", tc.args, code, out.String(), errb.String())
			}
		})
	}
}
