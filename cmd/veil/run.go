package main

import (
	"context"
	"fmt"
	"io"
)

const usage = `veil: anonymous, ephemeral, end-to-end-encrypted group chat.

Usage:
  veil serve [flags]    run a relay with the web client (all state in memory)
  veil help [command]   show help

Run 'veil serve --help' for the server's flags.
`

// run executes the command line args and returns the process exit code:
// 0 success, 1 runtime failure, 2 usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help", "-help":
		if len(args) > 1 && args[1] == "serve" {
			return serve(ctx, []string{"--help"}, stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "veil: unknown command %q\n\n%s", args[0], usage)
	return 2
}
