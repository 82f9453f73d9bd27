package main

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"veil/internal/vtest"
)

var pprofLine = regexp.MustCompile(`veil: pprof on (http://127\.0\.0\.1:\d+/debug/pprof/)`)

func pprofGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// --pprof serves the profiler on its own loopback listener; the public
// handler never does, and the profiler stops with the server.
func TestServePprofOnItsOwnListener(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout, stderr := &vtest.SafeBuffer{}, &vtest.SafeBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--pprof", "127.0.0.1:0"}, nil, stdout, stderr)
	}()
	var public, prof string
	vtest.Poll(t, "the URL lines", func() bool {
		m, p := urlLine.FindStringSubmatch(stdout.String()), pprofLine.FindStringSubmatch(stdout.String())
		if m != nil && p != nil {
			public, prof = m[1], p[1]
		}
		return m != nil && p != nil
	})
	stopped := false
	defer func() {
		if !stopped {
			cancel()
			<-done
		}
	}()

	if status, body := pprofGet(t, prof); status != http.StatusOK || !strings.Contains(body, "goroutine") {
		t.Errorf("GET %s = %d %.80q, want 200 listing the profiles", prof, status, body)
	}
	if status, _ := pprofGet(t, prof+"heap?debug=1"); status != http.StatusOK {
		t.Errorf("GET %sheap = %d, want 200", prof, status)
	}
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/cmdline"} {
		if status, _ := pprofGet(t, public+path); status != http.StatusNotFound {
			t.Errorf("public GET %s = %d, want 404", path, status)
		}
	}

	cancel()
	stopped = true
	if code := <-done; code != 0 {
		t.Fatalf("serve exit %d after Ctrl-C, want 0; stderr:\n%s", code, stderr)
	}
	if resp, err := http.Get(prof); err == nil {
		resp.Body.Close()
		t.Errorf("GET %s after the server stopped = %d, want no listener", prof, resp.StatusCode)
	}
}

func TestServePprofRefusesOtherAddresses(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:6060", ":6060", "[::]:6060", "192.0.2.1:6060", "localhost:6060", "6060"} {
		var stdout, stderr strings.Builder
		code := run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0", "--pprof", addr}, nil, &stdout, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), "loopback address only") || stdout.Len() != 0 {
			t.Errorf("serve --pprof %s: exit %d, stdout %q, stderr %q; want 2 and a sentence on loopback, nothing served", addr, code, stdout.String(), stderr.String())
		}
	}
}

func TestServeHelpNamesPprof(t *testing.T) {
	var stdout, stderr strings.Builder
	if code := run(context.Background(), []string{"serve", "--help"}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("serve --help: exit %d", code)
	}
	help := stderr.String()
	for _, want := range []string{"-pprof HOST:PORT", "for profiling", "exposes the process's internals", "loopback only"} {
		if !strings.Contains(help, want) {
			t.Errorf("serve --help lacks %q", want)
		}
	}
}
