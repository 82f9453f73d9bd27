package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"veil/internal/client"
)

// maxSendText bounds the text veil send reads (a message's plaintext limit,
// less room for its JSON).
const maxSendText = 60_000

func send(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("veil send", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o joinOptions
	o.register(fs)
	dm := fs.String("dm", "", "send a direct message to the member with this `ALIAS` instead of to the room")
	ttl := fs.Int("ttl", 0, "make the message vanish `SECONDS` after it arrives (0: never)")
	file := fs.String("file", "", "send the file at `PATH` (end-to-end encrypted, at most 100 MiB) instead of a text")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: veil send [flags] LINK TEXT
       veil send [flags] LINK -        (the text from standard input)
       veil send --file PATH [flags] LINK

Joins the room, sends one message (end-to-end encrypted), and leaves.
With a p2p link (veil p2p create) it joins as a peer: it looks for the
room's members for up to 10 s and fails if none answers.

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
	if *file != "" {
		if fs.NArg() != 1 {
			fs.Usage()
			return exitUsage
		}
		return sendFile(ctx, o, fs.Arg(0), *file, *dm, stdin, stderr)
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return exitUsage
	}
	if *ttl < 0 || *ttl > 86400 {
		fmt.Fprintln(stderr, "veil send: --ttl must be between 0 and 86400 seconds")
		return exitUsage
	}
	text := fs.Arg(1)
	if text == "-" {
		b, err := io.ReadAll(io.LimitReader(stdin, maxSendText+1))
		if err != nil {
			fmt.Fprintf(stderr, "veil send: read standard input: %v\n", err)
			return exitFailure
		}
		text = strings.TrimRight(string(b), "\n")
	}
	if strings.TrimSpace(text) == "" {
		fmt.Fprintln(stderr, "veil send: the message is empty")
		return exitUsage
	}
	if len(text) > maxSendText {
		fmt.Fprintf(stderr, "veil send: the message is over %d bytes\n", maxSendText)
		return exitUsage
	}
	c, code := join(ctx, o, fs.Arg(0), false, stdin, stderr, "veil send")
	if c == nil {
		return code
	}
	defer c.Close()
	go drain(c)
	if *dm != "" {
		m, err := c.Member(*dm)
		if err != nil {
			fmt.Fprintf(stderr, "veil send: nobody called %q is in the room\n", *dm)
			return exitUsage
		}
		if err := c.DM(ctx, m.Session, text); err != nil {
			fmt.Fprintf(stderr, "veil send: %v\n", err)
			return exitFailure
		}
		// The DM goes out once the recipient answers the handshake.
		deadline := time.Now().Add(10 * time.Second)
		for c.DMSafety(m.Session) == "" {
			if time.Now().After(deadline) || ctx.Err() != nil {
				fmt.Fprintf(stderr, "veil send: %s did not answer the DM handshake within 10s\n", m.Alias)
				return exitFailure
			}
			time.Sleep(20 * time.Millisecond)
		}
	} else if err := c.Say(ctx, text, *ttl); err != nil {
		fmt.Fprintf(stderr, "veil send: %v\n", err)
		return exitFailure
	}
	if err := c.Close(); err != nil && !errors.Is(err, client.ErrClosed) {
		fmt.Fprintf(stderr, "veil send: %v\n", err)
		return exitFailure
	}
	return exitOK
}

// sendFile joins, sends the file at path to the room (or to dmAlias), and
// leaves.
func sendFile(ctx context.Context, o joinOptions, link, path, dmAlias string, stdin io.Reader, stderr io.Writer) int {
	f, err := os.Open(path)
	if err != nil {
		fmt.Fprintf(stderr, "veil send: %v\n", err)
		return exitUsage
	}
	data, err := io.ReadAll(io.LimitReader(f, client.DefaultMaxFile+1))
	f.Close()
	if err != nil {
		fmt.Fprintf(stderr, "veil send: read %s: %v\n", path, err)
		return exitFailure
	}
	if len(data) > client.DefaultMaxFile {
		fmt.Fprintf(stderr, "veil send: %s is over the %d MiB limit\n", path, client.DefaultMaxFile>>20)
		return exitUsage
	}
	c, code := join(ctx, o, link, false, stdin, stderr, "veil send")
	if c == nil {
		return code
	}
	defer c.Close()
	go drain(c)
	var to uint32
	if dmAlias != "" {
		m, err := c.Member(dmAlias)
		if err != nil {
			fmt.Fprintf(stderr, "veil send: nobody called %q is in the room\n", dmAlias)
			return exitUsage
		}
		to = m.Session
	}
	typ := http.DetectContentType(data)
	if err := c.SendFile(ctx, to, filepath.Base(path), typ, data, false); err != nil {
		fmt.Fprintf(stderr, "veil send: %v\n", err)
		return exitFailure
	}
	if err := c.Close(); err != nil && !errors.Is(err, client.ErrClosed) {
		fmt.Fprintf(stderr, "veil send: %v\n", err)
		return exitFailure
	}
	return exitOK
}

// drain reads and drops c's events, so a busy room never stalls a sender
// that does not listen (the client reads the socket only while its events
// are taken).
func drain(c *client.Client) {
	for range c.Events() {
	}
}
