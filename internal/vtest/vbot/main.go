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
//	{"event":"msg"|"dm","session":N,"from":A,"id":ID,"text":T,"safety":S,"hybrid":B}
//	{"event":"gap","from":A,"missing":N}
//	{"event":"leave","from":A,"text":REASON}      (REASON: left, removed by the owner, idle, ...)
//	{"event":"reject"|"warning","text":T}
//	{"event":"error","code":C,"text":T}            (4010 not the owner or a wrong key, 4014 no owner, 4016 no such member)
//	{"event":"safety","alias":A,"member":S,"dm":S}   (answer to a safety command)
//	{"event":"state","owner":B,"locked":B}         (after a claim with the right key, and each lock or unlock)
//	{"event":"report","from":A,"fingerprint":F,"id":ID,"text":T,"reporter":R,"reporter_fingerprint":F,"note":N}
//	                                               (as an owner: a member reported message ID that A sent)
//	{"event":"reported","id":ID,"text":T}          (answer to a report command: sent)
//	{"event":"closed","code":C,"text":REASON}      (4012 removed by the owner, 4015 idle, ...)
//
// and reads one JSON command per line on stdin:
//
//	{"say":"text"}  {"dm":"ALIAS","text":"..."}  {"safety":"ALIAS"}  {"quit":true}
//	{"claim":"OWNER-KEY"}          prove the owner key (base64url, as veil create prints it)
//	{"kick":"ALIAS"}               remove a member (owner only)
//	{"lock":true}  {"lock":false}  lock or unlock the room to new joins (owner only)
//	{"report":"ID or TEXT","note":"..."}
//	                               report a received message, by its id or else the
//	                               latest with exactly that text, to the owner
//	{"active":true}                tell the relay this session is not idle
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
	ID          string `json:"id,omitempty"`
	Text        string `json:"text,omitempty"`
	Missing     uint64 `json:"missing,omitempty"`
	Hybrid      bool   `json:"hybrid,omitempty"`
	Code        int    `json:"code,omitempty"`
	// state: both always present
	Owner  *bool `json:"owner,omitempty"`
	Locked *bool `json:"locked,omitempty"`
	// report
	Reporter            string `json:"reporter,omitempty"`
	ReporterFingerprint string `json:"reporter_fingerprint,omitempty"`
	Note                string `json:"note,omitempty"`
}

type command struct {
	Say    *string `json:"say"`
	DM     string  `json:"dm"`
	Text   string  `json:"text"`
	Safety string  `json:"safety"`
	Quit   bool    `json:"quit"`
	Claim  string  `json:"claim"`
	Kick   string  `json:"kick"`
	Lock   *bool   `json:"lock"`
	Report string  `json:"report"`
	Note   string  `json:"note"`
	Active bool    `json:"active"`
}

// inbox is the messages received lately, for report commands: a report
// names a message by id, or by its text.
type inbox struct {
	mu   sync.Mutex
	msgs []client.Event // oldest first, at most 256
}

func (in *inbox) add(e client.Event) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.msgs) == 256 {
		in.msgs = in.msgs[1:]
	}
	in.msgs = append(in.msgs, e)
}

// find returns the id of the message with id idOrText, or else of the
// latest with that text.
func (in *inbox) find(idOrText string) (string, bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, e := range in.msgs {
		if e.ID == idOrText {
			return e.ID, true
		}
	}
	for i := len(in.msgs) - 1; i >= 0; i-- {
		if in.msgs[i].Text == idOrText {
			return in.msgs[i].ID, true
		}
	}
	return "", false
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
	var got inbox
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
			case cmd.Claim != "":
				key, err := client.ParseOwnerKey(cmd.Claim)
				if err == nil {
					err = c.ClaimOwner(ctx, *key)
				}
				if err != nil {
					emit(out{Event: "error", Text: err.Error()})
				}
			case cmd.Kick != "":
				m, err := c.Member(cmd.Kick)
				if err == nil {
					err = c.Kick(ctx, m.Session)
				}
				if err != nil {
					emit(out{Event: "error", Text: err.Error()})
				}
			case cmd.Lock != nil:
				if err := c.Lock(ctx, *cmd.Lock); err != nil {
					emit(out{Event: "error", Text: err.Error()})
				}
			case cmd.Report != "":
				id, ok := got.find(cmd.Report)
				if !ok {
					emit(out{Event: "error", Text: fmt.Sprintf("no message %q received to report", cmd.Report)})
					continue
				}
				if err := c.Report(ctx, id, cmd.Note); err != nil {
					emit(out{Event: "error", Text: err.Error()})
					continue
				}
				emit(out{Event: "reported", ID: id, Text: cmd.Report})
			case cmd.Active:
				if err := c.Active(ctx); err != nil {
					emit(out{Event: "error", Text: err.Error()})
				}
			}
		}
		c.Close()
	}()
	for e := range c.Events() {
		o := out{Event: e.Type, Session: e.From.Session, From: e.From.Alias, ID: e.ID, Text: e.Text, Missing: e.Missing, Safety: e.Safety, Hybrid: e.Hybrid, Code: e.Code}
		switch e.Type {
		case "join":
			o.Alias, o.Fingerprint, o.Safety, o.From = e.From.Alias, e.From.Fingerprint, e.From.Safety, ""
		case "msg", "dm":
			got.add(e)
		case "state":
			o = out{Event: "state", Owner: &e.Owner, Locked: &e.Locked}
		case "report":
			o.Fingerprint, o.Note = e.From.Fingerprint, e.Note
			if e.Reporter != nil {
				o.Reporter, o.ReporterFingerprint = e.Reporter.Alias, e.Reporter.Fingerprint
			}
		}
		emit(o)
	}
}
