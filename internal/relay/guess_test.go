package relay_test

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/coder/websocket"

	"veil/internal/protocol"
	"veil/internal/vtest"
)

// tryJoin opens a socket, presents join for rid and reports how the relay
// answered: 0 for a WELCOME (the socket is then closed cleanly), else the
// close code and reason.
func tryJoin(t *testing.T, s *vtest.Server, rid protocol.RID, join [32]byte) (websocket.StatusCode, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ws, err := s.Dial(ctx, vtest.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	c := &vtest.Client{WS: ws}
	if err := c.Write(protocol.Join{RID: rid, Join: join}); err != nil {
		t.Fatal(err)
	}
	f, err := c.Next(ctx)
	if err == nil {
		if _, ok := f.(protocol.Welcome); !ok {
			t.Fatalf("JOIN answered with %T", f)
		}
		ws.Close(websocket.StatusNormalClosure, "")
		return 0, ""
	}
	code, reason := vtest.CloseOf(err)
	if code < 0 {
		t.Fatalf("JOIN: %v, not a close", err)
	}
	return websocket.StatusCode(code), reason
}

// Wrong join values for a room with a password (online password guesses)
// are refused with 4003 up to the per-room limit of docs/protocol.md 4.3
// (10 at once, one more every 6 s), then with 4029, whatever they are; and
// an honest joiner who knows the password still gets in within one refill.
func TestPasswordGuessLimitHolds(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	rm := s.CreateRoom(t, vtest.CreateOptions{Password: "correct horse battery staple"})
	k := rm.Keys(t)

	const burst, more = 10, 50
	start := time.Now() // the limiter is full since the room was made; it holds at most 10
	var codes []websocket.StatusCode
	for i := range burst + 1 + more {
		var guess [32]byte
		rand.Read(guess[:])
		code, reason := tryJoin(t, s, k.RID, guess)
		switch {
		case code == protocol.CloseWrongPassword && reason == protocol.ErrWrongPassword.Reason,
			code == protocol.CloseTooMany && reason == protocol.ErrTooMany.Reason:
		default:
			t.Fatalf("wrong join value %d: close %d %q, want 4003 or 4029", i+1, code, reason)
		}
		codes = append(codes, code)
	}
	elapsed := time.Since(start)
	// One more attempt is allowed for each 6 s the guesses took; on any
	// machine that runs the suite in time, none.
	refills := int(elapsed / (6 * time.Second))
	wrong := 0
	for i, c := range codes {
		if i < burst && c != protocol.CloseWrongPassword {
			t.Fatalf("wrong join value %d closed with %d, want 4003 (the first %d are answered)", i+1, c, burst)
		}
		if i >= burst && c == protocol.CloseWrongPassword {
			wrong++
		}
	}
	if wrong > refills {
		t.Fatalf("%d wrong join values in %v: %d answered 4003 past the first %d, want at most %d", len(codes), elapsed, wrong, burst, refills)
	}
	if refills == 0 && codes[burst] != protocol.CloseTooMany {
		t.Fatalf("the 11th wrong join value closed with %d, want 4029", codes[burst])
	}
	t.Logf("%d wrong join values in %v: %d x 4003, then 4029", len(codes), elapsed.Round(time.Millisecond), burst+wrong)

	// The honest joiner: in at once, or at the latest once the limiter has
	// refilled (one attempt every 6 s).
	deadline := time.Now().Add(6*time.Second + 4*time.Second)
	for {
		code, reason := tryJoin(t, s, k.RID, k.Join)
		if code == 0 {
			break
		}
		if code != protocol.CloseTooMany || time.Now().After(deadline) {
			t.Fatalf("the right join value after the guesses: close %d %q", code, reason)
		}
		select {
		case <-t.Context().Done():
			return
		case <-time.After(250 * time.Millisecond):
		}
	}
}
