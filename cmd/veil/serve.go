package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"veil/internal/cluster"
	"veil/internal/limit"
	"veil/internal/pow"
	"veil/internal/protocol"
	"veil/internal/relay"
	"veil/internal/room"
	"veil/internal/web"
)

// serveConfig is everything `veil serve` is told by its flags.
type serveConfig struct {
	addr       string
	maxTTL     time.Duration
	maxMembers int
	maxRooms   int
	maxFile    int64
	roomRate   int
	msgRate    float64
	msgBurst   int
	byteRate   float64
	byteBurst  int
	maxConns   int
	perAddr    int
	joinRate   float64
	createRate float64
	idle       time.Duration
	pow        int
	trusted    []netip.Prefix
	tlsCert    string
	tlsKey     string
	verbose    bool
	pprof      string // loopback HOST:PORT of the profiler, or ""

	// cluster mode, when nats.URLs is set
	nats         cluster.ConnectOptions
	natsReplicas int
}

// natsPasswordEnv holds the password for --nats-user: a flag's value would
// show in the process list.
const natsPasswordEnv = "VEIL_NATS_PASSWORD"

func parseServe(args []string, stderr io.Writer) (serveConfig, error) {
	var c serveConfig
	fs := flag.NewFlagSet("veil serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "`HOST:PORT` to listen on; port 0 picks a free port")
	fs.DurationVar(&c.maxTTL, "max-ttl", room.DefaultLimits.MaxTTL, "longest room lifetime a creator may ask for (at least 10s); longer asks are lowered to it")
	fs.IntVar(&c.maxMembers, "max-members", room.DefaultLimits.MaxMembers, "most sessions in one room, at most 1000; more joins are refused with 4005 \"room full\"")
	fs.IntVar(&c.maxRooms, "max-rooms", room.DefaultLimits.MaxRooms, "most rooms this process holds; more creations get 503")
	fs.Int64Var(&c.maxFile, "max-file", room.DefaultLimits.MaxFile, "largest file, in `BYTES`, one transfer may carry through the relay")
	fs.IntVar(&c.roomRate, "room-rate", room.DefaultLimits.RoomRate, "file `BYTES` per second one room may send; a faster sender is slowed, nobody else")
	fs.Float64Var(&c.msgRate, "msg-rate", relay.DefaultOptions.MsgRate, "messages per second one session may send on average; beyond the burst they are dropped (the sender is told), and a session that keeps flooding is closed with 4029")
	fs.IntVar(&c.msgBurst, "msg-burst", relay.DefaultOptions.MsgBurst, "messages one session may send at once before --msg-rate applies")
	fs.Float64Var(&c.byteRate, "byte-rate", relay.DefaultOptions.BytesRate, "message `BYTES` per second one session may send on average (files are paced per room instead, see --room-rate)")
	fs.IntVar(&c.byteBurst, "byte-burst", relay.DefaultOptions.BytesBurst, "message `BYTES` one session may send at once before --byte-rate applies; at least one frame (65669)")
	fs.IntVar(&c.maxConns, "max-conns", relay.DefaultOptions.MaxConns, "most open WebSockets; more are refused with 503 and a reason")
	fs.IntVar(&c.perAddr, "conns-per-addr", relay.DefaultOptions.ConnsPerAddr, "most open WebSockets from one client address (kept only as a keyed hash in memory); more get 429. Behind Tor everyone shares one address: raise it")
	fs.Float64Var(&c.joinRate, "join-rate", room.DefaultLimits.JoinRate, "joins one room admits per minute, after a burst of as many; more are refused with 4029 (against raids; per room, so it holds behind Tor too)")
	fs.Float64Var(&c.createRate, "create-rate", 10, "rooms one client address may create per minute, after a burst of twice as many; more get 429. Behind Tor everyone shares one address: raise it")
	fs.DurationVar(&c.idle, "idle", relay.DefaultOptions.Idle, "close a session whose client sent nothing (no message, key press or click) for this long, with 4015; 0 never")
	fs.IntVar(&c.pow, "pow", 0, "ask a proof of work of `BITS` (1 to 28; about 2^BITS hashes, 16 takes a browser under a second; each bit more doubles it) for every room creation and join; 0 asks none. For servers flooded from addresses they cannot tell apart, such as Tor's")
	fs.Func("trusted-proxy", "`CIDR` of a reverse proxy whose X-Forwarded-For names the client (repeatable); from others the header is ignored", func(v string) error {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return err
		}
		c.trusted = append(c.trusted, p)
		return nil
	})
	fs.StringVar(&c.tlsCert, "tls-cert", "", "PEM certificate `FILE`; with --tls-key, serve HTTPS and WSS")
	fs.StringVar(&c.tlsKey, "tls-key", "", "PEM private key `FILE` for --tls-cert")
	fs.StringVar(&c.nats.URLs, "nats", "", "run as one node of a cluster, sharing rooms with the other nodes through the NATS servers (with JetStream) at `URL[,URL...]`; no credentials in the URL (see docs/cluster.md)")
	fs.StringVar(&c.nats.CredsFile, "nats-creds", "", "NATS credentials `FILE` (user JWT and nkey seed)")
	fs.StringVar(&c.nats.NKeyFile, "nats-nkey", "", "NATS nkey seed `FILE`")
	fs.StringVar(&c.nats.User, "nats-user", "", "NATS `USER`; the password is read from $"+natsPasswordEnv+", never from a flag")
	fs.StringVar(&c.nats.TLSCA, "nats-tls-ca", "", "PEM `FILE` of the CA that signed the NATS servers' certificates; turns on TLS to NATS")
	fs.StringVar(&c.nats.TLSCert, "nats-tls-cert", "", "PEM client certificate `FILE` for NATS; with --nats-tls-key")
	fs.StringVar(&c.nats.TLSKey, "nats-tls-key", "", "PEM private key `FILE` for --nats-tls-cert")
	fs.IntVar(&c.natsReplicas, "nats-replicas", 3, "`N` copies of the rooms bucket in JetStream, 1 to 5; at most the number of JetStream servers in the NATS cluster (1 for a single server), or no node starts")
	fs.StringVar(&c.pprof, "pprof", "", "for profiling: serve Go's profiler (/debug/pprof/) on a second listener at `HOST:PORT`, loopback only; it exposes the process's internals (memory, goroutines, command line). Off by default")
	fs.BoolVar(&c.verbose, "v", false, "log debug lines (never addresses, aliases or room ids)")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: veil serve [flags]

Runs a veil relay and its embedded web client. All state is in memory: rooms,
members and messages vanish when a room ends or the process stops, and the
server writes no file. It relays end-to-end-encrypted envelopes it cannot read.
Ctrl-C shuts down cleanly: members are told the server is going away.

With --nats, the relay is one node of a cluster: rooms live in a JetStream
bucket in the NATS servers' memory (nats-server still writes its own raft
metadata, never a room id, to its store_dir), and members on any node share
them. A node that stops tells its members to resume through another node.
See docs/cluster.md.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if c.maxTTL < room.MinTTL {
		return c, fmt.Errorf("--max-ttl %v is below the 10s minimum", c.maxTTL)
	}
	if c.maxMembers < 2 || c.maxMembers > protocol.MaxMembers || c.maxRooms < 1 {
		return c, fmt.Errorf("--max-members must be from 2 to %d and --max-rooms at least 1", protocol.MaxMembers)
	}
	if c.maxConns < 1 || c.perAddr < 1 {
		return c, errors.New("--max-conns and --conns-per-addr must be at least 1")
	}
	if c.joinRate < 1 || c.createRate <= 0 {
		return c, errors.New("--join-rate must be at least 1 and --create-rate positive")
	}
	if c.idle < 0 || c.idle > 0 && c.idle < time.Minute {
		return c, errors.New("--idle must be 0 (never) or at least 1m")
	}
	if c.pow < 0 || c.pow > pow.MaxBits {
		return c, fmt.Errorf("--pow must be between 0 and %d", pow.MaxBits)
	}
	if c.byteRate <= 0 || c.byteBurst < protocol.MaxFrame {
		return c, fmt.Errorf("--byte-rate must be positive and --byte-burst at least %d", protocol.MaxFrame)
	}
	if c.msgRate <= 0 || c.msgBurst < 1 {
		return c, errors.New("--msg-rate must be positive and --msg-burst at least 1")
	}
	if c.maxFile < 1 || c.roomRate < 64<<10 {
		return c, errors.New("--max-file must be positive and --room-rate at least 65536")
	}
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return c, errors.New("--tls-cert and --tls-key go together")
	}
	if err := checkNATS(fs, &c); err != nil {
		return c, err
	}
	if c.pprof != "" {
		host, _, err := net.SplitHostPort(c.pprof)
		if ip, perr := netip.ParseAddr(host); err != nil || perr != nil || !ip.IsLoopback() {
			return c, fmt.Errorf("--pprof %q: the profiler exposes the process's internals, so it listens on a loopback address only, such as 127.0.0.1:6060", c.pprof)
		}
	}
	return c, nil
}

// checkNATS checks the cluster flags and reads the NATS password from the
// environment.
func checkNATS(fs *flag.FlagSet, c *serveConfig) error {
	if c.nats.URLs == "" {
		var stray string
		fs.Visit(func(f *flag.Flag) {
			if stray == "" && strings.HasPrefix(f.Name, "nats-") {
				stray = f.Name
			}
		})
		if stray != "" {
			return fmt.Errorf("--%s needs --nats", stray)
		}
		return nil
	}
	for u := range strings.SplitSeq(c.nats.URLs, ",") {
		if err := checkNATSURL(strings.TrimSpace(u)); err != nil {
			return err
		}
	}
	if c.natsReplicas < 1 || c.natsReplicas > 5 {
		return errors.New("--nats-replicas must be between 1 and 5")
	}
	ways := 0
	for _, v := range []string{c.nats.CredsFile, c.nats.NKeyFile, c.nats.User} {
		if v != "" {
			ways++
		}
	}
	if ways > 1 {
		return errors.New("use only one of --nats-creds, --nats-nkey and --nats-user")
	}
	if c.nats.User != "" {
		c.nats.Password = os.Getenv(natsPasswordEnv)
		if c.nats.Password == "" {
			return fmt.Errorf("--nats-user needs its password in $%s", natsPasswordEnv)
		}
	}
	if (c.nats.TLSCert == "") != (c.nats.TLSKey == "") {
		return errors.New("--nats-tls-cert and --nats-tls-key go together")
	}
	return nil
}

// checkNATSURL refuses a NATS URL that nats.go could not use, or that
// carries a user, password or token: anyone on the machine can read a
// process's arguments. It never repeats the URL, which may hold a secret.
func checkNATSURL(raw string) error {
	if raw == "" {
		return errors.New("--nats has an empty URL")
	}
	if !strings.Contains(raw, "://") {
		raw = "nats://" + raw // nats.go's default scheme
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return errors.New("--nats: not a URL such as nats://HOST:4222")
	}
	if u.User != nil {
		return fmt.Errorf("--nats URLs must carry no user, password or token (the process list shows them): use --nats-creds, --nats-nkey, or --nats-user with $%s", natsPasswordEnv)
	}
	switch u.Scheme {
	case "nats", "tls", "ws", "wss":
		return nil
	}
	return fmt.Errorf("--nats: scheme %q is not nats, tls, ws or wss", u.Scheme)
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseServe(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "veil serve: %v\n", err)
		return 2
	}
	level := slog.LevelInfo
	if cfg.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if cfg.pprof != "" {
		stop, err := servePprof(cfg.pprof, stdout)
		if err != nil {
			fmt.Fprintf(stderr, "veil serve: --pprof: %v\n", err)
			return 1
		}
		defer stop()
	}

	var shared room.Shared // nil: a node on its own
	if cfg.nats.URLs != "" {
		node, nc, err := joinCluster(ctx, cfg, logger)
		if err != nil {
			fmt.Fprintf(stderr, "veil serve: %v\n", err)
			return 1
		}
		defer leaveCluster(node, nc, logger)
		shared = node
	}
	rooms := room.NewClusterRegistry(room.Limits{MaxRooms: cfg.maxRooms, MaxMembers: cfg.maxMembers, MaxTTL: cfg.maxTTL,
		MaxFile: cfg.maxFile, RoomRate: cfg.roomRate, JoinRate: cfg.joinRate, JoinBurst: max(int(cfg.joinRate), 1)}, shared)
	if err := rooms.Err(); err != nil {
		fmt.Fprintf(stderr, "veil serve: follow the rooms bucket: %v\n", err)
		return 1
	}
	if shared != nil {
		fmt.Fprintf(stdout, "veil: cluster node on NATS (%d %s of the rooms bucket)\n", cfg.natsReplicas, plural(cfg.natsReplicas, "copy", "copies"))
	}
	opts := relay.DefaultOptions
	opts.MsgRate, opts.MsgBurst = cfg.msgRate, cfg.msgBurst
	opts.BytesRate, opts.BytesBurst = cfg.byteRate, cfg.byteBurst
	opts.MaxConns, opts.ConnsPerAddr, opts.TrustedProxies = cfg.maxConns, cfg.perAddr, cfg.trusted
	opts.Idle = cfg.idle
	gate := pow.New(cfg.pow)
	opts.PoW = gate
	if cfg.idle == 0 {
		opts.Idle = -1
	}
	rel := relay.NewServer(rooms, logger, opts)
	creates := limit.NewRates(cfg.createRate, max(int(2*cfg.createRate), 1), 100_000)
	srv := &http.Server{
		Handler:           web.Handler(web.Config{Rooms: rooms, Relay: rel, TLS: cfg.tlsCert != "", CreateRate: creates, Keyer: rel.Keyer(), PoW: gate}),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          log.New(scrubber{logger}, "", 0),
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		fmt.Fprintf(stderr, "veil serve: %v\n", err)
		if shared != nil {
			rel.Shutdown(ctx) // stops following the bucket; no socket is open yet
		}
		return 1
	}
	scheme := "http"
	if cfg.tlsCert != "" {
		scheme = "https"
	}
	fmt.Fprintf(stdout, "veil: serving on %s://%s/\n", scheme, ln.Addr())

	errc := make(chan error, 1)
	go func() {
		if cfg.tlsCert != "" {
			errc <- srv.ServeTLS(ln, cfg.tlsCert, cfg.tlsKey)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		fmt.Fprintf(stderr, "veil serve: %v\n", err)
		return 1
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code := 0
	// Stop taking connections first: a client that reconnects meanwhile
	// (a cluster member resuming) goes to another node at once. Sockets
	// are not the HTTP server's to wait for; the relay closes them next.
	if err := srv.Shutdown(sctx); err != nil {
		logger.Warn("shutdown", "err", err)
		code = 1
	}
	if err := rel.Shutdown(sctx); err != nil {
		logger.Warn("shutdown", "err", err)
		code = 1
	}
	<-errc
	fmt.Fprintln(stdout, "veil: stopped")
	return code
}

// Bounds of joining a cluster at start-up: JetStream may need a raft
// election or two before it answers, or places a replicated bucket.
const (
	jetStreamWait = 30 * time.Second
	bucketWait    = 60 * time.Second
)

// joinCluster connects to NATS, checks it has JetStream, and opens this
// node's share of the cluster. The caller passes both to leaveCluster.
func joinCluster(ctx context.Context, cfg serveConfig, logger *slog.Logger) (*cluster.Node, *nats.Conn, error) {
	o := cfg.nats
	o.Logger = logger
	nc, err := cluster.Connect(o)
	if err != nil {
		return nil, nil, err
	}
	jctx, cancel := context.WithTimeout(ctx, jetStreamWait)
	err = cluster.CheckJetStream(jctx, nc)
	cancel()
	if errors.Is(err, cluster.ErrNoJetStream) {
		nc.Close()
		return nil, nil, fmt.Errorf("%w (run nats-server with -js, or a jetstream block in its config)", err)
	}
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	if cfg.natsReplicas > 1 && nc.ConnectedClusterName() == "" {
		// JetStream would refuse the bucket until bucketWait ran out.
		nc.Close()
		return nil, nil, fmt.Errorf("--nats-replicas %d needs a NATS cluster, and this server runs on its own: use --nats-replicas 1", cfg.natsReplicas)
	}
	nctx, cancel := context.WithTimeout(ctx, bucketWait)
	defer cancel()
	node, err := cluster.NewNode(nctx, nc, cfg.natsReplicas, nil)
	if err != nil {
		nc.Close()
		if cfg.natsReplicas > 1 {
			err = fmt.Errorf("%w (--nats-replicas %d needs at least %d JetStream servers in the NATS cluster)", err, cfg.natsReplicas, cfg.natsReplicas)
		}
		return nil, nil, err
	}
	return node, nc, nil
}

// leaveCluster stops the node's heartbeats, so the others soon count it
// gone, and drains its NATS connection, waiting a few seconds at most.
func leaveCluster(node *cluster.Node, nc *nats.Conn, logger *slog.Logger) {
	node.Bus.Close()
	closed := make(chan struct{})
	nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
	if err := nc.Drain(); err != nil {
		nc.Close() // it was reconnecting or already closed: nothing to drain
		return
	}
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		logger.Warn("nats drain did not finish")
		nc.Close()
	}
}

// servePprof serves net/http/pprof at addr, on its own listener and mux:
// the public handler never gets these pages. (Importing net/http/pprof
// also registers them on http.DefaultServeMux, which veil never serves.)
// stop closes the listener, cuts off any profile in progress, and waits.
func servePprof(addr string, stdout io.Writer) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "veil: pprof on http://%s/debug/pprof/\n", ln.Addr())
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	return func() {
		srv.Close()
		<-done
	}, nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
