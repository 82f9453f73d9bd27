package client

import (
	"strings"
	"testing"

	"veil/internal/e2ee"
	"veil/internal/vtest"
)

// The longest alias of the widest characters, with the ML-KEM capability,
// still makes a hello the relay takes and the others see.
func TestLongestAliasJoins(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	rm := s.CreateRoom(t, vtest.CreateOptions{})
	a := dial(t, rm, "a")
	wide := strings.Repeat("\U0001F600", e2ee.MaxAlias)
	b := dial(t, rm, wide)
	if e := expect(t, a, "join", ""); e.From.Alias != wide {
		t.Fatalf("a saw %q join", e.From.Alias)
	}
	settle(t, a, b)
}
