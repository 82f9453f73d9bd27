package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// readPassword returns a room password from, in order: the file named by
// flagFile (its first line), the VEIL_PASSWORD environment variable, or a
// prompt without echo on the terminal. Never from the command line, where
// other users of the machine could read it.
func readPassword(flagFile string, stdin io.Reader, stderr io.Writer) (string, error) {
	if flagFile != "" {
		f, err := os.Open(flagFile)
		if err != nil {
			return "", fmt.Errorf("password file: %w", err)
		}
		defer f.Close()
		line, err := bufio.NewReader(io.LimitReader(f, 4096)).ReadString('\n')
		if err != nil && err != io.EOF {
			return "", fmt.Errorf("password file: %w", err)
		}
		pw := strings.TrimRight(line, "\r\n")
		if pw == "" {
			return "", errors.New("the password file is empty")
		}
		return pw, nil
	}
	if pw := os.Getenv("VEIL_PASSWORD"); pw != "" {
		return pw, nil
	}
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(stderr, "Room password: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		if len(b) == 0 {
			return "", errors.New("no password given")
		}
		return string(b), nil
	}
	return "", errors.New("this room needs a password: give --password-file FILE or set VEIL_PASSWORD")
}
