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
	"net/netip"
	"time"

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
}

func parseServe(args []string, stderr io.Writer) (serveConfig, error) {
	var c serveConfig
	fs := flag.NewFlagSet("veil serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "`HOST:PORT` to listen on; port 0 picks a free port")
	fs.DurationVar(&c.maxTTL, "max-ttl", room.DefaultLimits.MaxTTL, "longest room lifetime a creator may ask for (at least 10s); longer asks are lowered to it")
	fs.IntVar(&c.maxMembers, "max-members", room.DefaultLimits.MaxMembers, "most sessions in one room; more joins are refused with 4005 \"room full\"")
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
	fs.BoolVar(&c.verbose, "v", false, "log debug lines (never addresses, aliases or room ids)")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: veil serve [flags]

Runs a veil relay and its embedded web client. All state is in memory: rooms,
members and messages vanish when a room ends or the process stops, and the
server writes no file. It relays end-to-end-encrypted envelopes it cannot read.
Ctrl-C shuts down cleanly: members are told the server is going away.

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
	if c.maxMembers < 2 || c.maxRooms < 1 {
		return c, errors.New("--max-members must be at least 2 and --max-rooms at least 1")
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
	return c, nil
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

	rooms := room.NewRegistry(room.Limits{MaxRooms: cfg.maxRooms, MaxMembers: cfg.maxMembers, MaxTTL: cfg.maxTTL,
		MaxFile: cfg.maxFile, RoomRate: cfg.roomRate, JoinRate: cfg.joinRate, JoinBurst: max(int(cfg.joinRate), 1)})
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
	if err := rel.Shutdown(sctx); err != nil {
		logger.Warn("shutdown", "err", err)
		code = 1
	}
	if err := srv.Shutdown(sctx); err != nil {
		logger.Warn("shutdown", "err", err)
		code = 1
	}
	<-errc
	fmt.Fprintln(stdout, "veil: stopped")
	return code
}
