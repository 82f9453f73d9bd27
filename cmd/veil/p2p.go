package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/multiformats/go-multiaddr"
	"golang.org/x/term"

	"veil/internal/client"
	"veil/internal/p2p"
	"veil/internal/protocol"
)

// p2pOptions are the flags of a command that runs as a p2p room's peer.
type p2pOptions struct {
	listen    []string
	bootstrap []string
	noMDNS    bool
}

func (o *p2pOptions) register(fs *flag.FlagSet) {
	fs.Func("listen", "p2p rooms: listen on `MULTIADDR`, e.g. /ip4/0.0.0.0/tcp/4001 (repeatable; default: every interface, a port the system picks)", func(v string) error {
		if _, err := multiaddr.NewMultiaddr(v); err != nil {
			return fmt.Errorf("%q is not a multiaddr: %v", v, err)
		}
		o.listen = append(o.listen, v)
		return nil
	})
	fs.Func("bootstrap", "p2p rooms: start from the peer at `MULTIADDR` (ending in /p2p/PEERID), besides the link's peers; any veil peer will do, in the room or not (repeatable)", func(v string) error {
		if _, err := p2p.ParsePeers([]string{v}); err != nil {
			return err
		}
		o.bootstrap = append(o.bootstrap, v)
		return nil
	})
	fs.BoolVar(&o.noMDNS, "no-mdns", false, "p2p rooms: do not look for the room's peers on the local network with mDNS")
}

func (o p2pOptions) options(wait time.Duration) p2p.Options {
	boot, _ := p2p.ParsePeers(o.bootstrap) // checked by the flag
	return p2p.Options{Listen: o.listen, Bootstrap: boot, NoMDNS: o.noMDNS, Wait: wait}
}

// joinWait is how long a command joining a p2p room looks for its members.
const joinWait = 10 * time.Second

// joinP2P joins a p2p room as a peer. send asks for at least one other
// member: a message to nobody would be lost without a word.
func joinP2P(ctx context.Context, o joinOptions, link string, stdin io.Reader, stderr io.Writer, name string) (*client.Client, int) {
	l, err := p2p.ParseLink(link)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return nil, exitUsage
	}
	p2p.Quiet()
	if o.proxy != "" {
		fmt.Fprintf(stderr, "%s: a p2p room cannot go through a proxy: its peers connect to each other directly\n", name)
		return nil, exitUsage
	}
	if len(o.nodes) > 0 {
		fmt.Fprintf(stderr, "%s: --node is for a cluster's link; a p2p room has no server\n", name)
		return nil, exitUsage
	}
	var pw string
	if l.Room.Password {
		if pw, err = readPassword(o.passwordFile, stdin, stderr); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", name, err)
			return nil, exitUsage
		}
	}
	if name != "veil chat" {
		fmt.Fprintf(stderr, "%s: looking for the room's peers (up to %s)\n", name, joinWait)
	}
	c, r, err := p2p.Join(ctx, l, o.p2p.options(joinWait), client.Config{Password: pw, Alias: o.alias})
	if err != nil {
		fmt.Fprintln(stderr, joinFailure(name, err))
		return nil, exitFor(err)
	}
	if r.Members() == 0 {
		if name == "veil send" {
			c.Close()
			fmt.Fprintf(stderr, "%s: no peer of this room answered within %s (are they online, and can this machine reach them?)\n", name, joinWait)
			return nil, exitFailure
		}
		fmt.Fprintf(stderr, "%s: no peer of this room answered yet; still looking\n", name)
	}
	return c, exitOK
}

const p2pHelp = `Usage: veil p2p create [flags]
       veil p2p node [flags]     (veil p2p node --help)

Creates a room that lives on its members' machines only: no server. It
prints a p2p link (veil:p2p?peer=…#…) and an owner key, then stays up as the
room's first peer (headless; --chat for the terminal interface) until the
room expires or is purged, or until interrupted. veil chat, veil send and
veil listen take the link and join as peers, with the same interface.

Peers connect to each other directly: every member sees the others'
IP addresses, and the link carries this peer's addresses. They find each
other from the link's peers, on the local network by mDNS, and across
networks through the peers' DHT (a veil-only Kademlia DHT) from any
--bootstrap peer. The room's deadline is enforced by every peer; a purge is
signed (by the owner key, or by any member if --purge anyone) and every
peer that receives it wipes the room and leaves. Nobody gets history.

Flags:
`

func p2pCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "node" {
		return p2pNode(ctx, args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "create" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(stderr, p2pHelp)
			p2pCreateFlags(stderr).fs.PrintDefaults()
			fmt.Fprint(stderr, "\n"+exitCodesHelp)
			return exitOK
		}
		fmt.Fprint(stderr, "Usage: veil p2p create [flags]   (veil p2p --help)\n       veil p2p node [flags]\n")
		return exitUsage
	}
	f := p2pCreateFlags(stderr)
	if err := f.fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if f.fs.NArg() > 0 {
		fmt.Fprintf(stderr, "veil p2p create: unexpected argument %q\n", f.fs.Arg(0))
		return exitUsage
	}
	policy := protocol.PolicyAnyone
	switch *f.purge {
	case "anyone":
	case "owner":
		policy = protocol.PolicyOwner
	default:
		fmt.Fprintln(stderr, "veil p2p create: --purge must be anyone or owner")
		return exitUsage
	}
	if *f.ttl < 10*time.Second || *f.ttl > 7*24*time.Hour {
		fmt.Fprintln(stderr, "veil p2p create: --ttl must be between 10s and 168h")
		return exitUsage
	}
	if *f.chat {
		if o, ok := stdout.(*os.File); ok && !term.IsTerminal(int(o.Fd())) {
			fmt.Fprintln(stderr, "veil p2p create: --chat needs a terminal on standard output")
			return exitUsage
		}
	}
	var pw string
	if *f.withPassword || *f.pwFile != "" {
		var err error
		if pw, err = readPassword(*f.pwFile, stdin, stderr); err != nil {
			fmt.Fprintf(stderr, "veil p2p create: %v\n", err)
			return exitUsage
		}
	}
	p2p.Quiet()
	l, owner := p2p.NewRoom(pw != "", *f.ttl, policy, nil)
	c, r, err := p2p.Join(ctx, l, f.p2p.options(0), client.Config{Password: pw, Alias: *f.alias})
	if err != nil {
		fmt.Fprintf(stderr, "veil p2p create: %v\n", err)
		return exitFailure
	}
	defer c.Close()
	l.Peers = append(l.Peers, r.Addrs())
	ownerKey := base64.RawURLEncoding.EncodeToString(owner[:])
	if *f.asJSON {
		json.NewEncoder(stdout).Encode(map[string]any{"link": l.String(), "owner_key": ownerKey, "ttl_seconds": int64(f.ttl.Seconds())})
	} else {
		fmt.Fprintf(stdout, "link: %s\nowner key: %s\nlifetime: %s\n", l.String(), ownerKey, *f.ttl)
		fmt.Fprintln(stderr, "Keep the owner key now: it is shown only once, and it purges the room whatever the policy.")
		if !*f.chat {
			fmt.Fprintln(stderr, "This peer stays up until the room ends (Ctrl-C leaves it; the room lives on while other peers do).")
		}
	}
	if *f.chat {
		// The chat takes the whole screen: the link is copied first.
		fmt.Fprint(stderr, "Copy the link now, then press Enter to open the chat. ")
		bufio.NewReader(stdin).ReadString('\n')
		return runTUI(ctx, c, &owner, stdin, stdout, stderr, "veil p2p create")
	}
	// Headless: the events are drained (nothing is shown or kept) until the
	// room ends here or the process is told to stop.
	for {
		select {
		case e, ok := <-c.Events():
			if !ok {
				return exitOK
			}
			if e.Type == "closed" {
				fmt.Fprintf(stderr, "veil p2p create: %s\n", closeSentence(e.Code, e.Text))
				return exitForClose(e.Code)
			}
		case <-ctx.Done():
			return exitOK
		}
	}
}

type p2pCreate struct {
	fs                         *flag.FlagSet
	ttl                        *time.Duration
	purge, pwFile, alias       *string
	withPassword, chat, asJSON *bool
	p2p                        p2pOptions
}

func p2pCreateFlags(stderr io.Writer) *p2pCreate {
	fs := flag.NewFlagSet("veil p2p create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := &p2pCreate{fs: fs}
	f.ttl = fs.Duration("ttl", time.Hour, "the room's lifetime, from 10s to 168h")
	f.purge = fs.String("purge", "anyone", "who may purge the room: anyone or owner (the owner key always may)")
	f.withPassword = fs.Bool("password", false, "protect the room with a password (from --password-file, $VEIL_PASSWORD or a prompt)")
	f.pwFile = fs.String("password-file", "", "read the room password from the first line of `FILE`; implies --password")
	f.alias = fs.String("alias", "", "`NAME` this peer shows the room (default: a random one)")
	f.chat = fs.Bool("chat", false, "use the terminal interface as this peer, as veil chat does")
	f.asJSON = fs.Bool("json", false, `print {"link": ..., "owner_key": ..., "ttl_seconds": ...} instead of text`)
	f.p2p.register(fs)
	fs.Usage = func() {
		fmt.Fprint(stderr, p2pHelp)
		fs.PrintDefaults()
		fmt.Fprint(stderr, "\n"+exitCodesHelp)
	}
	return f
}

const p2pNodeHelp = `Usage: veil p2p node [flags]

Runs a veil peer that is in no room: a node of veil's DHT that peers of any
room can start from (--bootstrap) to find each other across networks. Run
it where members can reach it (a public address, or a forwarded port with
--listen). It prints its addresses, one per line, for --bootstrap, and
stays up until interrupted. It reads no message: it learns which peers
advertise which rendezvous (hashes that name no room) and their addresses.

Flags:
`

// p2pNode runs a DHT node in no room.
func p2pNode(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("veil p2p node", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o p2pOptions
	o.register(fs)
	fs.Usage = func() {
		fmt.Fprint(stderr, p2pNodeHelp)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "veil p2p node: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if o.noMDNS {
		fmt.Fprintln(stderr, "veil p2p node: --no-mdns: a node in no room does not use mDNS")
		return exitUsage
	}
	p2p.Quiet()
	opts := o.options(0)
	n, err := p2p.New(ctx, p2p.Config{Listen: opts.Listen, Bootstrap: opts.Bootstrap})
	if err != nil {
		fmt.Fprintf(stderr, "veil p2p node: %v\n", err)
		return exitFailure
	}
	defer n.Close()
	for _, a := range n.Host.Addrs() {
		fmt.Fprintf(stdout, "%s/p2p/%s\n", a, n.Host.ID())
	}
	fmt.Fprintln(stderr, "This node stays up until interrupted; give members one of its addresses for --bootstrap.")
	<-ctx.Done()
	return exitOK
}
