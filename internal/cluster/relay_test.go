package cluster

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"veil/internal/natstest"
	"veil/internal/protocol"
	"veil/internal/roomsuite"
	"veil/internal/vtest"
)

// nodes starts n veil nodes, each a real relay on loopback sharing rooms
// through its own NATS server of a routed cluster.
func nodes(t *testing.T, n int) []*vtest.Server {
	t.Helper()
	var out []*vtest.Server
	ns, _ := startNodes(t, n, vtest.Options{})
	for _, x := range ns {
		out = append(out, x.S)
	}
	return out
}

// testNode is one veil node of a test cluster and what it is made of.
type testNode struct {
	S    *vtest.Server
	Node *Node
	NC   *nats.Conn
}

// startNodes starts n veil nodes with opt (Shared is set here), node i
// connected first to NATS server i of a routed cluster, and knowing every
// server's address to reconnect to.
func startNodes(t *testing.T, n int, opt vtest.Options) ([]testNode, *natstest.Cluster) {
	t.Helper()
	c := natstest.StartCluster(t, n)
	var out []testNode
	for i := range n {
		urls := c.URLs()
		urls[0], urls[i] = urls[i], urls[0]
		nc, err := nats.Connect(strings.Join(urls, ","), nats.DontRandomize(), nats.MaxReconnects(-1),
			nats.ReconnectWait(50*time.Millisecond), nats.NoEcho())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		// A fresh cluster may take a raft election or two (seconds each)
		// before JetStream places a replicated bucket.
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		node, err := NewNode(ctx, nc, n, nil)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(node.Bus.Close)
		o := opt
		o.Shared = node
		out = append(out, testNode{S: vtest.NewServer(t, o), Node: node, NC: nc})
	}
	return out, c
}

func join(t *testing.T, s *vtest.Server, rm *vtest.Room, alias string) *vtest.Client {
	t.Helper()
	c, err := s.Join(t, rm, alias, vtest.DialOptions{})
	if err != nil {
		t.Fatalf("join %s: %v", alias, err)
	}
	return c
}

// A room made through one node is one conversation for members on three:
// each sees the others arrive and reads what they say, and a direct
// message reaches only its recipient, on another node.
func TestMembersOnThreeNodesShareARoom(t *testing.T) {
	n := nodes(t, 3)
	rm := n[0].CreateRoom(t, vtest.CreateOptions{Name: "spread"})
	a := join(t, n[0], rm, "a")
	b := join(t, n[1], rm, "b")
	roomsuite.Meets(t, b, a)
	roomsuite.Meets(t, a, b)
	c := join(t, n[2], rm, "c")
	for _, x := range []*vtest.Client{a, b} {
		roomsuite.Meets(t, c, x)
		roomsuite.Meets(t, x, c)
	}
	for _, sp := range []*vtest.Client{a, b, c} {
		if err := sp.Say("from " + sp.Alias); err != nil {
			t.Fatal(err)
		}
		for _, o := range []*vtest.Client{a, b, c} {
			if o != sp {
				if e := o.Expect("msg"); e.Text != "from "+sp.Alias || e.From != sp.Welcome.Session {
					t.Fatalf("%s got %+v", o.Alias, e)
				}
			}
		}
	}
	if err := a.DM(c.Welcome.Session, "just for c"); err != nil {
		t.Fatal(err)
	}
	if e := c.Expect("dm"); e.Text != "just for c" {
		t.Fatalf("c got %+v", e)
	}
	b.Say("after the dm")
	if e := a.Expect("msg"); e.Text != "after the dm" {
		t.Fatalf("a got %+v (the DM leaked?)", e)
	}
	// A member leaving on one node is gone on the others.
	b.WS.Close(1000, "")
	for _, o := range []*vtest.Client{a, c} {
		if e := o.Expect("left"); e.From != b.Welcome.Session || e.Reason != protocol.LeftClosed {
			t.Fatalf("%s saw %+v", o.Alias, e)
		}
	}
}

// Owner powers reach across nodes: a lock made on one node refuses joins
// on another, a kick removes a member on another node, and a purge closes
// every member everywhere and kills the link cluster-wide.
func TestOwnerPowersAcrossNodes(t *testing.T) {
	n := nodes(t, 3)
	rm := n[0].CreateRoom(t, vtest.CreateOptions{})
	owner := join(t, n[0], rm, "owner")
	far := join(t, n[1], rm, "far")
	third := join(t, n[2], rm, "third")
	for _, x := range []*vtest.Client{owner, far, third} {
		for _, y := range []*vtest.Client{owner, far, third} {
			if x != y {
				roomsuite.Meets(t, x, y)
			}
		}
	}
	owner.Write(protocol.Owner{Key: rm.Owner})
	if e := owner.Expect("state"); e.Reason != protocol.StateOwner {
		t.Fatalf("owner's STATE = %#x", e.Reason)
	}
	owner.Write(protocol.Lock{Locked: true})
	if e := far.Expect("state"); e.Reason != protocol.StateLocked {
		t.Fatalf("far's STATE = %#x", e.Reason)
	}
	if _, err := n[2].Join(t, rm, "late", vtest.DialOptions{}); err == nil {
		t.Fatal("joined a locked room through another node")
	} else if code, _ := vtest.CloseOf(err); code != protocol.CloseLocked {
		t.Fatalf("join of the locked room on node 3: %v", err)
	}
	owner.Write(protocol.Kick{Session: far.Welcome.Session})
	if code, reason := far.ExpectClose(); code != protocol.CloseRemoved {
		t.Fatalf("far closed with %d %q", code, reason)
	}
	for _, o := range []*vtest.Client{owner, third} {
		if e := o.Expect("left"); e.From != far.Welcome.Session || e.Reason != protocol.LeftRemoved {
			t.Fatalf("%s saw %+v", o.Alias, e)
		}
	}
	owner.Write(protocol.Purge{})
	if code, _ := third.ExpectClose(); code != protocol.ClosePurged {
		t.Fatalf("third, on node 3, closed with %d", code)
	}
	if _, err := n[1].Join(t, rm, "after", vtest.DialOptions{}); err == nil {
		t.Fatal("joined a purged room")
	} else if code, _ := vtest.CloseOf(err); code != protocol.CloseNotFound {
		t.Fatalf("join after the purge: %v", err)
	}
}
