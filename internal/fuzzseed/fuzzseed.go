// Package fuzzseed keeps the seed corpora of veil's fuzz targets, for tests
// only: each package's TestWriteFuzzCorpus builds its seeds with the real
// encoders and calls Corpus, which checks that every seed is in the
// package's testdata/fuzz/<target>, or with -update-corpus rewrites the
// folder in the "go test fuzz v1" format that go test reads.
package fuzzseed

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update-corpus", false, "rewrite testdata/fuzz from the encoders")

// Corpus checks (or, with -update-corpus, writes) the seeds of target: one
// file per name, holding that seed's values in the fuzz function's order.
// Values may be []byte, string, byte, bool, uint16, uint32, uint64 or int64.
func Corpus(t testing.TB, target string, seeds map[string][]any) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", target)
	if !*update {
		for name := range seeds {
			if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
				t.Errorf("seed %s/%s is not in testdata: rewrite the corpus with go test -run TestWriteFuzzCorpus -args -update-corpus", target, name)
			}
		}
		return
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, vals := range seeds {
		b := []byte("go test fuzz v1\n")
		for _, v := range vals {
			switch v := v.(type) {
			case []byte:
				b = fmt.Appendf(b, "[]byte(%q)\n", v)
			case string:
				b = fmt.Appendf(b, "string(%q)\n", v)
			case byte:
				b = fmt.Appendf(b, "byte(%q)\n", v)
			case bool, uint16, uint32, uint64, int64:
				b = fmt.Appendf(b, "%T(%v)\n", v, v)
			default:
				t.Fatalf("seed %s: unsupported %T", name, v)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
