package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"veil/internal/client"
	"veil/internal/vtest"
)

// runChat runs `veil chat args` in-process with no terminal input and
// returns its exit code, stdout and stderr.
func runChat(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	stdout, stderr := &vtest.SafeBuffer{}, &vtest.SafeBuffer{}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	code := chat(ctx, args, strings.NewReader(""), stdout, stderr)
	return code, stdout.String(), stderr.String()
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestChatHelp(t *testing.T) {
	code, _, stderr := runChat(t, "--help")
	if code != 0 {
		t.Fatalf("veil chat --help = %d, want 0", code)
	}
	for _, want := range []string{"Usage: veil chat [flags] LINK", "-alias", "-proxy", "-password-file", "-owner-key-file",
		"/dm ALIAS TEXT", "/who", "/verify ALIAS", "/file PATH", "/dmfile ALIAS PATH", "/save N [DIR]", "/purge [KEY]", "/leave", "/logout", "/help", "NO_COLOR",
		"/owner KEY", "/kick ALIAS", "/lock, /unlock", "/report ALIAS [NOTE]", "/mute ALIAS", "/unmute ALIAS", "/filter add WORDS", "/filter list", "/filter clear",
		"Exit codes:", "0  you left", "1  runtime failure", "2  usage", "3  refused", "4  the room ended"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("veil chat --help lacks %q:\n%s", want, stderr)
		}
	}
}

func TestChatUsageErrors(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	rm := s.CreateRoom(t, vtest.CreateOptions{})
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"no link":                        {nil, "Usage: veil chat"},
		"two links":                      {[]string{rm.Link, rm.Link}, "Usage: veil chat"},
		"unknown flag":                   {[]string{"--colour", rm.Link}, "flag provided but not defined"},
		"not a link":                     {[]string{"https://example.com/"}, "is not a veil link"},
		"bad proxy":                      {[]string{"--proxy", "http://proxy:8080", rm.Link}, "--proxy must be socks5://"},
		"no owner file":                  {[]string{"--owner-key-file", filepath.Join(t.TempDir(), "missing"), rm.Link}, "owner key file"},
		"bad owner key":                  {[]string{"--owner-key-file", writeFile(t, "owner", "not a key\n"), rm.Link}, "no owner key in it"},
		"password in argv is not a flag": {[]string{"--password", "pw", rm.Link}, "flag provided but not defined"},
	} {
		t.Run(name, func(t *testing.T) {
			code, _, stderr := runChat(t, tc.args...)
			if code != exitUsage || !strings.Contains(stderr, tc.want) {
				t.Fatalf("veil chat %q = %d, stderr %q; want %d and %q", tc.args, code, stderr, exitUsage, tc.want)
			}
		})
	}
}

func TestChatNeedsATerminal(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	rm := s.CreateRoom(t, vtest.CreateOptions{})
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	stderr := &vtest.SafeBuffer{}
	if code := chat(t.Context(), []string{rm.Link}, strings.NewReader(""), f, stderr); code != exitUsage || !strings.Contains(stderr.String(), "not a terminal") {
		t.Fatalf("veil chat > file = %d, %q", code, stderr)
	}
}

func TestChatRefusals(t *testing.T) {
	t.Setenv("VEIL_PASSWORD", "")
	s := vtest.NewServer(t, vtest.Options{})
	locked := s.CreateRoom(t, vtest.CreateOptions{Password: "right"})
	gone := s.CreateRoom(t, vtest.CreateOptions{})
	c, err := client.Dial(t.Context(), client.Config{Link: gone.Link, Alias: "purger"})
	if err != nil {
		t.Fatal(err)
	}
	c.Purge(t.Context(), &gone.Owner)
	for range c.Events() {
	}
	c.Close()
	unreachable := "http://127.0.0.1:1/" + gone.Link[strings.Index(gone.Link, "#"):]

	for name, tc := range map[string]struct {
		args []string
		code int
		want string
	}{
		"wrong password": {[]string{"--password-file", writeFile(t, "pw", "wrong\n"), locked.Link}, exitRefused, "Wrong password."},
		"no password":    {[]string{locked.Link}, exitUsage, "needs a password"},
		"room gone":      {[]string{gone.Link}, exitRefused, "does not exist any more"},
		"unreachable":    {[]string{unreachable}, exitFailure, "veil chat:"},
	} {
		t.Run(name, func(t *testing.T) {
			code, _, stderr := runChat(t, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Fatalf("veil chat = %d, stderr %q; want %d and %q", code, stderr, tc.code, tc.want)
			}
		})
	}
}

// chatSession runs veil chat in-process over a pipe (no terminal) in rm,
// with bob (a Go member) seeing it join. It returns a function to type a
// line, a channel with the exit code, stdout and stderr, and stdout so far.
func chatSession(t *testing.T, rm *vtest.Room, bob *client.Client, args ...string) (func(string), <-chan [3]any, *vtest.SafeBuffer) {
	t.Helper()
	pr, pw := io.Pipe()
	stdout, stderr := &vtest.SafeBuffer{}, &vtest.SafeBuffer{}
	done := make(chan [3]any, 1)
	go func() {
		code := chat(context.Background(), append(append([]string{"--alias", "tester"}, args...), rm.Link), pr, stdout, stderr)
		pw.Close()
		done <- [3]any{code, stdout.String(), stderr.String()}
	}()
	t.Cleanup(func() { pw.Close() })
	expectEvent(t, bob, "join", "")
	vtest.Poll(t, "the interface", func() bool { return strings.Contains(stdout.String(), "Members (2)") })
	return func(line string) { io.WriteString(pw, line+"\r") }, done, stdout
}

func waitChat(t *testing.T, done <-chan [3]any) (int, string, string) {
	t.Helper()
	select {
	case r := <-done:
		return r[0].(int), r[1].(string), r[2].(string)
	case <-time.After(20 * time.Second):
		t.Fatal("veil chat did not return")
	}
	panic("unreachable")
}

func TestChatPurgeWipesAndExits4(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	rm := s.CreateRoom(t, vtest.CreateOptions{Purge: "owner"})
	bob, err := client.Dial(t.Context(), client.Config{Link: rm.Link, Alias: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()
	keyFile := writeFile(t, "owner.txt", "link: "+rm.Link+"\nowner key: "+base64.RawURLEncoding.EncodeToString(rm.Owner[:])+"\n")
	typeLine, done, _ := chatSession(t, rm, bob, "--owner-key-file", keyFile)
	// The room is owner-only: /purge works because of --owner-key-file.
	typeLine("/purge")
	code, stdout, stderr := waitChat(t, done)
	if code != exitEnded || !strings.HasSuffix(stdout, wipeTerminal) || !strings.Contains(stderr, "This room was purged.") {
		t.Fatalf("after /purge: code %d, stdout ends %q, stderr %q", code, stdout[max(len(stdout)-40, 0):], stderr)
	}
	expectEvent(t, bob, "closed", "")
}

func TestChatLogout(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	rm := s.CreateRoom(t, vtest.CreateOptions{})
	bob, err := client.Dial(t.Context(), client.Config{Link: rm.Link, Alias: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()
	typeLine, done, _ := chatSession(t, rm, bob)
	typeLine("/logout")
	code, stdout, stderr := waitChat(t, done)
	if code != exitOK || !strings.HasSuffix(stdout, wipeTerminal) || !strings.Contains(stderr, "You logged out.") {
		t.Fatalf("after /logout: code %d, stdout ends %q, stderr %q", code, stdout[max(len(stdout)-40, 0):], stderr)
	}
	if e := expectEvent(t, bob, "leave", ""); e.Text != "logged out" {
		t.Fatalf("bob saw %+v", e)
	}
}

func TestChatServerGoingAway(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	rm := s.CreateRoom(t, vtest.CreateOptions{})
	bob, err := client.Dial(t.Context(), client.Config{Link: rm.Link, Alias: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()
	_, done, _ := chatSession(t, rm, bob)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	s.Relay.Shutdown(ctx)
	code, stdout, stderr := waitChat(t, done)
	if code != exitFailure || strings.HasSuffix(stdout, wipeTerminal) || !strings.Contains(stderr, "shutting down") {
		t.Fatalf("after a shutdown: code %d, stderr %q", code, stderr)
	}
}

func TestReadOwnerKey(t *testing.T) {
	var want [32]byte
	want[0], want[31] = 7, 9
	key := base64.RawURLEncoding.EncodeToString(want[:])
	for name, content := range map[string]string{
		"bare":            key,
		"line":            key + "\n",
		"create's output": "link: http://x/#1.abc\nowner key: " + key + "\nlifetime: 1h0m0s\n",
	} {
		got, err := readOwnerKey(writeFile(t, "k", content))
		if err != nil || got != want {
			t.Errorf("%s: readOwnerKey = %x, %v", name, got, err)
		}
	}
}

// expectFile reads c's events until a file arrives (or fails).
func expectFile(t *testing.T, c *client.Client) client.Event {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case e, ok := <-c.Events():
			if !ok {
				t.Fatalf("%s: events ended waiting for a file", c.Alias())
			}
			if e.Type == "file" || e.Type == "file-failed" {
				return e
			}
		case <-timeout:
			t.Fatalf("%s: no file within 30s", c.Alias())
		}
	}
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// TestChatFiles: a file from a Go member is listed and saved on /save with
// the same SHA-256, and /file reaches the Go member whole.
func TestChatFiles(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	rm := s.CreateRoom(t, vtest.CreateOptions{})
	bob, err := client.Dial(t.Context(), client.Config{Link: rm.Link, Alias: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()
	typeLine, done, stdout := chatSession(t, rm, bob)

	in := randomBytes(t, 300_000)
	if err := bob.SendFile(t.Context(), 0, "in.bin", "application/octet-stream", in, false); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	saved := filepath.Join(dir, "in.bin")
	vtest.Poll(t, "the file's entry", func() bool { return strings.Contains(ansi.Strip(stdout.String()), "/save 1 [DIR]") })
	typeLine("/save 1 " + dir)
	vtest.Poll(t, "the file saved", func() bool { return strings.Contains(ansi.Strip(stdout.String()), "Saved file #1") })
	if b, err := os.ReadFile(saved); err != nil || sha256.Sum256(b) != sha256.Sum256(in) {
		t.Fatalf("saved %d bytes (%v), not the %d sent", len(b), err, len(in))
	}
	if st, err := os.Stat(saved); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("saved with mode %v, %v; want 0600", st.Mode(), err)
	}

	out := randomBytes(t, 200_000)
	path := filepath.Join(t.TempDir(), "out file.bin")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	typeLine("/file " + path)
	if e := expectFile(t, bob); e.Type != "file" || e.File.Name != "out file.bin" || sha256.Sum256(e.Data) != sha256.Sum256(out) || e.From.Alias != "tester" {
		t.Fatalf("bob got %s %q: %q, %d bytes from %q", e.Type, e.Text, e.File.Name, len(e.Data), e.From.Alias)
	}
	typeLine("/leave")
	if code, _, _ := waitChat(t, done); code != exitOK {
		t.Fatalf("exit %d", code)
	}
}
