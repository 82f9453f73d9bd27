package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sync"
	"time"

	"veil/internal/protocol"
	"veil/internal/tui"
)

// listenActiveEvery is how often veil listen, a bot that runs unattended,
// tells the relay it is still there (docs/protocol.md 6); a variable for
// tests.
var listenActiveEvery = 5 * time.Minute

// listenEvent is one line of veil listen's output.
type listenEvent struct {
	Type        string `json:"type"` // message, dm, join, leave, gap, expire, purge, closed, reconnecting, reconnected, warning, state, report
	From        string `json:"from,omitempty"`
	Session     uint32 `json:"session,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
	ID          string `json:"id,omitempty"`
	Text        string `json:"text,omitempty"`
	TTL         int    `json:"ttl,omitempty"`
	Missing     uint64 `json:"missing,omitempty"`
	Code        int    `json:"code,omitempty"`
	// For file events
	Name   string `json:"name,omitempty"`
	Mime   string `json:"mime,omitempty"`
	Size   int64  `json:"size,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	Path   string `json:"path,omitempty"`
	// For state (both always present)
	Locked *bool `json:"locked,omitempty"`
	Owner  *bool `json:"owner,omitempty"`
	// For report: the message (from, fingerprint, id, text) and who reported it
	Reporter            string `json:"reporter,omitempty"`
	ReporterFingerprint string `json:"reporter_fingerprint,omitempty"`
	Note                string `json:"note,omitempty"`
}

func listen(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("veil listen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o joinOptions
	o.register(fs)
	saveDir := fs.String("save-dir", "", "save each received file, once its SHA-256 checks out, into `DIR` (mode 0600, never overwriting)")
	ownerFile := fs.String("owner-key-file", "", "read the room's owner key from `FILE` (as veil create prints it) and join as the owner, to receive reports")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: veil listen [flags] LINK

Joins the room (as a peer, for a p2p link from veil p2p create) and prints
one JSON object per line for each event, until the room ends or the process
is interrupted:

  {"type":"message","from":ALIAS,"session":N,"fingerprint":F,"id":ID,"text":T,"ttl":S}
  {"type":"dm", ...the same fields...}
  {"type":"join"|"leave","from":ALIAS,"session":N,"fingerprint":F,"text":REASON}
  {"type":"gap","from":ALIAS,"missing":N}       messages lost on the way
  {"type":"expire"} / {"type":"purge"}          the room ended (exit 4)
  {"type":"closed","code":C,"text":REASON}      the connection ended otherwise
  {"type":"reconnecting"} / {"type":"reconnected"}
  {"type":"file","from":ALIAS,"name":N,"mime":M,"size":S,"sha256":H,"path":P}
                                                a verified file (path with --save-dir)
  {"type":"file-failed","from":ALIAS,"name":N,"text":WHY}
  {"type":"state","locked":B,"owner":B}         the room was locked or unlocked,
                                                or this session became the owner
  {"type":"report","from":ALIAS,"fingerprint":F,"id":ID,"text":T,
   "reporter":ALIAS,"reporter_fingerprint":F,"note":N}
                                                with --owner-key-file: a member
                                                reported the message ID that
                                                ALIAS (fingerprint F) sent

A leave's text is left, logged out, dropped, too slow, removed by the owner
or idle. With --owner-key-file, listen proves the owner key after joining
(a key the server refuses ends it with exit 2) and prints the reports the
room's members send the owner. It tells the server every 5 minutes that it
is still there, so it is not closed as idle.

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
	var owner *[32]byte
	if *ownerFile != "" {
		k, err := readOwnerKey(*ownerFile)
		if err != nil {
			fmt.Fprintf(stderr, "veil listen: %v\n", err)
			return exitUsage
		}
		owner = &k
	}
	c, code := join(ctx, o, fs.Arg(0), true, stdin, stderr, "veil listen")
	if c == nil {
		return code
	}
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	// Until listen returns or ctx ends: ACTIVE now and then; then close.
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := make(chan struct{})
	defer close(stop)
	every := listenActiveEvery
	wg.Go(func() {
		defer c.Close()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-stop:
				return
			case <-t.C:
				actx, cancel := context.WithTimeout(ctx, 10*time.Second)
				c.Active(actx) // a failure shows as the connection's end
				cancel()
			}
		}
	})
	if owner != nil {
		if err := c.ClaimOwner(ctx, *owner); err != nil {
			fmt.Fprintf(stderr, "veil listen: give the owner key: %v\n", err)
			return exitFailure
		}
	}
	for e := range c.Events() {
		out := listenEvent{Type: e.Type, From: e.From.Alias, Session: e.From.Session, Fingerprint: e.From.Fingerprint,
			ID: e.ID, Text: e.Text, TTL: e.TTL, Missing: e.Missing}
		if e.File != nil {
			out.Name, out.Mime, out.Size, out.SHA256 = e.File.Name, e.File.Type, e.File.Size, e.File.SHA256
		}
		switch e.Type {
		case "msg":
			out.Type = "message"
		case "error":
			if e.Code == protocol.CodeNotAllowed && owner != nil {
				// listen asks nothing else of the relay that needs the owner.
				fmt.Fprintf(stderr, "veil listen: the server refused the owner key (%s)\n", e.Text)
				return exitUsage
			}
			continue
		case "reject", "file-offer", "file-progress":
			continue // noise for a bot; gap, file and file-failed say what matters
		case "state":
			out = listenEvent{Type: "state", Locked: &e.Locked, Owner: &e.Owner}
		case "report":
			if e.Reporter != nil {
				out.Reporter, out.ReporterFingerprint = e.Reporter.Alias, e.Reporter.Fingerprint
			}
			out.Note = e.Note
		case "file":
			if *saveDir != "" {
				p, err := tui.SaveFile(*saveDir, e.File.Name, e.Data)
				if err != nil {
					out.Type, out.Text = "file-failed", "save: "+err.Error()
				} else {
					out.Path = p
				}
			}
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
