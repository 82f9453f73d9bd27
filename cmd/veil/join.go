package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"veil/internal/client"
	"veil/internal/e2ee"
	"veil/internal/p2p"
)

// joinOptions are the flags every command that joins a room shares.
type joinOptions struct {
	alias        string
	passwordFile string
	proxy        string
	nodes        []string
	p2p          p2pOptions
}

func (o *joinOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.alias, "alias", "", "`NAME` to show the room (default: a random one)")
	fs.StringVar(&o.passwordFile, "password-file", "", "read the room password from the first line of `FILE` (else $VEIL_PASSWORD, else a prompt)")
	fs.Func("node", "`URL` of another node of the link's cluster (https://HOST), tried in turn with the link's server to resume the session if that server goes away (repeatable)", func(v string) error {
		if !strings.HasPrefix(v, "http://") && !strings.HasPrefix(v, "https://") {
			return fmt.Errorf("%q is not an http:// or https:// URL", v)
		}
		o.nodes = append(o.nodes, v)
		return nil
	})
	fs.StringVar(&o.proxy, "proxy", "", "dial through the SOCKS5 proxy at `URL`, e.g. socks5://127.0.0.1:9050 for Tor (host names are resolved by the proxy)")
	o.p2p.register(fs)
}

// join parses link, asks for the password if the room has one, and joins.
// On failure it reports to stderr and returns the exit code.
func join(ctx context.Context, o joinOptions, link string, reconnect bool, stdin io.Reader, stderr io.Writer, name string) (*client.Client, int) {
	if p2p.IsLink(link) {
		return joinP2P(ctx, o, link, stdin, stderr, name)
	}
	if len(o.p2p.listen)+len(o.p2p.bootstrap) > 0 || o.p2p.noMDNS {
		fmt.Fprintf(stderr, "%s: --listen, --bootstrap and --no-mdns are for a p2p link (veil:p2p…)\n", name)
		return nil, exitUsage
	}
	l, err := e2ee.ParseLink(link)
	if err != nil || l.Base == "" {
		fmt.Fprintf(stderr, "%s: %q is not a veil link (https://HOST/#1.SECRET or veil:p2p…)\n", name, link)
		return nil, exitUsage
	}
	hc, err := proxyHTTPClient(o.proxy)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return nil, exitUsage
	}
	var pw string
	if l.Password {
		if pw, err = readPassword(o.passwordFile, stdin, stderr); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", name, err)
			return nil, exitUsage
		}
	}
	c, err := client.Dial(ctx, client.Config{Link: link, Password: pw, Alias: o.alias, HTTPClient: hc, Reconnect: reconnect, Nodes: o.nodes})
	if err != nil {
		fmt.Fprintln(stderr, joinFailure(name, err))
		return nil, exitFor(err)
	}
	return c, exitOK
}

// joinFailure words a failed join for stderr. veil chat talks to a person:
// it says a refusal in a sentence, as it says how a session ended. The
// scriptable commands name themselves first.
func joinFailure(name string, err error) string {
	var ce *client.CloseError
	if name == "veil chat" && errors.As(err, &ce) {
		s := closeSentence(ce.Code, ce.Reason)
		return strings.ToUpper(s[:1]) + s[1:] + "."
	}
	return name + ": " + describeJoinError(err)
}

// describeJoinError words a refusal for a person.
func describeJoinError(err error) string {
	var ce *client.CloseError
	if errors.As(err, &ce) {
		return closeSentence(ce.Code, ce.Reason)
	}
	return err.Error()
}

// closeSentence is what a person reads for a close code.
func closeSentence(code int, reason string) string {
	switch code {
	case 4003:
		return "wrong password"
	case 4004:
		return "this room does not exist any more: it expired, was purged, or the link is wrong"
	case 4005:
		return "the room is full"
	case 4006:
		return "this room is locked: the owner is not letting anyone new in"
	case 4007:
		return "this session has ended; join again with the link"
	case 4008:
		return "the room expired"
	case 4009:
		return "the room was purged"
	case 4012:
		return "the owner removed you from this room"
	case 4015:
		return "you were disconnected after a long time without activity"
	case 4029:
		if reason != "too many attempts" {
			return reason // too many joins in a minute
		}
		return "too many wrong passwords for this room; try again later"
	case 1001:
		return "the server is shutting down"
	case 1000:
		return "closed"
	}
	return fmt.Sprintf("the server closed the connection: %s (%d)", reason, code)
}
