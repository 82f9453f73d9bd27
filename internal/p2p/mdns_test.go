package p2p

import (
	"testing"
	"time"
)

// Two hosts that know nothing of each other find each other by mDNS.
func TestMDNSFindsPeers(t *testing.T) {
	a := start(t, Config{MDNS: true})
	b := start(t, Config{MDNS: true})
	deadline := time.Now().Add(20 * time.Second)
	for len(a.Host.Network().ConnsToPeer(b.Host.ID())) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no connection between the hosts after 20 s of mDNS")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
