package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"veil/internal/client"
	"veil/internal/tui"
)

const chatHelp = `Usage: veil chat [flags] LINK

Joins the room of LINK (a server's link, or a p2p link from veil p2p
create, with which it runs as a peer) in the terminal: the room's name and countdown, your
alias and fingerprint, a message pane with scrollback (PgUp/PgDn, Up/Down),
the member list with fingerprints, safety codes and verified marks (on
terminals 80 columns or wider; /who anywhere), and an input line. Peer text
is shown as plain text. Nothing is written to disk but a received file you
ask for with /save.

Type a message and Enter to send it to the room, or a command:
  /dm ALIAS TEXT       a direct message to one member
  /who                 members with fingerprints and safety codes
  /verify ALIAS        mark a member verified, after comparing the safety code
  /file PATH           send a file to the room (at most 100 MiB)
  /dmfile ALIAS PATH   send a file to one member
  /save N [DIR]        write received file N into DIR (default: the current
                       directory), mode 0600, never over an existing file
  /purge [KEY]         end the room for everyone (KEY, or --owner-key-file,
                       when only the owner may purge)
  /report ALIAS [NOTE] report ALIAS's last message on the screen to the
                       room's owner; nobody else learns of it
  /mute ALIAS          hide a member's messages and files on this screen;
                       nobody is told (/unmute ALIAS shows them again)
  /filter add WORDS    hide messages with any of these words on this screen
                       (commas between phrases). Off until you add words,
                       kept in memory only; /filter list, /filter clear
  /leave, /quit        leave the room (Ctrl+C too)
  /logout              end your session for good
  /help                list the commands

The room's owner (started with --owner-key-file, or after /owner KEY) sees
"owner" in the header and receives members' reports, marked REPORT, with the
reported text, its sender's alias and fingerprint and the note. Only the
owner may:
  /owner KEY           prove the owner key from inside the chat
  /kick ALIAS          remove a member from the room (they keep the link:
                       lock the room to keep them out)
  /lock, /unlock       keep anyone new from joining, or let them in again;
                       everyone sees "locked" in the header

Files are encrypted end to end and relayed, never stored. Received files
are listed in the message pane as "file #N" and held in memory (up to
256 MiB, the oldest let go first) until you /save them or the room ends.

A purge, the room's expiry and /logout wipe the screen, as in the web
client. The server ends a session after a long time without a key press
(an hour by default). A room with a password takes it from --password-file,
else $VEIL_PASSWORD, else a prompt; never from the command line. NO_COLOR
set to anything turns colour off.

Flags:
`

const chatExitCodes = `
Exit codes:
  0  you left (/leave, /quit, Ctrl+C) or logged out
  1  runtime failure: cannot connect, the connection was lost for good, or
     the server shut down
  2  usage: bad flags, arguments, link or owner key, or no terminal
  3  refused: room not found, wrong password, room full, room locked, too
     many attempts; or your session ended: the owner removed you, or you
     were idle too long
  4  the room ended: purged or expired
`

// wipeTerminal clears the screen and its scrollback, and homes the cursor.
const wipeTerminal = "\x1b[H\x1b[2J\x1b[3J"

// chat runs `veil chat`: it joins the room of the link and runs the
// terminal interface until the session ends, and returns the exit code.
func chat(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("veil chat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o joinOptions
	o.register(fs)
	ownerFile := fs.String("owner-key-file", "", "read the room's owner key from `FILE`: join as the owner (/kick, /lock, reports) and /purge with it")
	fs.Usage = func() {
		fmt.Fprint(stderr, chatHelp)
		fs.PrintDefaults()
		fmt.Fprint(stderr, chatExitCodes)
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
			fmt.Fprintf(stderr, "veil chat: %v\n", err)
			return exitUsage
		}
		owner = &k
	}
	if f, ok := stdout.(*os.File); ok && !term.IsTerminal(int(f.Fd())) {
		fmt.Fprintln(stderr, "veil chat: standard output is not a terminal; scripts can use veil send and veil listen")
		return exitUsage
	}

	c, code := join(ctx, o, fs.Arg(0), true, stdin, stderr, "veil chat")
	if c == nil {
		return code
	}
	return runTUI(ctx, c, owner, stdin, stdout, stderr, "veil chat")
}

// runTUI shows the session c in the terminal until it ends, and returns
// the exit code for how it ended.
func runTUI(ctx context.Context, c *client.Client, owner *[32]byte, stdin io.Reader, stdout, stderr io.Writer, name string) int {
	opt := tui.Options{Width: 80, Height: 24} // when stdout is not a terminal (tests)
	if stdin != os.Stdin {
		opt.Input = stdin
	}
	if stdout != os.Stdout {
		opt.Output = stdout
	}
	res, err := tui.Run(ctx, tui.Config{Room: c, Owner: owner}, c.Events(), opt)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return exitFailure
	}
	if res.Wiped() {
		// The interface left the alternate screen blank; clear the main
		// screen and the scrollback too, so no message is left to read.
		fmt.Fprint(stdout, wipeTerminal)
	}
	fmt.Fprintln(stderr, res.Message())
	switch res.Ending {
	case tui.Left, tui.LoggedOut:
		return exitOK
	case tui.Closed:
		return exitForClose(res.Code)
	}
	return exitFailure
}

// readOwnerKey reads an owner key (base64url, as `veil create` prints it)
// from the file name: a line holding the key alone, or the "owner key: KEY"
// line of veil create's output.
func readOwnerKey(name string) ([32]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return [32]byte{}, fmt.Errorf("owner key file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return [32]byte{}, fmt.Errorf("owner key file: %w", err)
	}
	for line := range strings.Lines(string(b)) {
		line = strings.TrimSpace(line)
		if len(line) > len("owner key:") && strings.EqualFold(line[:len("owner key:")], "owner key:") {
			line = line[len("owner key:"):]
		}
		if k, err := client.ParseOwnerKey(line); err == nil {
			return *k, nil
		}
	}
	return [32]byte{}, fmt.Errorf("owner key file %s: no owner key in it (32 bytes in base64url, as veil create prints it)", name)
}
