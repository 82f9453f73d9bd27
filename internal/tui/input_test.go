package tui

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

func keys(in *input, ks ...tea.KeyPressMsg) {
	for _, k := range ks {
		in.Update(k)
	}
}

func typed(s string) []tea.KeyPressMsg {
	var out []tea.KeyPressMsg
	for _, r := range s {
		out = append(out, tea.KeyPressMsg{Code: r, Text: string(r)})
	}
	return out
}

func TestInputEditing(t *testing.T) {
	in := newInput()
	keys(&in, typed("hello world")...)
	keys(&in, tea.KeyPressMsg{Code: tea.KeyLeft}, tea.KeyPressMsg{Code: tea.KeyLeft})
	keys(&in, typed("X")...)
	if got := in.Value(); got != "hello worXld" {
		t.Fatalf("after left, left, X: %q", got)
	}
	keys(&in, tea.KeyPressMsg{Code: 'w', Mod: tea.ModCtrl})
	if got := in.Value(); got != "hello ld" {
		t.Fatalf("after Ctrl+W: %q", got)
	}
	keys(&in, tea.KeyPressMsg{Code: tea.KeyHome}, tea.KeyPressMsg{Code: tea.KeyDelete})
	if got := in.Value(); got != "ello ld" {
		t.Fatalf("after Home, Delete: %q", got)
	}
	keys(&in, tea.KeyPressMsg{Code: tea.KeyEnd}, tea.KeyPressMsg{Code: tea.KeyBackspace})
	if got := in.Value(); got != "ello l" {
		t.Fatalf("after End, Backspace: %q", got)
	}
	keys(&in, tea.KeyPressMsg{Code: 'a', Mod: tea.ModCtrl}, tea.KeyPressMsg{Code: 'k', Mod: tea.ModCtrl})
	if got := in.Value(); got != "" {
		t.Fatalf("after Ctrl+A, Ctrl+K: %q", got)
	}
	in.Update(tea.PasteMsg{Content: "pasted\nline\x1b[31m red"})
	if got := in.Value(); got != "pasted line red" {
		t.Fatalf("after a paste: %q", got)
	}
	// Ctrl and Alt chords that mean nothing here insert nothing.
	if in.Update(tea.KeyPressMsg{Code: 'z', Text: "z", Mod: tea.ModCtrl}) || in.Value() != "pasted line red" {
		t.Fatalf("Ctrl+Z was taken: %q", in.Value())
	}
}

func TestInputScrollsSideways(t *testing.T) {
	in := newInput()
	long := strings.Repeat("abcdefghij", 10) + "END"
	in.Update(tea.PasteMsg{Content: long})
	line, x := in.View(40)
	if w := ansi.StringWidth(line); w > 40 || !strings.Contains(line, "END") || x != w {
		t.Fatalf("View(40) = %q (width %d), cursor %d", ansi.Strip(line), ansi.StringWidth(line), x)
	}
	keys(&in, tea.KeyPressMsg{Code: tea.KeyHome})
	line, x = in.View(40)
	if !strings.HasPrefix(ansi.Strip(line), "> abcdefghij") || x != 2 {
		t.Fatalf("after Home: %q, cursor %d", ansi.Strip(line), x)
	}
	// Wide characters count two columns.
	in.Reset()
	in.Update(tea.PasteMsg{Content: strings.Repeat("界", 30)})
	line, x = in.View(40)
	if w := ansi.StringWidth(line); w > 40 || x > 39 {
		t.Fatalf("wide: width %d, cursor %d", w, x)
	}
}

func TestInputLimit(t *testing.T) {
	in := newInput()
	in.Update(tea.PasteMsg{Content: strings.Repeat("x", 9000)})
	if n := len(in.Value()); n != 8000 {
		t.Fatalf("kept %d characters, want 8000", n)
	}
}
