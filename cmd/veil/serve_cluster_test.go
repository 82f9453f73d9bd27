package main

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"veil/internal/natstest"
	"veil/internal/roomsuite"
	"veil/internal/vtest"
)

// startWait bounds a node's start: JetStream may hold a replicated bucket
// back for a raft election or two, seconds each on a loaded machine.
const startWait = 90 * time.Second

// node is one `veil serve --nats` running in-process.
type node struct {
	url            string
	stdout, stderr *vtest.SafeBuffer
	stop           func() int // cancels serve and returns its exit code
}

var servingLine = regexp.MustCompile(`veil: serving on (http://127\.0\.0\.1:\d+)/`)

// startNode runs `veil serve` on a free loopback port with args and
// returns once it serves; it fails t if serve exits first.
func startNode(t *testing.T, args ...string) node {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	n := node{stdout: &vtest.SafeBuffer{}, stderr: &vtest.SafeBuffer{}}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), nil, n.stdout, n.stderr)
	}()
	var code int
	stopped := false
	n.stop = func() int {
		if !stopped {
			stopped = true
			cancel()
			code = <-done
		}
		return code
	}
	t.Cleanup(func() { n.stop() })
	deadline := time.Now().Add(startWait)
	for {
		if m := servingLine.FindStringSubmatch(n.stdout.String()); m != nil {
			n.url = m[1]
			return n
		}
		select {
		case code = <-done:
			stopped = true
			cancel()
			t.Fatalf("serve %q exited %d before serving; stderr:\n%s", args, code, n.stderr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve %q not serving after %v; stderr:\n%s", args, startWait, n.stderr)
		}
	}
}

// runBounded runs veil with args and fails t if it has not returned
// within d.
func runBounded(t *testing.T, d time.Duration, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb vtest.SafeBuffer
	done := make(chan int, 1)
	go func() { done <- run(t.Context(), args, strings.NewReader(""), &out, &errb) }()
	select {
	case code = <-done:
		return code, out.String(), errb.String()
	case <-time.After(d):
		t.Fatalf("run(%q) still running after %v; stderr:\n%s", args, d, errb.String())
		return 0, "", ""
	}
}

func joinVia(t *testing.T, n node, rm *vtest.Room, alias string) *vtest.Client {
	t.Helper()
	c, err := vtest.Attach(n.url).Join(t, rm, alias, vtest.DialOptions{})
	if err != nil {
		t.Fatalf("join %s through %s: %v", alias, n.url, err)
	}
	return c
}

// says has from say text and to read it.
func says(t *testing.T, from, to *vtest.Client, text string) {
	t.Helper()
	if err := from.Say(text); err != nil {
		t.Fatalf("%s says %q: %v", from.Alias, text, err)
	}
	if e := to.Expect("msg"); e.Text != text || e.From != from.Welcome.Session {
		t.Fatalf("%s read %q from %d, want %q from %d", to.Alias, e.Text, e.From, text, from.Welcome.Session)
	}
}

// closeCode reads c's socket until it closes, answering the server's close
// at once, and then sends the close code (-1 for none).
func closeCode(c *vtest.Client) <-chan int {
	ch := make(chan int, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		for {
			if _, _, err := c.WS.Read(ctx); err != nil {
				code, _ := vtest.CloseOf(err)
				ch <- code
				return
			}
		}
	}()
	return ch
}

// Two `veil serve --nats` processes share a room: made through one, joined
// through both, a conversation both ways. When one node stops, its member
// is told to reconnect (1012), resumes through the other node as the same
// session, and the conversation goes on.
func TestServeClusterSharesARoom(t *testing.T) {
	tests := []struct {
		name     string
		servers  int
		replicas int
	}{
		{"one NATS server", 1, 1},
		{"three NATS servers", 3, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c *natstest.Cluster
			if tc.servers == 1 {
				c = natstest.StartServer(t)
			} else {
				c = natstest.StartCluster(t, tc.servers)
			}
			urls := c.URLs()
			replicas := strconv.Itoa(tc.replicas)
			start := time.Now()
			na := startNode(t, "--nats", urls[0], "--nats-replicas", replicas)
			t.Logf("first node serving after %v", time.Since(start))
			nb := startNode(t, "--nats", urls[len(urls)-1], "--nats-replicas", replicas)
			for _, n := range []node{na, nb} {
				want := "veil: cluster node on NATS (" + replicas + " cop"
				if !strings.Contains(n.stdout.String(), want) {
					t.Fatalf("stdout = %q, want a line with %q", n.stdout, want)
				}
			}

			rm := vtest.Attach(na.url).CreateRoom(t, vtest.CreateOptions{Name: "two nodes"})
			a := joinVia(t, na, rm, "a")
			b := joinVia(t, nb, rm, "b")
			roomsuite.Meets(t, b, a)
			roomsuite.Meets(t, a, b)
			says(t, a, b, "from a, on the node that made the room")
			says(t, b, a, "from b, on the other node")

			aClosed := closeCode(a)
			if code := na.stop(); code != 0 {
				t.Fatalf("node a exited %d; stderr:\n%s", code, na.stderr)
			}
			if code := <-aClosed; code != int(websocket.StatusServiceRestart) {
				t.Fatalf("a's socket closed with %d, want %d", code, websocket.StatusServiceRestart)
			}
			if err := vtest.Attach(nb.url).Resume(t, a); err != nil {
				t.Fatalf("a resumes through node b: %v", err)
			}
			says(t, a, b, "from a, resumed through b")
			says(t, b, a, "from b, to a on this node now")

			closed := []<-chan int{closeCode(a), closeCode(b)}
			if code := nb.stop(); code != 0 {
				t.Fatalf("node b exited %d; stderr:\n%s", code, nb.stderr)
			}
			for _, ch := range closed {
				if code := <-ch; code != int(websocket.StatusServiceRestart) {
					t.Fatalf("a socket on node b closed with %d, want %d", code, websocket.StatusServiceRestart)
				}
			}
			for _, n := range []node{na, nb} {
				if !strings.Contains(n.stdout.String(), "veil: stopped") {
					t.Fatalf("stdout = %q, want it to end with veil: stopped", n.stdout)
				}
			}
		})
	}
}

// The NATS password comes from the environment; a wrong one stops the
// node at start, with a message.
func TestServeClusterPasswordFromEnvironment(t *testing.T) {
	url := natstest.StartPlain(t, true, "veil-node", "s3cret-pw")
	t.Setenv(natsPasswordEnv, "s3cret-pw")
	n := startNode(t, "--nats", url, "--nats-user", "veil-node", "--nats-replicas", "1")
	if code := n.stop(); code != 0 {
		t.Fatalf("serve exited %d; stderr:\n%s", code, n.stderr)
	}

	t.Setenv(natsPasswordEnv, "wrong")
	code, stdout, stderr := runBounded(t, 30*time.Second, "serve", "--addr", "127.0.0.1:0", "--nats", url, "--nats-user", "veil-node", "--nats-replicas", "1")
	if code != 1 || !strings.Contains(stderr, "veil serve: connect to NATS") || !strings.Contains(stderr, "Authorization") {
		t.Fatalf("with a wrong password: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if strings.Contains(stdout+stderr, "wrong") {
		t.Fatalf("the password shows in the output:\n%s%s", stdout, stderr)
	}
}

// A node that cannot reach NATS, or finds no JetStream there, or no file it
// was given, stops at start with exit 1 and a reason, within seconds.
func TestServeClusterCannotStart(t *testing.T) {
	t.Setenv(natsPasswordEnv, "")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"nobody listening", []string{"--nats", natstest.ClosedURL(t)}, "veil serve: connect to NATS:"},
		{"no JetStream", []string{"--nats", natstest.StartPlain(t, false, "", "")}, "JetStream is not enabled"},
		{"replicas on a lone server", []string{"--nats", natstest.StartPlain(t, true, "", "")}, "--nats-replicas 3 needs a NATS cluster"},
		{"missing creds file", []string{"--nats", natstest.StartPlain(t, true, "", ""), "--nats-creds", t.TempDir() + "/absent.creds"}, "veil serve: nats credentials: open "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			code, stdout, stderr := runBounded(t, 30*time.Second, append([]string{"serve", "--addr", "127.0.0.1:0"}, tc.args...)...)
			if code != 1 || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, want 1 with %q\nstdout: %s\nstderr: %s", code, tc.want, stdout, stderr)
			}
			if strings.Contains(stdout, "serving on") {
				t.Fatalf("it served anyway: %s", stdout)
			}
			t.Logf("failed after %v", time.Since(start))
		})
	}
}

func TestServeClusterFlags(t *testing.T) {
	t.Setenv(natsPasswordEnv, "")
	const url = "nats://127.0.0.1:4222"
	tests := []struct {
		name     string
		args     []string
		inStderr string
	}{
		{"cert without key", []string{"--nats", url, "--nats-tls-cert", "c.pem"}, "--nats-tls-cert and --nats-tls-key go together"},
		{"key without cert", []string{"--nats", url, "--nats-tls-key", "k.pem"}, "go together"},
		{"no replicas", []string{"--nats", url, "--nats-replicas", "0"}, "--nats-replicas must be between 1 and 5"},
		{"too many replicas", []string{"--nats", url, "--nats-replicas", "6"}, "--nats-replicas must be between 1 and 5"},
		{"creds without nats", []string{"--nats-creds", "x.creds"}, "--nats-creds needs --nats"},
		{"replicas without nats", []string{"--nats-replicas", "1"}, "--nats-replicas needs --nats"},
		{"two ways in", []string{"--nats", url, "--nats-creds", "x.creds", "--nats-nkey", "x.nk"}, "only one of"},
		{"user without password", []string{"--nats", url, "--nats-user", "u"}, "$VEIL_NATS_PASSWORD"},
		{"password in the url", []string{"--nats", "nats://u:hunter2@127.0.0.1:4222"}, "no user, password or token"},
		{"token in a second url", []string{"--nats", url + ",nats://tok3n@127.0.0.1:4223"}, "no user, password or token"},
		{"not nats", []string{"--nats", "http://127.0.0.1:4222"}, `scheme "http"`},
		{"empty url in the list", []string{"--nats", url + ","}, "empty URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runBounded(t, 10*time.Second, append([]string{"serve"}, tc.args...)...)
			if code != 2 || !strings.HasPrefix(stderr, "veil serve: ") || !strings.Contains(stderr, tc.inStderr) {
				t.Fatalf("exit %d, want 2 with %q\nstdout: %s\nstderr: %s", code, tc.inStderr, stdout, stderr)
			}
			for _, secret := range []string{"hunter2", "tok3n"} {
				if strings.Contains(stderr, secret) {
					t.Fatalf("the error repeats a secret: %s", stderr)
				}
			}
		})
	}
}
