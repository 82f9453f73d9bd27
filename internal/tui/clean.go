package tui

import (
	"strings"
	"unicode"
)

// clean makes a peer's string safe to put on a terminal: it removes escape
// sequences (CSI, OSC, DCS and the rest, whole, so no parameters are left
// behind), every other C0 and C1 control character and DEL, and the
// bidirectional controls that can reorder what a line appears to say. Tabs
// become a space. With multiline, newlines (and U+2028, U+2029) are kept as
// "\n"; otherwise they become a space. Invalid UTF-8 becomes U+FFFD.
//
// Every string a peer controls (alias, room name, message, reason) goes
// through clean before it is laid out.
func clean(s string, multiline bool) string {
	var b strings.Builder
	b.Grow(len(s))
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == '\x1b':
			i = skipEscape(rs, i)
		case r >= 0x90 && r <= 0x9f && strings.ContainsRune("\u0090\u0098\u009b\u009d\u009e\u009f", r):
			// The 8-bit forms of DCS, SOS, CSI, OSC, PM and APC.
			i = skipSequence(rs, i, c1Intro[r])
		case r == '\n' || r == '\u2028' || r == '\u2029':
			if multiline {
				b.WriteByte('\n')
			} else {
				b.WriteByte(' ')
			}
		case r == '\t':
			b.WriteByte(' ')
		case r == '\r':
			// A carriage return would let a line overwrite itself.
		case unicode.Is(unicode.Cc, r): // C0, DEL and C1 (including the 8-bit CSI, U+009B)
		case isBidiControl(r):
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// c1Intro maps an 8-bit introducer to the character after ESC in its
// 7-bit form.
var c1Intro = map[rune]rune{'\u0090': 'P', '\u0098': 'X', '\u009b': '[', '\u009d': ']', '\u009e': '^', '\u009f': '_'}

// skipEscape returns the index of the last rune of the escape sequence that
// starts with ESC at rs[i].
func skipEscape(rs []rune, i int) int {
	if i+1 >= len(rs) {
		return i
	}
	return skipSequence(rs, i+1, rs[i+1])
}

// skipSequence returns the index of the last rune of the sequence whose
// introducer (the character after ESC, or an 8-bit form of it) is at
// rs[i] and is intro.
func skipSequence(rs []rune, i int, intro rune) int {
	switch intro {
	case '[': // CSI: parameters and intermediates, then a final byte @ to ~
		for j := i + 1; j < len(rs); j++ {
			if rs[j] >= 0x40 && rs[j] <= 0x7e {
				return j
			}
			if rs[j] < 0x20 || rs[j] > 0x7e {
				return j - 1 // malformed: stop before it, it is handled on its own
			}
		}
		return len(rs) - 1
	case ']', 'P', 'X', '^', '_': // OSC, DCS, SOS, PM, APC: a string up to BEL or ST
		for j := i + 1; j < len(rs); j++ {
			switch {
			case rs[j] == '\a' || rs[j] == '\u009c':
				return j
			case rs[j] == '\x1b' && j+1 < len(rs) && rs[j+1] == '\\':
				return j + 1
			}
		}
		return len(rs) - 1
	}
	return i // a two-character escape, such as ESC c (reset)
}

// isBidiControl reports the Unicode bidirectional formatting characters.
func isBidiControl(r rune) bool {
	switch {
	case r == '\u061c', r == '\u200e', r == '\u200f':
		return true
	case r >= '\u202a' && r <= '\u202e':
		return true
	case r >= '\u2066' && r <= '\u2069':
		return true
	}
	return false
}
