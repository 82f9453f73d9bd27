package p2p

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"veil/internal/e2ee"
	"veil/internal/protocol"
)

// A link prints and parses back whole; changing the deadline, policy or
// owner it carries names another room (another topic); the topic and the
// mDNS name give away neither the secret nor the room id.
func TestLinkRoundTripAndBinding(t *testing.T) {
	l, _ := NewRoom(true, time.Hour, protocol.PolicyOwner, nil)
	ps, err := ParsePeers([]string{
		"/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWNxvWkHndXVkWJc5Vw67jqGCUC3L1JdhAz4nCByUWfYq3",
		"/ip6/::1/tcp/4001/p2p/12D3KooWNxvWkHndXVkWJc5Vw67jqGCUC3L1JdhAz4nCByUWfYq3",
	})
	if err != nil || len(ps) != 1 || len(ps[0].Addrs) != 2 {
		t.Fatalf("two addresses of one peer: %v, %v", ps, err)
	}
	l.Peers = ps
	got, err := ParseLink(l.String())
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != l.String() || got.Topic() != l.Topic() || !got.Room.Password || got.Policy != protocol.PolicyOwner ||
		!got.Ends.Equal(l.Ends) || !got.Owner.Equal(l.Owner) || len(got.Peers[0].Addrs) != 2 {
		t.Fatalf("parsed %+v from %s", got, l)
	}
	k, _ := e2ee.DeriveRoom(l.Room.Secret[:], "pw")
	rid, secret := hex.EncodeToString(k.RID[:8]), hex.EncodeToString(l.Room.Secret[:8])
	for _, name := range []string{l.Topic(), l.mdnsName()} {
		if strings.Contains(name, rid) || strings.Contains(name, secret) {
			t.Errorf("%q gives the room away", name)
		}
	}
	later := l
	later.Ends = l.Ends.Add(time.Hour)
	anyone := l
	anyone.Policy = protocol.PolicyAnyone
	other, _ := NewRoom(true, time.Hour, protocol.PolicyOwner, nil)
	owned := l
	owned.Owner = other.Owner
	for name, m := range map[string]Link{"deadline": later, "policy": anyone, "owner": owned} {
		if m.Topic() == l.Topic() {
			t.Errorf("a link with another %s names the same room", name)
		}
	}
}

// Every malformed link is refused with ErrBadLink and a reason.
func TestParseLinkErrors(t *testing.T) {
	l, _ := NewRoom(false, time.Hour, protocol.PolicyAnyone, nil)
	good := l.String()
	frag := good[strings.Index(good, "#"):]
	for _, s := range []string{
		"https://veil.example/#1.AAAA",
		"veil:p2p",
		"veil:p2p#1.abc",
		"veil:p2pX" + frag,
		"veil:p2p?peer=/ip4/127.0.0.1/tcp/1" + frag,
		"veil:p2p?peer=nonsense" + frag,
		"veil:p2p?host=/ip4/127.0.0.1" + frag,
		"veil:p2p?peer=%zz" + frag,
		good[:len(good)-2],
		strings.Replace(good, "#1.", "#2.", 1),
		"veil:p2p?" + strings.Repeat("peer=/ip4/127.0.0.1/tcp/1/p2p/12D3KooWNxvWkHndXVkWJc5Vw67jqGCUC3L1JdhAz4nCByUWfYq3&", MaxPeers+1) + frag,
	} {
		if _, err := ParseLink(s); !errors.Is(err, e2ee.ErrBadLink) {
			t.Errorf("ParseLink(%q) = %v, want ErrBadLink", s, err)
		}
	}
}
