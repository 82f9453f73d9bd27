// Command vbot is a test member for browser interoperability tests: a Go
// client (internal/client) driven by JSON lines. It is not a user tool (that
// is `veil chat`, `veil send` and `veil listen`).
//
//	go run ./internal/vtest/vbot [--alias NAME] [--no-mlkem] LINK
//
// The room password, if any, comes from the VEIL_PASSWORD environment
// variable. vbot prints one JSON object per line on stdout:
//
//	{"event":"ready","session":N,"alias":A,"fingerprint":F}
//	{"event":"join","session":N,"alias":A,"fingerprint":F,"safety":S}
//	{"event":"msg"|"dm","session":N,"from":A,"text":T,"safety":S,"hybrid":B}
//	{"event":"gap","from":A,"missing":N}
//	{"event":"leave","from":A,"text":REASON}
//	{"event":"reject"|"warning"|"error","text":T}
//	{"event":"safety","alias":A,"member":S,"dm":S}   (answer to a safety command)
//	{"event":"closed","code":C,"text":REASON}
//
// and reads one JSON command per line on stdin:
//
//	{"say":"text"}  {"dm":"ALIAS","text":"..."}  {"safety":"ALIAS"}  {"quit":true}
//
// It exits 0 after quit or when the room ends, 1 if it cannot join.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"

	"veil/internal/client"
)

type out struct {
	Event       string `json:"event"`
	Session     uint32 `json:"session,omitempty"`
	Alias       string `json:"alias,omitempty"`
	From        string `json:"from,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
	Safety      string `json:"safety,omitempty"`
	Member      string `json:"member,omitempty"`
	DM          string `json:"dm,omitempty"`
	Text        string `json:"text,omitempty"`
	Missing     uint64 `json:"missing,omitempty"`
	Hybrid      bool   `json:"hybrid,omitempty"`
	Code        int    `json:"code,omitempty"`
}

type command struct {
	Say    *string `json:"say"`
	DM     string  `json:"dm"`
	Text   string  `json:"text"`
	Safety string  `json:"safety"`
	Quit   bool    `json:"quit"`
}

func main() {
	alias := flag.String("alias", "go-bot", "alias to announce")
	noKEM := flag.Bool("no-mlkem", false, "do not announce the ML-KEM-768 capability")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: vbot [--alias NAME] [--no-mlkem] LINK")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	c, err := client.Dial(ctx, client.Config{Link: flag.Arg(0), Password: os.Getenv("VEIL_PASSWORD"), Alias: *alias, NoMLKEM: *noKEM})
	if err != nil {
		fmt.Fprintln(os.Stderr, "vbot:", err)
		os.Exit(1)
	}
	var mu sync.Mutex
	enc := json.NewEncoder(os.Stdout)
	emit := func(o out) {
		mu.Lock()
		defer mu.Unlock()
		enc.Encode(o)
	}
	emit(out{Event: "ready", Session: c.Session(), Alias: c.Alias(), Fingerprint: c.Fingerprint()})
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			var cmd command
			if err := json.Unmarshal(sc.Bytes(), &cmd); err != nil {
				emit(out{Event: "error", Text: "bad command: " + err.Error()})
				continue
			}
			switch {
			case cmd.Quit:
				c.Close()
				return
			case cmd.Say != nil:
				if err := c.Say(ctx, *cmd.Say, 0); err != nil {
					emit(out{Event: "error", Text: err.Error()})
				}
			case cmd.DM != "":
				m, err := c.Member(cmd.DM)
				if err == nil {
					err = c.DM(ctx, m.Session, cmd.Text)
				}
				if err != nil {
					emit(out{Event: "error", Text: err.Error()})
				}
			case cmd.Safety != "":
				m, err := c.Member(cmd.Safety)
				if err != nil {
					emit(out{Event: "error", Text: err.Error()})
					continue
				}
				emit(out{Event: "safety", Alias: m.Alias, Member: m.Safety, DM: c.DMSafety(m.Session)})
			}
		}
		c.Close()
	}()
	for e := range c.Events() {
		o := out{Event: e.Type, Session: e.From.Session, From: e.From.Alias, Text: e.Text, Missing: e.Missing, Safety: e.Safety, Hybrid: e.Hybrid, Code: e.Code}
		if e.Type == "join" {
			o.Alias, o.Fingerprint, o.Safety, o.From = e.From.Alias, e.From.Fingerprint, e.From.Safety, ""
		}
		emit(o)
	}
}
