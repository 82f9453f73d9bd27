package main

import (
	"context"
	"fmt"
	"io"
)

const usage = `veil: anonymous, ephemeral, end-to-end-encrypted group chat.

Usage:
  veil serve [flags]            run a relay with the web client (all state in memory)
  veil create [flags]           create a room and print its link and owner key
  veil chat [flags] LINK        join a room in the terminal
  veil send [flags] LINK TEXT   send one message (TEXT "-" reads standard input)
  veil listen [flags] LINK      print the room's events as JSON lines
  veil p2p create [flags]       create a room with no server and stay up as its first peer
  veil p2p node [flags]         run a peer in no room, for peers to start from across networks
  veil bench [flags]            load a server with real protocol clients and report
  veil bench-baseline [flags]   run a minimal broadcast relay, a yardstick for benchmarks
  veil help [command]           show help

chat, send and listen take a server's link (https://HOST/#…) or a p2p link
(veil:p2p…#…), with which they run as a peer of a room that has no server.

Run 'veil COMMAND --help' for a command's flags and exit codes.
`

// run executes the command line args and returns the process exit code:
// 0 success, 1 runtime failure, 2 usage error (and, for the client commands,
// 3 refused and 4 room ended).
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr)
	case "create":
		return create(ctx, args[1:], stdin, stdout, stderr)
	case "chat":
		return chat(ctx, args[1:], stdin, stdout, stderr)
	case "send":
		return send(ctx, args[1:], stdin, stdout, stderr)
	case "listen":
		return listen(ctx, args[1:], stdin, stdout, stderr)
	case "p2p":
		return p2pCmd(ctx, args[1:], stdin, stdout, stderr)
	case "bench":
		return runBench(ctx, args[1:], stdout, stderr)
	case "bench-baseline":
		return benchBaseline(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help", "-help":
		if len(args) > 1 && args[1] != "help" {
			return run(ctx, []string{args[1], "--help"}, stdin, stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "veil: unknown command %q\n\n%s", args[0], usage)
	return 2
}
