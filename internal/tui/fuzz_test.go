package tui

import (
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"veil/internal/fuzzseed"
)

// FuzzClean and FuzzSanitiseName read their seeds from testdata/fuzz/FuzzXxx:
// go test -run TestWriteFuzzCorpus -args -update-corpus rewrites them.

// checkName fails t unless n, the name /save gives a file a peer named
// name, is one plain file in the folder: a single path element, not
// hidden, at most maxNameBytes bytes of UTF-8, with nothing a terminal
// interprets.
func checkName(t *testing.T, name, n string) {
	t.Helper()
	dir := filepath.Join("save", "here")
	switch {
	case n == "" || len(n) > maxNameBytes || !utf8.ValidString(n):
		t.Fatalf("sanitiseName(%q) gave %q: %d bytes", name, n, len(n))
	case filepath.Dir(filepath.Join(dir, n)) != dir || strings.ContainsAny(n, `/\`):
		t.Fatalf("sanitiseName(%q) gave %q, which leaves the folder", name, n)
	case strings.HasPrefix(n, ".") || strings.HasPrefix(n, " "):
		t.Fatalf("sanitiseName(%q) gave %q: hidden, or led by a space", name, n)
	case clean(n, false) != n:
		t.Fatalf("sanitiseName(%q) gave %q, which a terminal would interpret", name, n)
	}
}

// FuzzSanitiseName: whatever name a peer gives a file, /save writes one
// plain file (checkName) under it and under its numbered variants.
func FuzzSanitiseName(f *testing.F) {
	f.Fuzz(func(t *testing.T, name string) {
		s := sanitiseName(name)
		for _, n := range []string{s, numbered(s, 2), numbered(s, 1000)} {
			checkName(t, name, n)
		}
	})
}

// TestWriteFuzzCorpus checks that every seed is in testdata; with
// -update-corpus it rewrites the seed corpora.
func TestWriteFuzzCorpus(t *testing.T) {
	names := map[string]string{
		"plain":          "report.pdf",
		"climbs":         "../../etc/passwd",
		"windows-climbs": `..\..\boot.ini`,
		"hidden":         ".bashrc",
		"dots":           "..",
		"empty":          "",
		"spaces":         "  . a b  ",
		"trailing-slash": "folder/",
		"escape":         "a\x1b[31mred\x07.txt",
		"osc-link":       "\x1b]8;;https://example.com\x07click\x1b]8;;\x07.txt",
		"c1-csi":         "\u009b31mred.txt",
		"bidi":           "rtl\u202egpj.exe",
		"newlines":       "a\nb\r\u2028c.txt",
		"invalid-utf8":   "\xff\xfe.txt",
		"long":           strings.Repeat("x", 300) + ".tar.gz",
		"long-ext":       "a." + strings.Repeat("e", 40),
		"multibyte-cut":  strings.Repeat("x", 95) + "日本語.txt",
		"space-at-cut":   strings.Repeat("x", 99) + " y",
		"only-ext":       ".txt",
	}
	seeds := map[string][]any{}
	for k, v := range names {
		seeds[k] = []any{v}
	}
	fuzzseed.Corpus(t, "FuzzSanitiseName", seeds)
	fuzzseed.Corpus(t, "FuzzClean", map[string][]any{
		"plain":        {"hi", false},
		"clear-screen": {"\x1b[2J\x1b[H", true},
		"title":        {"\x1b]0;pwned\x07", false},
		"c1-csi":       {"\u009b31mred", true},
		"crlf":         {"a\r\nb", true},
		"dcs":          {"\x1bP+q\x1b\\", false},
		"unterminated": {"\x1b]8;;https://example.com", true},
		"bidi":         {"abc\u202edef\u2066", false},
		"invalid-utf8": {"\xff\xfe", true},
		"tabs":         {"a\tb\u2029c", false},
	})
}
