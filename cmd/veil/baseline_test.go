package main

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"veil/internal/protocol"
	"veil/internal/vtest"
)

var baselineLine = regexp.MustCompile(`baseline: serving on (http://127\.0\.0\.1:\d+)/`)

// veil bench-baseline takes a room creation and a JOIN as veil does, and
// Ctrl-C stops it with its socket still open.
func TestBenchBaselineJoins(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout, stderr := &vtest.SafeBuffer{}, &vtest.SafeBuffer{}
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"bench-baseline", "--addr", "127.0.0.1:0"}, nil, stdout, stderr) }()
	var url string
	vtest.Poll(t, "the URL line", func() bool {
		m := baselineLine.FindStringSubmatch(stdout.String())
		if m != nil {
			url = m[1]
		}
		return m != nil
	})

	resp, err := http.Post(url+"/api/rooms", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /api/rooms = %d, want 201", resp.StatusCode)
	}
	dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer dcancel()
	ws, _, err := websocket.Dial(dctx, "ws"+strings.TrimPrefix(url, "http")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if err := ws.Write(dctx, websocket.MessageBinary, protocol.Encode(protocol.Join{RID: protocol.RID{1}})); err != nil {
		t.Fatal(err)
	}
	_, b, err := ws.Read(dctx)
	if err != nil {
		t.Fatal(err)
	}
	if f, err := protocol.Decode(b); err != nil {
		t.Fatalf("answer to JOIN: %v", err)
	} else if w, ok := f.(protocol.Welcome); !ok || w.Session == 0 {
		t.Fatalf("answer to JOIN: %#v, want a WELCOME with a session", f)
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 || !strings.Contains(stdout.String(), "baseline: stopped") {
			t.Fatalf("after Ctrl-C: exit %d, stdout %q, stderr %q; want 0 and \"baseline: stopped\"", code, stdout, stderr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("bench-baseline did not stop within 10s of Ctrl-C")
	}
	// The server closed the socket, not left it open.
	rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer rcancel()
	if _, _, err := ws.Read(rctx); err == nil || rctx.Err() != nil {
		t.Fatal("socket still open after the baseline stopped")
	}
}

func TestBenchBaselineHelp(t *testing.T) {
	var stdout, stderr strings.Builder
	if code := run(context.Background(), []string{"bench-baseline", "--help"}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("bench-baseline --help: exit %d, want 0", code)
	}
	for _, want := range []string{"yardstick for 'veil bench'", "not a chat server", "Never\nexpose it", "-addr HOST:PORT"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("bench-baseline --help lacks %q:\n%s", want, stderr.String())
		}
	}
	if code := run(context.Background(), []string{"bench-baseline", "extra"}, nil, &stdout, &stderr); code != 2 {
		t.Errorf("bench-baseline extra: exit %d, want 2", code)
	}
}
