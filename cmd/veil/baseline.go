package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"time"

	"veil/internal/bench/baseline"
)

// benchBaseline runs `veil bench-baseline`: the minimal broadcast relay
// that `veil bench` measures veil against. It returns when ctx ends.
func benchBaseline(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("veil bench-baseline", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8081", "`HOST:PORT` to listen on; port 0 picks a free port")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: veil bench-baseline [flags]

Runs a minimal broadcast relay, a yardstick for 'veil bench': run the same
scenarios against it and against 'veil serve' on the same machine, and the
ratio is what veil's features cost. It accepts any room creation and any
JOIN, and sends every envelope to the other sockets of its room unread.

It is not a chat server: it checks no join proof and no envelope, and has no
limits of any kind (members, rooms, connections, rates, lifetimes). Never
expose it; listen on loopback or a private benchmark network only.
Ctrl-C stops it.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return 0
	} else if err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "veil bench-baseline: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "veil bench-baseline: %v\n", err)
		return 1
	}
	// Sockets live on ctx: when it ends, every one closes and its
	// goroutine returns.
	srv := &http.Server{
		Handler:           baseline.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	fmt.Fprintf(stdout, "baseline: serving on http://%s/\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		fmt.Fprintf(stderr, "veil bench-baseline: %v\n", err)
		return 1
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	code := 0
	if err := srv.Shutdown(sctx); err != nil {
		fmt.Fprintf(stderr, "veil bench-baseline: shutdown: %v\n", err)
		code = 1
	}
	<-errc
	fmt.Fprintln(stdout, "baseline: stopped")
	return code
}
