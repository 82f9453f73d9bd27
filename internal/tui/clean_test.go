package tui

import (
	"testing"
	"unicode"
)

func TestClean(t *testing.T) {
	for name, tc := range map[string]struct {
		in, want  string
		multiline bool
	}{
		"plain":              {"hello, wörld 👋", "hello, wörld 👋", false},
		"markdown stays":     {"**b** <i>x</i>", "**b** <i>x</i>", false},
		"CSI":                {"a\x1b[2Jb\x1b[1;31mc", "abc", false},
		"OSC BEL":            {"a\x1b]0;title\x07b", "ab", false},
		"OSC ST":             {"a\x1b]8;;https://evil\x1b\\link\x1b]8;;\x1b\\b", "alinkb", false},
		"DCS":                {"a\x1bPq#0~~\x1b\\b", "ab", false},
		"APC":                {"a\x1b_Gf=100;AAAA\x1b\\b", "ab", false},
		"two-char escape":    {"a\x1bcb", "ab", false},
		"dangling ESC":       {"ab\x1b", "ab", false},
		"unterminated CSI":   {"ab\x1b[12;", "ab", false},
		"unterminated OSC":   {"ab\x1b]0;never ends", "ab", false},
		"C1 CSI":             {"a\u009b2Jb", "ab", false},
		"C1 OSC":             {"a\u009d0;t\u009cb", "ab", false},
		"other C1":           {"a\u0085\u008db", "ab", false},
		"C0 and DEL":         {"a\x00\x07\x08\x7fb\rc", "abc", false},
		"tab":                {"a\tb", "a b", false},
		"newline single":     {"a\nb", "a b", false},
		"newline multi":      {"a\nb\u2028c", "a\nb\nc", true},
		"bidi":               {"a\u202eb\u2066c\u200fd", "abcd", false},
		"invalid UTF-8":      {"a\x9bb\xff", "a\ufffdb\ufffd", false},
		"CSI then newline":   {"a\x1b[\nb", "a\nb", true},
		"escape in OSC text": {"x\x1b]0;\x1b[31m\x07y", "xy", false},
	} {
		if got := clean(tc.in, tc.multiline); got != tc.want {
			t.Errorf("%s: clean(%q, %v) = %q, want %q", name, tc.in, tc.multiline, got, tc.want)
		}
	}
}

// FuzzClean: whatever a peer sends, nothing a terminal interprets is left.
func FuzzClean(f *testing.F) {
	for _, s := range []string{"hi", "\x1b[2J", "\x1b]0;x\x07", "\u009b31m", "a\r\nb", "\x1bP\x1b\\", "\xff\xfe"} {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, multiline bool) {
		for _, r := range clean(s, multiline) {
			if r == '\n' && multiline {
				continue
			}
			if unicode.Is(unicode.Cc, r) || isBidiControl(r) {
				t.Fatalf("clean(%q) kept %U", s, r)
			}
		}
	})
}
