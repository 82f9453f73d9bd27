package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"

	"github.com/coder/websocket"

	"veil/internal/client"
)

// tally counts errors by kind. Kinds are short fixed phrases (a close code
// and its reason, an HTTP status) so that their number stays small.
type tally struct {
	mu sync.Mutex
	m  map[string]int64
}

func (t *tally) add(kind string, n int64) {
	if n == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[string]int64{}
	}
	t.m[kind] += n
}

// snapshot returns a copy of the counts and their sum.
func (t *tally) snapshot() (map[string]int64, int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]int64, len(t.m))
	var sum int64
	for k, v := range t.m {
		out[k] = v
		sum += v
	}
	return out, sum
}

// classify names err as an error kind, without addresses or ports.
func classify(err error) string {
	var ce websocket.CloseError
	var ue *UpgradeError
	var cre *client.CreateError
	switch {
	case errors.As(err, &cre):
		return fmt.Sprintf("create refused %d %s", cre.Status, cre.Msg)
	case errors.As(err, &ce):
		return fmt.Sprintf("closed %d %s", int(ce.Code), ce.Reason)
	case errors.As(err, &ue):
		return fmt.Sprintf("upgrade refused %d %s", ue.Status, ue.Body)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection lost without a close frame"
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return "too many open files in the generator (ulimit -n)"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "no free local port (use --source-addrs)"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection reset"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	case errors.Is(err, net.ErrClosed):
		return "the socket was closed already"
	case errors.Is(err, context.Canceled):
		return "interrupted"
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return oe.Op + ": " + oe.Err.Error()
	}
	return err.Error()
}
