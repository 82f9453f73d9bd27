package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	socks5 "github.com/things-go/go-socks5"

	"veil/internal/client"
	"veil/internal/room"
	"veil/internal/vtest"
)

// cli runs one command in-process and returns its exit code and output.
func cli(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb strings.Builder
	code := run(t.Context(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func createRoom(t *testing.T, s *vtest.Server, extra ...string) (link, owner string) {
	t.Helper()
	code, out, errs := cli(t, "", append([]string{"create", "--server", s.URL, "--json"}, extra...)...)
	if code != 0 {
		t.Fatalf("create = %d: %s", code, errs)
	}
	var r struct {
		Link     string `json:"link"`
		OwnerKey string `json:"owner_key"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("create printed %q: %v", out, err)
	}
	return r.Link, r.OwnerKey
}

// listener runs `veil listen` in the background and hands out its events.
type listener struct {
	events chan map[string]any
	code   chan int
	cancel context.CancelFunc
}

func startListen(t *testing.T, env map[string]string, args ...string) *listener {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	l := &listener{events: make(chan map[string]any, 100), code: make(chan int, 1), cancel: cancel}
	var errb vtest.SafeBuffer
	go func() {
		l.code <- run(ctx, append([]string{"listen"}, args...), strings.NewReader(""), pw, &errb)
		pw.Close()
	}()
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				l.events <- m
			}
		}
		close(l.events)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-l.code:
		case <-time.After(10 * time.Second):
			t.Errorf("veil listen did not stop; stderr: %s", errb.String())
		}
	})
	return l
}

func (l *listener) expect(t *testing.T, typ, text string) map[string]any {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case m, ok := <-l.events:
			if !ok {
				t.Fatalf("listen ended waiting for %s %q", typ, text)
			}
			if m["type"] == typ && (text == "" || m["text"] == text) {
				return m
			}
			t.Logf("listen: %v", m)
		case <-deadline:
			t.Fatalf("no %s %q within 10s", typ, text)
		}
	}
}

func (l *listener) expectFrom(t *testing.T, typ, from string) map[string]any {
	t.Helper()
	for {
		if m := l.expect(t, typ, ""); m["from"] == from {
			return m
		}
	}
}

// expectAllFrom reads lines until one of typ from each of froms, in any
// order: members joining together may be announced in either order.
func (l *listener) expectAllFrom(t *testing.T, typ string, froms ...string) {
	t.Helper()
	want := map[any]bool{}
	for _, f := range froms {
		want[f] = true
	}
	for len(want) > 0 {
		delete(want, l.expect(t, typ, "")["from"])
	}
}

func TestCreateSendListen(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	link, owner := createRoom(t, s, "--name", "bots", "--purge", "owner")
	l := startListen(t, nil, "--alias", "ear", link)
	// The listener is in once a Go member sees it.
	g, err := client.Dial(t.Context(), client.Config{Link: link, Alias: "watcher"})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	vtest.Poll(t, "the listener to join", func() bool { _, err := g.Member("ear"); return err == nil })

	if code, _, errs := cli(t, "", "send", "--alias", "mouth", link, "hello <b>there</b>"); code != 0 {
		t.Fatalf("send = %d: %s", code, errs)
	}
	l.expectFrom(t, "join", "mouth")
	m := l.expect(t, "message", "hello <b>there</b>")
	if m["from"] != "mouth" || m["fingerprint"] == "" {
		t.Fatalf("listen printed %v", m)
	}
	if code, _, errs := cli(t, "from stdin\n", "send", link, "-"); code != 0 {
		t.Fatalf("send - = %d: %s", code, errs)
	}
	if m := l.expectFrom(t, "leave", "mouth"); m["text"] != "left" {
		t.Fatalf("listen printed %v", m)
	}
	l.expect(t, "message", "from stdin")
	if code, _, errs := cli(t, "", "send", "--dm", "ear", link, "psst"); code != 0 {
		t.Fatalf("send --dm = %d: %s", code, errs)
	}
	l.expect(t, "dm", "psst")
	if code, _, errs := cli(t, "", "send", "--ttl", "30", link, "brief"); code != 0 {
		t.Fatalf("send --ttl = %d: %s", code, errs)
	}
	if m := l.expect(t, "message", "brief"); m["ttl"] != float64(30) {
		t.Fatalf("ttl printed as %v", m["ttl"])
	}
	// The owner purges: listen prints the purge and exits 4.
	key, _ := client.ParseOwnerKey(owner)
	if err := g.Purge(t.Context(), key); err != nil {
		t.Fatal(err)
	}
	l.expect(t, "purge", "")
	if code := <-l.code; code != exitEnded {
		t.Fatalf("listen exited %d after a purge, want %d", code, exitEnded)
	}
	l.code <- 0 // for the cleanup
}

func TestListenExitsWhenTheRoomExpires(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{Limits: room.Limits{MinTTL: time.Second}})
	rm := s.CreateRoom(t, vtest.CreateOptions{TTL: 2 * time.Second})
	l := startListen(t, nil, rm.Link)
	l.expect(t, "expire", "")
	if code := <-l.code; code != exitEnded {
		t.Fatalf("listen exited %d after expiry, want %d", code, exitEnded)
	}
	l.code <- 0
}

func TestPasswordRooms(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	os.WriteFile(pwFile, []byte("s3cret ✓\n"), 0o600)
	link, _ := createRoom(t, s, "--password-file", pwFile)
	if !strings.Contains(link, "#1p.") {
		t.Fatalf("a password room's link %q is not marked", link)
	}
	l := startListen(t, map[string]string{"VEIL_PASSWORD": "s3cret ✓"}, link)
	g, err := client.Dial(t.Context(), client.Config{Link: link, Password: "s3cret ✓", Alias: "g"})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	vtest.Poll(t, "the listener to join", func() bool { return len(g.Members()) == 1 })
	if code, _, errs := cli(t, "", "send", "--password-file", pwFile, link, "with a password"); code != 0 {
		t.Fatalf("send = %d: %s", code, errs)
	}
	l.expect(t, "message", "with a password")

	wrong := filepath.Join(dir, "wrong")
	os.WriteFile(wrong, []byte("nope\n"), 0o600)
	t.Setenv("VEIL_PASSWORD", "")
	tests := []struct {
		name  string
		stdin string
		args  []string
		code  int
		msg   string
	}{
		{"wrong password", "", []string{"send", "--password-file", wrong, link, "x"}, exitRefused, "wrong password"},
		{"no password anywhere", "", []string{"send", link, "x"}, exitUsage, "needs a password"},
		{"missing password file", "", []string{"send", "--password-file", filepath.Join(dir, "none"), link, "x"}, exitUsage, "password file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := cli(t, tc.stdin, tc.args...)
			if code != tc.code || !strings.Contains(errs, tc.msg) {
				t.Fatalf("%v = %d %q, want %d containing %q", tc.args, code, errs, tc.code, tc.msg)
			}
		})
	}
}

func TestClientCommandErrors(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	link, _ := createRoom(t, s)
	_, frag, _ := strings.Cut(link, "#")
	dead := s.URL + "/#1.AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"send: bad link", []string{"send", "https://x/#9.nope", "hi"}, exitUsage, "not a veil link"},
		{"send: bare fragment", []string{"send", "#" + frag, "hi"}, exitUsage, "not a veil link"},
		{"send: dead room", []string{"send", dead, "hi"}, exitRefused, "does not exist any more"},
		{"send: no text", []string{"send", link}, exitUsage, "Usage"},
		{"send: empty text", []string{"send", link, "  "}, exitUsage, "empty"},
		{"send: nobody to DM", []string{"send", "--dm", "ghost", link, "hi"}, exitUsage, "nobody called"},
		{"send: bad ttl", []string{"send", "--ttl", "-1", link, "hi"}, exitUsage, "--ttl"},
		{"send: unreachable server", []string{"send", "http://127.0.0.1:1/#" + frag, "hi"}, exitFailure, "connect"},
		{"send: bad proxy", []string{"send", "--proxy", "http://x", link, "hi"}, exitUsage, "socks5"},
		{"listen: dead room", []string{"listen", dead}, exitRefused, "does not exist any more"},
		{"listen: two links", []string{"listen", link, link}, exitUsage, "Usage"},
		{"create: bad purge", []string{"create", "--server", s.URL, "--purge", "me"}, exitUsage, "anyone or owner"},
		{"create: short ttl", []string{"create", "--server", s.URL, "--ttl", "1s"}, exitUsage, "at least 10s"},
		{"create: bad server", []string{"create", "--server", "ftp://x"}, exitFailure, "http://"},
		{"create: unreachable", []string{"create", "--server", "http://127.0.0.1:1"}, exitFailure, "reach the server"},
		{"help send", []string{"help", "send"}, exitOK, "Exit codes"},
		{"listen help", []string{"listen", "--help"}, exitOK, `"type":"message"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := cli(t, "", tc.args...)
			if code != tc.code || !strings.Contains(out+errs, tc.msg) {
				t.Fatalf("%v = %d\nstdout %q\nstderr %q\nwant %d containing %q", tc.args, code, out, errs, tc.code, tc.msg)
			}
		})
	}
}

// recordingResolver is the SOCKS5 proxy's resolver: it records every name
// the clients asked the proxy to resolve and maps veil.test to loopback.
type recordingResolver struct {
	mu    sync.Mutex
	names []string
}

func (r *recordingResolver) Resolve(ctx context.Context, name string) (context.Context, net.IP, error) {
	r.mu.Lock()
	r.names = append(r.names, name)
	r.mu.Unlock()
	if name == "veil.test" {
		return ctx, net.IPv4(127, 0, 0, 1), nil
	}
	return ctx, nil, &net.DNSError{Err: "no such host", Name: name}
}

// Through a SOCKS5 proxy the host name travels unresolved: the proxy
// resolves "veil.test", which this machine cannot, and the chat works.
func TestThroughSOCKS5(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	res := &recordingResolver{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	proxy := socks5.NewServer(socks5.WithResolver(res))
	done := make(chan struct{})
	go func() { proxy.Serve(ln); close(done) }()
	t.Cleanup(func() { ln.Close(); <-done })
	proxyURL := "socks5://" + ln.Addr().String()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(s.URL, "http://"))
	server := "http://veil.test:" + port

	code, out, errs := cli(t, "", "create", "--server", server, "--proxy", proxyURL, "--json")
	if code != 0 {
		t.Fatalf("create through the proxy = %d: %s", code, errs)
	}
	var r struct{ Link string }
	json.Unmarshal([]byte(out), &r)
	if !strings.HasPrefix(r.Link, "http://veil.test:") {
		t.Fatalf("link %q", r.Link)
	}
	l := startListen(t, nil, "--proxy", proxyURL, "--alias", "tor-ear", r.Link)
	g, err := client.Dial(t.Context(), client.Config{Link: strings.Replace(r.Link, "veil.test", "127.0.0.1", 1), Alias: "direct"})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	vtest.Poll(t, "the proxied listener to join", func() bool { return len(g.Members()) == 1 })
	if code, _, errs := cli(t, "", "send", "--proxy", proxyURL, r.Link, "via tor"); code != 0 {
		t.Fatalf("send through the proxy = %d: %s", code, errs)
	}
	l.expect(t, "message", "via tor")
	res.mu.Lock()
	defer res.mu.Unlock()
	if len(res.names) < 3 {
		t.Fatalf("the proxy resolved %v: the clients did not hand it the host name", res.names)
	}
	for _, n := range res.names {
		if n != "veil.test" {
			t.Fatalf("the proxy was asked for %q", n)
		}
	}
}

func TestSendFileAndListenSaveDir(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	link, _ := createRoom(t, s)
	dir := t.TempDir()
	save := filepath.Join(dir, "in")
	os.Mkdir(save, 0o700)
	l := startListen(t, nil, "--alias", "ear", "--save-dir", save, link)
	g, err := client.Dial(t.Context(), client.Config{Link: link, Alias: "g"})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	vtest.Poll(t, "the listener to join", func() bool { return len(g.Members()) == 1 })

	data := make([]byte, 1<<20+123)
	for i := range data {
		data[i] = byte(i * 7)
	}
	src := filepath.Join(dir, "report.bin")
	os.WriteFile(src, data, 0o600)
	for range 2 { // the second copy must not overwrite the first
		if code, _, errs := cli(t, "", "send", "--file", src, link); code != 0 {
			t.Fatalf("send --file = %d: %s", code, errs)
		}
	}
	sum := sha256.Sum256(data)
	var paths []string
	for range 2 {
		m := l.expect(t, "file", "")
		if m["name"] != "report.bin" || m["sha256"] != hex.EncodeToString(sum[:]) || m["size"] != float64(len(data)) {
			t.Fatalf("listen printed %v", m)
		}
		got, err := os.ReadFile(m["path"].(string))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("saved file %v: %v", m["path"], err)
		}
		if fi, _ := os.Stat(m["path"].(string)); fi.Mode().Perm() != 0o600 {
			t.Fatalf("saved with mode %v", fi.Mode())
		}
		paths = append(paths, m["path"].(string))
	}
	if paths[0] == paths[1] || filepath.Base(paths[1]) != "report (2).bin" {
		t.Fatalf("saved as %v", paths)
	}
	if code, _, errs := cli(t, "", "send", "--file", filepath.Join(dir, "missing"), link); code != exitUsage || !strings.Contains(errs, "no such file") {
		t.Fatalf("send --file missing = %d %q", code, errs)
	}
}
