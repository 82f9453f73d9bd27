package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzSafeName reads its seeds from testdata/fuzz/FuzzSafeName:
// go test -run TestWriteFuzzCorpus -update-corpus rewrites them.

var updateCorpus = flag.Bool("update-corpus", false, "rewrite testdata/fuzz")

// FuzzSafeName: whatever name a peer gives a file, `veil listen --save-dir`
// writes one plain file in the folder: a single path element of at most
// 100 bytes of UTF-8, not hidden, without C0 controls or format (Cf)
// characters, under its own name and the numbered names saveFile tries.
func FuzzSafeName(f *testing.F) {
	dir := filepath.Join("save", "here")
	f.Fuzz(func(t *testing.T, name string) {
		s := safeName(name)
		ext := filepath.Ext(s)
		for _, n := range []string{s, fmt.Sprintf("%s (%d)%s", strings.TrimSuffix(s, ext), 2, ext)} {
			if filepath.Dir(filepath.Join(dir, n)) != dir || strings.ContainsAny(n, `/\`) || n == "." || n == ".." {
				t.Fatalf("safeName(%q) = %q, which leaves the folder", name, n)
			}
		}
		if s == "" || len(s) > 100 || !utf8.ValidString(s) || strings.HasPrefix(s, ".") {
			t.Fatalf("safeName(%q) = %q", name, s)
		}
		for _, r := range s {
			if r < 0x20 || r == 0x7f || unicode.Is(unicode.Cf, r) {
				t.Fatalf("safeName(%q) = %q keeps %U", name, s, r)
			}
		}
	})
}

// TestWriteFuzzCorpus checks that every seed is in testdata; with
// -update-corpus it rewrites the seed corpus.
func TestWriteFuzzCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzSafeName")
	if *updateCorpus {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, seed := range map[string]string{
		"plain":          "report.pdf",
		"climbs":         "../../etc/passwd",
		"windows-climbs": `..\..\boot.ini`,
		"hidden":         ".bashrc",
		"dots":           "..",
		"slash-dot":      "x/.",
		"empty":          "",
		"spaces":         "  . a b  ",
		"escape":         "a\x1b[31mred\x07.txt",
		"c1-csi":         "\u009b31mred.txt",
		"bidi":           "rtl\u202egpj.exe",
		"newline":        "a\nb.txt",
		"invalid-utf8":   "\xff\xfe.txt",
		"long":           strings.Repeat("x", 300) + ".tar.gz",
		"multibyte-cut":  strings.Repeat("x", 98) + "日本.txt",
		"space-at-cut":   strings.Repeat("x", 99) + " y",
	} {
		b := fmt.Appendf([]byte("go test fuzz v1\n"), "string(%q)\n", seed)
		if !*updateCorpus {
			// Without the flag, check the seed is on disk as written.
			if got, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(got) != string(b) {
				t.Errorf("seed %s differs from testdata: rewrite the corpus with -update-corpus", name)
			}
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
