package tui

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"veil/internal/client"
)

// Options adjust how Run talks to the terminal.
type Options struct {
	Input  io.Reader // nil: the terminal
	Output io.Writer // nil: standard output
	Env    []string  // nil: os.Environ()
	// Size, when set, is the screen size to assume where the output is not
	// a terminal (tests).
	Width, Height int
}

// Run shows the session of cfg.Room until it ends, feeding it events (the
// room's Events channel), and returns how it ended. It closes cfg.Room
// before returning and leaves no goroutine behind. A canceled ctx ends the
// session as a leave.
//
// Colour follows the terminal's profile; NO_COLOR set to anything but ""
// turns colour off entirely (attributes such as bold stay).
func Run(ctx context.Context, cfg Config, events <-chan client.Event, opt Options) (Result, error) {
	m := New(cfg)
	// Timers end with the program, so that no goroutine outlives Run.
	stop := make(chan struct{})
	defer close(stop)
	m.timer = func(d time.Duration, fn func(time.Time) tea.Msg) tea.Cmd {
		return func() tea.Msg {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case now := <-t.C:
				return fn(now)
			case <-stop:
				return nil
			}
		}
	}
	env := opt.Env
	if env == nil {
		env = os.Environ()
	}
	opts := []tea.ProgramOption{tea.WithContext(ctx), tea.WithEnvironment(env), tea.WithoutSignalHandler()}
	if opt.Input != nil {
		opts = append(opts, tea.WithInput(opt.Input))
	}
	if opt.Output != nil {
		opts = append(opts, tea.WithOutput(opt.Output))
	}
	if opt.Width > 0 && opt.Height > 0 {
		opts = append(opts, tea.WithWindowSize(opt.Width, opt.Height))
	}
	if noColor(env) {
		opts = append(opts, tea.WithColorProfile(colorprofile.ASCII))
	}
	p := tea.NewProgram(m, opts...)

	pumped := make(chan struct{})
	go func() {
		defer close(pumped)
		for e := range events {
			p.Send(EventMsg(e))
		}
		p.Send(eventsEnded{})
	}()
	_, err := p.Run()
	res := m.Result()
	if res.Ending == Running {
		res.Ending = Left
	}
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		err = nil // a signal: the person left
	}
	cfg.Room.Close()
	<-pumped
	return res, err
}

// noColor reports whether NO_COLOR is set to a non-empty value
// (https://no-color.org). colorprofile honours only values that parse as
// true, so "NO_COLOR=yes" is handled here.
func noColor(env []string) bool {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "NO_COLOR="); ok && v != "" {
			return true
		}
	}
	return false
}
