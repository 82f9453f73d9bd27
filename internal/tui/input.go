package tui

import (
	"strings"
	"unicode"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// input is the one-line editor at the bottom of the screen. It is ours
// rather than bubbles' textinput, which imports a clipboard package that
// runs xclip, xsel or wl-paste on Ctrl+V; the terminal's own paste arrives
// as a PasteMsg without any of that.
type input struct {
	value       []rune
	pos         int // cursor, in runes
	offset      int // first rune shown, when the line is wider than the screen
	limit       int // most runes
	prompt      string
	placeholder string
}

func newInput() input {
	return input{limit: 8000, prompt: "> ", placeholder: "Type a message, or /help"}
}

// Value returns the text typed so far.
func (in *input) Value() string { return string(in.value) }

// Reset empties the line.
func (in *input) Reset() {
	for i := range in.value {
		in.value[i] = 0
	}
	in.value, in.pos, in.offset = nil, 0, 0
}

// insert puts s at the cursor; line breaks and controls become spaces or go.
func (in *input) insert(s string) {
	rs := []rune(clean(s, false))
	if room := in.limit - len(in.value); len(rs) > room {
		rs = rs[:max(room, 0)]
	}
	v := make([]rune, 0, len(in.value)+len(rs))
	v = append(append(append(v, in.value[:in.pos]...), rs...), in.value[in.pos:]...)
	in.value = v
	in.pos += len(rs)
}

// Update applies an editing key or a paste. It reports whether it used msg.
func (in *input) Update(msg tea.Msg) bool {
	switch msg := msg.(type) {
	case tea.PasteMsg:
		in.insert(msg.Content)
		return true
	case tea.KeyPressMsg:
		switch msg.String() {
		case "left", "ctrl+b":
			in.pos = max(in.pos-1, 0)
		case "right", "ctrl+f":
			in.pos = min(in.pos+1, len(in.value))
		case "home", "ctrl+a":
			in.pos = 0
		case "end", "ctrl+e":
			in.pos = len(in.value)
		case "alt+left", "ctrl+left", "alt+b":
			in.pos = in.wordStart()
		case "alt+right", "ctrl+right", "alt+f":
			in.pos = in.wordEnd()
		case "backspace", "ctrl+h":
			if in.pos > 0 {
				in.cut(in.pos-1, in.pos)
			}
		case "delete", "ctrl+d":
			if in.pos < len(in.value) {
				in.cut(in.pos, in.pos+1)
			}
		case "ctrl+w", "alt+backspace", "ctrl+backspace":
			in.cut(in.wordStart(), in.pos)
		case "alt+d", "alt+delete", "ctrl+delete":
			in.cut(in.pos, in.wordEnd())
		case "ctrl+u":
			in.cut(0, in.pos)
		case "ctrl+k":
			in.cut(in.pos, len(in.value))
		default:
			if msg.Text == "" || msg.Mod&(tea.ModCtrl|tea.ModAlt) != 0 {
				return false
			}
			in.insert(msg.Text)
		}
		return true
	}
	return false
}

func (in *input) cut(from, to int) {
	in.value = append(in.value[:from], in.value[to:]...)
	in.pos = from
}

func (in *input) wordStart() int {
	i := in.pos
	for i > 0 && unicode.IsSpace(in.value[i-1]) {
		i--
	}
	for i > 0 && !unicode.IsSpace(in.value[i-1]) {
		i--
	}
	return i
}

func (in *input) wordEnd() int {
	i := in.pos
	for i < len(in.value) && unicode.IsSpace(in.value[i]) {
		i++
	}
	for i < len(in.value) && !unicode.IsSpace(in.value[i]) {
		i++
	}
	return i
}

// View renders the line in width columns and returns the cursor's column.
// A line wider than the screen scrolls sideways to keep the cursor in view.
func (in *input) View(width int) (string, int) {
	pw := ansi.StringWidth(in.prompt)
	avail := max(width-pw-1, 1) // one column for the cursor at the end
	if len(in.value) == 0 {
		return stylePrompt.Render(in.prompt) + styleFaint.Render(ansi.Truncate(in.placeholder, avail, "…")), pw
	}
	in.offset = min(in.offset, in.pos)
	for runesWidth(in.value[in.offset:in.pos]) > avail {
		in.offset++
	}
	var b strings.Builder
	w := 0
	for _, r := range in.value[in.offset:] {
		rw := ansi.StringWidth(string(r))
		if w+rw > avail {
			break
		}
		b.WriteRune(r)
		w += rw
	}
	return stylePrompt.Render(in.prompt) + b.String(), pw + runesWidth(in.value[in.offset:in.pos])
}

func runesWidth(rs []rune) int { return ansi.StringWidth(string(rs)) }
