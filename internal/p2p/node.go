// Package p2p runs veil rooms with no server (`veil p2p`): each member's
// program is a go-libp2p host (TCP, Noise, Yamux) on a GossipSub topic
// named by a hash of the room secret, found on a LAN by mDNS and across
// networks through a Kademlia DHT with veil's own protocol prefix.
//
// A room's peer (Room) stands in for the relay: internal/client runs over
// it unchanged, so the end-to-end scheme is the one of server mode. See
// docs/p2p.md.
package p2p

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"sync"
	"time"

	golog "github.com/ipfs/go-log/v2"
	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/gologshim"
	"github.com/libp2p/go-libp2p/p2p/discovery/mdns"
	drouting "github.com/libp2p/go-libp2p/p2p/discovery/routing"
	dutil "github.com/libp2p/go-libp2p/p2p/discovery/util"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
)

// DHTPrefix keeps veil's DHT apart from any other (the IPFS one above all).
const DHTPrefix = "/veil"

// Config describes a host.
type Config struct {
	Listen    []string        // multiaddrs to listen on; none: /ip4/0.0.0.0/tcp/0
	Bootstrap []peer.AddrInfo // DHT peers to start from
	MDNS      bool            // look for peers on the LAN
	MDNSName  string          // the mDNS service to announce and look for; "" means "veil"
}

// Node is one member's host.
type Node struct {
	Host host.Host
	PS   *pubsub.PubSub
	DHT  *dht.IpfsDHT
	disc *drouting.RoutingDiscovery
	mdns mdns.Service
	stop context.CancelFunc // ends the topic router
}

// Quiet silences what go-libp2p, its DHT and pubsub, and zeroconf would
// log: their lines can carry peers' addresses, and would break into a
// terminal interface. It sets process-wide state (the standard logger
// too), so the command that runs a peer calls it.
func Quiet() {
	gologshim.SetDefaultHandler(slog.DiscardHandler)
	golog.SetAllLoggers(golog.LevelFatal)
	log.SetOutput(io.Discard)
}

// New starts a host with Noise and Yamux over TCP only, GossipSub without
// pubsub signatures (veil signs its own envelopes), and a DHT server.
func New(ctx context.Context, cfg Config) (*Node, error) {
	listen := cfg.Listen
	if len(listen) == 0 {
		listen = []string{"/ip4/0.0.0.0/tcp/0"}
	}
	h, err := libp2p.New(
		libp2p.ListenAddrStrings(listen...),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.DisableRelay(),
	)
	if err != nil {
		return nil, fmt.Errorf("p2p host: %w", err)
	}
	n := &Node{Host: h}
	n.DHT, err = dht.New(h, dht.Mode(dht.ModeServer), dht.ProtocolPrefix(DHTPrefix), dht.BootstrapPeers(cfg.Bootstrap...))
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("p2p dht: %w", err)
	}
	// The topic router lives as long as the node, not as the caller's ctx.
	var psctx context.Context
	psctx, n.stop = context.WithCancel(context.Background())
	n.PS, err = pubsub.NewGossipSub(psctx, h,
		pubsub.WithMaxMessageSize(MaxMessage+4096), pubsub.WithPeerOutboundQueueSize(256), pubsub.WithValidateQueueSize(1024),
		// (the size allows for the RPC around a message: its topic name and fields)
		// One validation worker: messages from a peer are checked and
		// passed on in the order they came.
		pubsub.WithValidateWorkers(1),
		// No author, sequence number or signature: veil's envelopes are
		// signed by their members, and a message carries no host id.
		pubsub.WithMessageSignaturePolicy(pubsub.StrictNoSign), pubsub.WithNoAuthor(),
		pubsub.WithMessageIdFn(func(m *pb.Message) string { s := sha256.Sum256(m.Data); return string(s[:]) }))
	if err != nil {
		n.Close()
		return nil, fmt.Errorf("p2p pubsub: %w", err)
	}
	// The bootstrap peers are tried together; one that cannot be reached
	// is no failure: another, mDNS or the DHT may still find the room.
	var wg sync.WaitGroup
	for _, b := range cfg.Bootstrap {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			h.Connect(cctx, b)
		})
	}
	wg.Wait()
	if err := n.DHT.Bootstrap(ctx); err != nil {
		n.Close()
		return nil, fmt.Errorf("p2p dht: %w", err)
	}
	n.disc = drouting.NewRoutingDiscovery(n.DHT)
	if cfg.MDNS {
		name := cfg.MDNSName
		if name == "" {
			name = "veil"
		}
		n.mdns = mdns.NewMdnsService(h, name, notifee{h})
		if err := n.mdns.Start(); err != nil {
			n.Close()
			return nil, fmt.Errorf("p2p mdns: %w", err)
		}
	}
	return n, nil
}

// Close stops the host.
func (n *Node) Close() error {
	var errs []error
	if n.stop != nil {
		n.stop()
	}
	if n.mdns != nil {
		errs = append(errs, n.mdns.Close())
	}
	if n.DHT != nil {
		errs = append(errs, n.DHT.Close())
	}
	errs = append(errs, n.Host.Close())
	return errors.Join(errs...)
}

// Advertise puts this host under ns on the DHT, again before the record
// expires, until ctx ends.
func (n *Node) Advertise(ctx context.Context, ns string) { dutil.Advertise(ctx, n.disc, ns) }

// Find connects to the peers advertised under ns.
func (n *Node) Find(ctx context.Context, ns string) error {
	peers, err := n.disc.FindPeers(ctx, ns)
	if err != nil {
		return err
	}
	for p := range peers {
		if p.ID == n.Host.ID() || len(p.Addrs) == 0 {
			continue
		}
		n.Host.Connect(ctx, p)
	}
	return nil
}

type notifee struct{ h host.Host }

func (f notifee) HandlePeerFound(p peer.AddrInfo) {
	if p.ID != f.h.ID() {
		f.h.Connect(context.Background(), p)
	}
}
