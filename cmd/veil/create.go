package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"veil/internal/client"
)

func create(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("veil create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", "http://127.0.0.1:8080", "the veil server's `URL`")
	ttl := fs.Duration("ttl", 0, "the room's lifetime, e.g. 30m (default: the server's default, 1h; the server may lower it)")
	name := fs.String("name", "", "a room `NAME` (sealed: the server cannot read it)")
	purge := fs.String("purge", "anyone", "who may purge the room: anyone or owner (the owner key always may)")
	withPassword := fs.Bool("password", false, "protect the room with a password (from --password-file, $VEIL_PASSWORD or a prompt)")
	pwFile := fs.String("password-file", "", "read the room password from the first line of `FILE`; implies --password")
	proxyURL := fs.String("proxy", "", "dial through the SOCKS5 proxy at `URL`")
	asJSON := fs.Bool("json", false, `print {"link": ..., "owner_key": ..., "ttl_seconds": ...} instead of text`)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: veil create [flags]

Creates a room on a veil server and prints its link and owner key. The room
secret is made here and never sent: the server learns only hashes. Share the
link with the people you mean; keep the owner key (it purges the room at any
time). Passwords come from a file, $VEIL_PASSWORD or a prompt, never from
the command line.

Flags:
`)
		fs.PrintDefaults()
		fmt.Fprint(stderr, "\n"+exitCodesHelp)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "veil create: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if *purge != "anyone" && *purge != "owner" {
		fmt.Fprintln(stderr, "veil create: --purge must be anyone or owner")
		return exitUsage
	}
	if *ttl != 0 && *ttl < 10*time.Second {
		fmt.Fprintln(stderr, "veil create: --ttl must be at least 10s")
		return exitUsage
	}
	var pw string
	if *withPassword || *pwFile != "" {
		var err error
		if pw, err = readPassword(*pwFile, stdin, stderr); err != nil {
			fmt.Fprintf(stderr, "veil create: %v\n", err)
			return exitUsage
		}
	}
	hc, err := proxyHTTPClient(*proxyURL)
	if err != nil {
		fmt.Fprintf(stderr, "veil create: %v\n", err)
		return exitUsage
	}
	room, err := client.Create(ctx, *server, client.CreateOptions{Name: *name, Password: pw, TTL: *ttl, Purge: *purge, HTTPClient: hc})
	if err != nil {
		fmt.Fprintf(stderr, "veil create: %v\n", err)
		return exitFailure
	}
	if *asJSON {
		json.NewEncoder(stdout).Encode(map[string]any{"link": room.Link, "owner_key": room.OwnerKey(), "ttl_seconds": int64(room.TTL / time.Second)})
		return exitOK
	}
	fmt.Fprintf(stdout, "link: %s\nowner key: %s\nlifetime: %s\n", room.Link, room.OwnerKey(), room.TTL)
	fmt.Fprintln(stderr, "Keep the owner key now: it is shown only once, and it purges the room whatever the policy.")
	return exitOK
}
