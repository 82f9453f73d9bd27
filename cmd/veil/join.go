package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"veil/internal/client"
	"veil/internal/e2ee"
)

// joinOptions are the flags every command that joins a room shares.
type joinOptions struct {
	alias        string
	passwordFile string
	proxy        string
}

func (o *joinOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.alias, "alias", "", "`NAME` to show the room (default: a random one)")
	fs.StringVar(&o.passwordFile, "password-file", "", "read the room password from the first line of `FILE` (else $VEIL_PASSWORD, else a prompt)")
	fs.StringVar(&o.proxy, "proxy", "", "dial through the SOCKS5 proxy at `URL`, e.g. socks5://127.0.0.1:9050 for Tor (host names are resolved by the proxy)")
}

// join parses link, asks for the password if the room has one, and joins.
// On failure it reports to stderr and returns the exit code.
func join(ctx context.Context, o joinOptions, link string, reconnect bool, stdin io.Reader, stderr io.Writer, name string) (*client.Client, int) {
	l, err := e2ee.ParseLink(link)
	if err != nil || l.Base == "" {
		fmt.Fprintf(stderr, "%s: %q is not a veil link (https://HOST/#1.SECRET)\n", name, link)
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
	c, err := client.Dial(ctx, client.Config{Link: link, Password: pw, Alias: o.alias, HTTPClient: hc, Reconnect: reconnect})
	if err != nil {
		fmt.Fprintf(stderr, "%s: %s\n", name, describeJoinError(err))
		return nil, exitFor(err)
	}
	return c, exitOK
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
	case 4007:
		return "this session has ended; join again with the link"
	case 4008:
		return "the room expired"
	case 4009:
		return "the room was purged"
	case 4029:
		return "too many wrong passwords for this room; try again later"
	case 1001:
		return "the server is shutting down"
	case 1000:
		return "closed"
	}
	return fmt.Sprintf("the server closed the connection: %s (%d)", reason, code)
}
