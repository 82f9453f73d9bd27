package cluster

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"veil/internal/natstest"
	"veil/internal/protocol"
)

// within runs f and fails t if it takes longer than d: a connection that
// cannot be made must say so, not hang.
func within[T any](t *testing.T, d time.Duration, f func() T) T {
	t.Helper()
	done := make(chan T, 1)
	go func() { done <- f() }()
	select {
	case v := <-done:
		return v
	case <-time.After(d):
		t.Fatalf("still waiting after %v", d)
		var zero T
		return zero
	}
}

// A node connects under the name "veil" and nothing else, and finds
// JetStream there.
func TestConnect(t *testing.T) {
	c := natstest.StartServer(t)
	nc, err := Connect(ConnectOptions{URLs: natstest.ClosedURL(t) + "," + c.URL()})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := CheckJetStream(ctx, nc); err != nil {
		t.Fatalf("CheckJetStream = %v, want nil", err)
	}
	cz, err := c.Server(0).Connz(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cz.Conns) != 1 || cz.Conns[0].Name != "veil" {
		t.Fatalf("connections = %+v, want one named veil", cz.Conns)
	}
}

func TestConnectWithPassword(t *testing.T) {
	url := natstest.StartPlain(t, false, "node", "s3cret")
	nc, err := Connect(ConnectOptions{URLs: url, User: "node", Password: "s3cret"})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	nc.Close()
	err = within(t, 10*time.Second, func() error {
		nc, err := Connect(ConnectOptions{URLs: url, User: "node", Password: "wrong"})
		if err == nil {
			nc.Close()
		}
		return err
	})
	if !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("Connect with a wrong password = %v, want %v", err, nats.ErrAuthorization)
	}
}

// What cannot work fails at once, with an error that names the cause.
func TestConnectFailsClearly(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "absent.creds")
	url := natstest.StartPlain(t, false, "", "")
	tests := []struct {
		name string
		o    ConnectOptions
		want string
	}{
		{"no url", ConnectOptions{}, "no NATS URL"},
		{"nobody listening", ConnectOptions{URLs: natstest.ClosedURL(t)}, "connect to NATS"},
		{"missing creds file", ConnectOptions{URLs: url, CredsFile: missing}, "nats credentials: open " + missing},
		{"missing nkey file", ConnectOptions{URLs: url, NKeyFile: missing}, "nats nkey:"},
		{"missing CA file", ConnectOptions{URLs: url, TLSCA: missing}, "rootCA"},
		{"cert without key", ConnectOptions{URLs: url, TLSCert: missing}, "go together"},
		{"two ways in", ConnectOptions{URLs: url, User: "u", Password: "p", NKeyFile: missing}, "use one of"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := within(t, 15*time.Second, func() error {
				nc, err := Connect(tc.o)
				if err == nil {
					nc.Close()
				}
				return err
			})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Connect(%+v) = %v, want an error with %q", tc.o, err, tc.want)
			}
		})
	}
}

// A server without JetStream is named as such, at once.
func TestCheckJetStreamWithoutIt(t *testing.T) {
	nc, err := Connect(ConnectOptions{URLs: natstest.StartPlain(t, false, "", "")})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	err = within(t, 5*time.Second, func() error { return CheckJetStream(t.Context(), nc) })
	if !errors.Is(err, ErrNoJetStream) {
		t.Fatalf("CheckJetStream = %v, want %v", err, ErrNoJetStream)
	}
}

// A NATS error that names a room's subject is logged without the room id.
func TestRedactCutsRoomIDs(t *testing.T) {
	var rid protocol.RID
	rid[0], rid[15] = 0xab, 0xcd
	err := fmt.Errorf("nats: permissions violation for subscription to %q", Subject(rid))
	if got := redact(err); strings.Contains(got, key(rid)) || !strings.Contains(got, "veil.room.") {
		t.Fatalf("redact(%v) = %q, want the subject without its room id", err, got)
	}
}
