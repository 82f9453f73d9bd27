package main

import (
	"context"
	"log/slog"
	"regexp"
	"strings"
)

// addrLike matches IPv4 and IPv6 addresses, with or without a port.
var addrLike = regexp.MustCompile(`\[?[0-9A-Fa-f]*:[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]+\]?(:\d+)?|\d{1,3}(\.\d{1,3}){3}(:\d+)?`)

// scrubber receives net/http's own error log (TLS handshake errors and the
// like name the client's address) and passes it on with every address
// replaced, at debug level.
type scrubber struct{ log *slog.Logger }

func (s scrubber) Write(p []byte) (int, error) {
	line := addrLike.ReplaceAllString(strings.TrimSpace(string(p)), "[address]")
	s.log.Log(context.Background(), slog.LevelDebug, "http: "+line)
	return len(p), nil
}
