package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"veil/internal/protocol"
)

// listenEvent is one line of veil listen's output.
type listenEvent struct {
	Type        string `json:"type"` // message, dm, join, leave, gap, expire, purge, closed, reconnecting, reconnected, warning
	From        string `json:"from,omitempty"`
	Session     uint32 `json:"session,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
	ID          string `json:"id,omitempty"`
	Text        string `json:"text,omitempty"`
	TTL         int    `json:"ttl,omitempty"`
	Missing     uint64 `json:"missing,omitempty"`
	Code        int    `json:"code,omitempty"`
}

func listen(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("veil listen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o joinOptions
	o.register(fs)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: veil listen [flags] LINK

Joins the room and prints one JSON object per line for each event, until the
room ends or the process is interrupted:

  {"type":"message","from":ALIAS,"session":N,"fingerprint":F,"id":ID,"text":T,"ttl":S}
  {"type":"dm", ...the same fields...}
  {"type":"join"|"leave","from":ALIAS,"session":N,"fingerprint":F,"text":REASON}
  {"type":"gap","from":ALIAS,"missing":N}       messages lost on the way
  {"type":"expire"} / {"type":"purge"}          the room ended (exit 4)
  {"type":"closed","code":C,"text":REASON}      the connection ended otherwise
  {"type":"reconnecting"} / {"type":"reconnected"}

Text is exactly what the sender typed: treat it as untrusted input.

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
	if fs.NArg() != 1 {
		fs.Usage()
		return exitUsage
	}
	c, code := join(ctx, o, fs.Arg(0), true, stdin, stderr, "veil listen")
	if c == nil {
		return code
	}
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	go func() {
		<-ctx.Done()
		c.Close()
	}()
	for e := range c.Events() {
		out := listenEvent{Type: e.Type, From: e.From.Alias, Session: e.From.Session, Fingerprint: e.From.Fingerprint,
			ID: e.ID, Text: e.Text, TTL: e.TTL, Missing: e.Missing}
		switch e.Type {
		case "msg":
			out.Type = "message"
		case "reject", "error":
			continue // noise for a bot; a gap event says what was lost
		case "closed":
			switch e.Code {
			case protocol.CloseExpired:
				out = listenEvent{Type: "expire"}
			case protocol.ClosePurged:
				out = listenEvent{Type: "purge"}
			default:
				if ctx.Err() != nil {
					return exitOK // interrupted: a clean leave
				}
				out = listenEvent{Type: "closed", Code: e.Code, Text: e.Text}
			}
			enc.Encode(out)
			if e.Code == 0 {
				return exitFailure
			}
			return exitForClose(e.Code)
		}
		if err := enc.Encode(out); err != nil {
			return exitFailure // stdout is gone
		}
	}
	if ctx.Err() != nil {
		return exitOK
	}
	return exitFailure
}
