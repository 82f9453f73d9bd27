package tui

import (
	"context"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"veil/internal/client"
	"veil/internal/vtest"
)

// runFake runs the real program (renderer included) over a fake room with
// env, writing to a buffer as a terminal would receive it. It sends evs,
// waits until the output shows marker, then types /quit.
func runFake(t *testing.T, env []string, marker string, evs ...client.Event) (string, Result, *fakeRoom) {
	t.Helper()
	f := newFakeRoom()
	f.events = make(chan client.Event, 16)
	f.join(bob)
	pr, pw := io.Pipe()
	out := &vtest.SafeBuffer{}
	type ran struct {
		r   Result
		err error
	}
	done := make(chan ran, 1)
	go func() {
		r, err := Run(context.Background(), Config{Room: f}, f.events, Options{Input: pr, Output: out, Env: env, Width: 80, Height: 24})
		done <- ran{r, err}
	}()
	for _, e := range evs {
		f.events <- e
	}
	vtest.Poll(t, "the screen to show "+marker, func() bool { return strings.Contains(out.String(), marker) })
	io.WriteString(pw, "/quit\r")
	var res ran
	select {
	case res = <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("Run did not return after /quit; output:\n%q", out.String()[max(0, len(out.String())-1500):])
	}
	pw.Close()
	if res.err != nil {
		t.Fatalf("Run: %v", res.err)
	}
	if f.closed != 1 {
		t.Errorf("Run closed the room %d times, want 1", f.closed)
	}
	return out.String(), res.r, f
}

var sgrParams = regexp.MustCompile("\x1b\\[([0-9;:]*)m")

// colours lists the SGR parameters in s that set a colour.
func colours(s string) []string {
	var found []string
	for _, m := range sgrParams.FindAllStringSubmatch(s, -1) {
		for p := range strings.SplitSeq(m[1], ";") {
			n, err := strconv.Atoi(strings.SplitN(p, ":", 2)[0])
			if err != nil {
				continue
			}
			if n >= 30 && n <= 38 || n >= 40 && n <= 48 || n >= 90 && n <= 97 || n >= 100 && n <= 107 {
				found = append(found, m[0])
			}
		}
	}
	return found
}

// TestNoColor runs the program as on a 256-colour terminal: colour is on,
// and NO_COLOR (any non-empty value) turns it off entirely.
func TestNoColor(t *testing.T) {
	term := []string{"TERM=xterm-256color", "TTY_FORCE=1"}
	say := client.Event{Type: "msg", From: bob, Text: "colourful"}
	out, _, _ := runFake(t, term, "colourful", say)
	if len(colours(out)) == 0 {
		t.Fatalf("no colour on a 256-colour terminal, so the NO_COLOR cases prove nothing:\n%q", out)
	}
	for _, v := range []string{"1", "yes", "anything"} {
		out, _, _ := runFake(t, append(term, "NO_COLOR="+v), "colourful", say)
		if c := colours(out); len(c) > 0 {
			t.Errorf("NO_COLOR=%s: colour sequences %q in the output", v, c)
		}
	}
}

// TestEscapesNeverReachTheTerminal sends hostile text through the whole
// program, renderer included, and reads the bytes meant for the terminal.
func TestEscapesNeverReachTheTerminal(t *testing.T) {
	evil := client.Member{Session: 66, Alias: "eve\x1b]0;ALIAS-TITLE\x07", Fingerprint: "6666-6666-6666-6666"}
	out, r, f := runFake(t, []string{"TERM=xterm-256color"}, "last line",
		client.Event{Type: "join", From: evil},
		client.Event{Type: "msg", From: evil, Text: "one\x1b]0;PWNED-TITLE\x07two"},
		client.Event{Type: "msg", From: evil, Text: "\x1b]52;c;Y2xpcGJvYXJk\x07clip"},
		client.Event{Type: "dm", From: evil, Text: "\x1bP+q544e\x1b\\dcs \x1b[6n dsr"},
		client.Event{Type: "msg", From: evil, Text: "last line"},
	)
	for _, bad := range []string{"PWNED-TITLE", "ALIAS-TITLE", "\x1b]52", "Y2xpcGJvYXJk", "\x1bP+q", "544e", "\x1b[6n"} {
		if strings.Contains(out, bad) {
			t.Errorf("the terminal received %q", bad)
		}
	}
	for _, want := range []string{"onetwo", "clip", "dcs  dsr", "eve"} {
		if !strings.Contains(out, want) {
			t.Errorf("the terminal did not receive the visible text %q", want)
		}
	}
	if r.Ending != Left || f.closed != 1 {
		t.Errorf("result %+v, closed %d", r, f.closed)
	}
}

// TestRunEndsWithItsContext: a signal (ctx canceled) ends the session as a
// leave, closes the room and leaves no goroutine running.
func TestRunEndsWithItsContext(t *testing.T) {
	f := newFakeRoom()
	f.events = make(chan client.Event, 1)
	pr, pw := io.Pipe()
	defer pw.Close()
	out := &vtest.SafeBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan Result, 1)
	go func() {
		r, err := Run(ctx, Config{Room: f}, f.events, Options{Input: pr, Output: out, Env: []string{}, Width: 80, Height: 24})
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		done <- r
	}()
	vtest.Poll(t, "the first screen", func() bool { return strings.Contains(out.String(), "Members (1)") })
	cancel()
	select {
	case r := <-done:
		if r.Ending != Left || f.closed != 1 {
			t.Fatalf("result %+v, room closed %d times", r, f.closed)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}
