package p2p

import (
	"testing"
	"time"
)

func start(t *testing.T, cfg Config) *Node {
	t.Helper()
	cfg.Listen = loopback
	n, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// Two hosts that know nothing of each other find each other by mDNS.
func TestMDNSFindsPeers(t *testing.T) {
	a := start(t, Config{MDNS: true, MDNSName: "vtest0123456"})
	b := start(t, Config{MDNS: true, MDNSName: "vtest0123456"})
	deadline := time.Now().Add(20 * time.Second)
	for len(a.Host.Network().ConnsToPeer(b.Host.ID())) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no connection between the hosts after 20 s of mDNS")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
