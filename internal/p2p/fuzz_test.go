package p2p

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/peer"

	"veil/internal/e2ee"
	"veil/internal/fuzzseed"
	"veil/internal/protocol"
)

// alone is a room's peer on loopback with no other peer, as session 7,
// with member 9 (id) heard and keyed for epoch 1: topic messages are fed
// to it straight.
func alone(t testing.TB) (*Room, e2ee.Keys, e2ee.Identity) {
	l, _ := NewRoom(false, time.Hour, protocol.PolicyAnyone, nil)
	k, err := e2ee.DeriveRoom(l.Room.Secret[:], "")
	if err != nil {
		t.Fatal(err)
	}
	self, _ := e2ee.NewIdentity()
	id, _ := e2ee.NewIdentity()
	r, err := open(context.Background(), l, Options{Listen: loopback, NoMDNS: true}, k, self)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.CloseNow() })
	r.mu.Lock()
	defer r.mu.Unlock()
	r.session = 7
	hello, err := e2ee.SealHello(k, 9, 1, id, "nine", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.helloLocked(hello, time.Now())
	r.members[9].keyed = 1
	return r, k, id
}

// seeds are topic messages of every kind, made by the real encoders.
func seeds(t testing.TB) map[string][]byte {
	r, k, id := alone(t)
	hello, _ := e2ee.SealHello(k, 10, 1, id, "ten", []string{e2ee.CapMLKEM}, nil)
	now := uint64(time.Now().UnixMilli())
	h := protocol.Header{Version: protocol.Version, Suite: e2ee.SuiteV2, Kind: protocol.KindMsg, RID: k.RID, Sender: 9, Epoch: 1, Seq: 1}
	var mk [32]byte
	msg, _ := e2ee.Seal(h, mk[:], id.Ed, []byte(`{"id":"x","body":"hi"}`), nil)
	return map[string][]byte{
		"envelope":   envelopeMessage(2, msg),
		"hello":      envelopeMessage(1, hello),
		"alive":      notice{Kind: msgAlive, Session: 10, TimeMS: now, Hello: hello}.sign(k.RID, id.Ed),
		"bye":        notice{Kind: msgBye, Session: 9, TimeMS: now, Arg: uint32(protocol.LeftLoggedOut)}.sign(k.RID, id.Ed),
		"purge":      notice{Kind: msgPurge, Session: 9, TimeMS: now}.sign(k.RID, id.Ed),
		"keyreq":     notice{Kind: msgKeyReq, Session: 9, TimeMS: now, To: r.session, Arg: 1}.sign(k.RID, id.Ed),
		"who":        append([]byte{msgWho}, make([]byte, whoNonce)...),
		"empty":      {},
		"short-bye":  {msgBye, 0, 0, 0, 9},
		"kind-99":    {99, 1, 2, 3},
		"session-0":  notice{Kind: msgBye, TimeMS: now}.sign(k.RID, id.Ed),
		"alive-junk": notice{Kind: msgAlive, Session: 10, TimeMS: now, Hello: []byte("not a hello")}.sign(k.RID, id.Ed),
	}
}

// FuzzMessage: no topic message, whatever its bytes, panics the peer or
// gets past the checks to the client unless it is an envelope of this
// room, and the held messages stay within their bounds.
func FuzzMessage(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	r, _, _ := alone(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		r.validate(t.Context(), peer.ID("x"), toMessage(data))
		r.mu.Lock()
		out, _ := r.messageLocked(data, time.Now())
		r.mu.Unlock()
		for _, b := range out {
			fr, err := protocol.Decode(b)
			if err != nil {
				t.Fatalf("the peer made a frame its client cannot read: %v", err)
			}
			if e, ok := fr.(protocol.Envelope); ok && e.Header.RID != r.keys.RID {
				t.Fatal("an envelope of another room went to the client")
			}
		}
		if r.nheld > holdBytes {
			t.Fatalf("%d bytes held, more than %d", r.nheld, holdBytes)
		}
	})
}

// FuzzParseLink: a p2p link parses, with an error wrapping ErrBadLink, or
// to a link that prints back to one that parses the same.
func FuzzParseLink(f *testing.F) {
	l, _ := NewRoom(true, time.Hour, protocol.PolicyOwner, nil)
	l.Peers, _ = ParsePeers([]string{"/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWNxvWkHndXVkWJc5Vw67jqGCUC3L1JdhAz4nCByUWfYq3"})
	f.Add(l.String())
	f.Add("veil:p2p#1.x.y")
	f.Add("veil:p2p?peer=/ip4/1.2.3.4#1")
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseLink(s)
		if err != nil {
			if !errors.Is(err, e2ee.ErrBadLink) {
				t.Fatalf("ParseLink(%q) = %v, not ErrBadLink", s, err)
			}
			return
		}
		again, err := ParseLink(l.String())
		if err != nil || again.String() != l.String() || again.Topic() != l.Topic() {
			t.Fatalf("%q printed as %q, which parses to %v, %v", s, l.String(), again, err)
		}
	})
}

func toMessage(data []byte) *pubsub.Message { return &pubsub.Message{Message: &pb.Message{Data: data}} }

func TestWriteFuzzCorpus(t *testing.T) {
	m := map[string][]any{}
	for k, v := range seeds(t) {
		m[k] = []any{v}
	}
	// The signed seeds change with every run; only their names are
	// checked, and -update-corpus writes a fresh set.
	fuzzseed.Corpus(t, "FuzzMessage", m)
	l, _ := NewRoom(false, time.Hour, protocol.PolicyAnyone, nil)
	fuzzseed.Corpus(t, "FuzzParseLink", map[string][]any{
		"link":      {l.String()},
		"with-peer": {strings.Replace(l.String(), "#", "?peer=/ip4/127.0.0.1/tcp/1/p2p/12D3KooWNxvWkHndXVkWJc5Vw67jqGCUC3L1JdhAz4nCByUWfYq3#", 1)},
		"no-params": {"veil:p2p#1.AAAA"},
	})
}
