package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"syscall"
	"time"

	"veil/internal/bench"
)

// benchFlags is what `veil bench` is told.
type benchFlags struct {
	servers     []string
	scenarios   string
	clients     int
	rooms       int
	senders     int
	rate        float64
	window      int
	size        int
	duration    time.Duration
	maxConns    int
	pids        []int
	json        bool
	sourceAddrs int
	connectRate float64
	open        bool

	set map[string]bool // flags given on the command line
}

const benchUsage = `Usage: veil bench [flags]

Loads a veil server (or anything that answers JOIN with WELCOME and relays
envelopes) with clients that speak the real protocol: rooms created through
POST /api/rooms, JOIN with the join value, a sealed hello, then sealed and
signed group envelopes. Receivers time each envelope by its clear header;
--open makes them verify and decrypt it too. It prints a table, or with
--json one JSON object per scenario. Every refusal, close and drop the
server makes is counted under errors.

Scenarios (--scenario NAME[,NAME...], or "all" for all but scale and cluster):
  big-room     1 room, 200 members, 10 senders, 1,000 msg/s offered in all, 10 s
  many-rooms   2,000 members in 200 rooms, each sends 1 msg/s, 10 s
  max-fanout   1 room, 100 members, 10 closed-loop senders with 8 in flight each, 10 s
  idle         5,000 members in 500 rooms hold for 10 s (RSS per connection)
  scale        idle members, 100 a room, up to --max-conns (time to connect, RSS)
  join-storm   50 joiners over 5 rooms join, get WELCOME and leave, for 10 s (joins/s)
  cluster      1 room of 90 members (9 senders, 100 msg/s each) spread over the
               --server URLs (at least two nodes of one cluster), 10 s
Or describe one with --clients, --rooms, --senders, --rate or --window, --size
and --duration; those flags also change a named scenario (marked * in the table).

A veil server's default limits refuse most scenarios (sockets per address,
members per room, joins per room per minute, messages per second): see
docs/bench.md for the 'veil serve' flags that lift them.

Flags:
`

func parseBench(args []string, stderr io.Writer) (benchFlags, error) {
	var f benchFlags
	fs := flag.NewFlagSet("veil bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Func("server", "`URL` of the server, http://HOST:PORT (repeatable or comma-separated: members go round-robin over them; default http://127.0.0.1:8080)", func(v string) error {
		for s := range strings.SplitSeq(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				f.servers = append(f.servers, s)
			}
		}
		return nil
	})
	fs.StringVar(&f.scenarios, "scenario", "", "`NAME`s of scenarios to run, comma-separated, or all")
	fs.IntVar(&f.clients, "clients", 0, "`N` members in all (join-storm: joiners at once)")
	fs.IntVar(&f.rooms, "rooms", 0, "`N` rooms the members are dealt over, round-robin (default 1)")
	fs.IntVar(&f.senders, "senders", 0, "`N` members of each room that send")
	fs.Float64Var(&f.rate, "rate", 0, "messages per second each sender offers, on a fixed schedule (open loop)")
	fs.IntVar(&f.window, "window", 0, "messages each sender keeps in flight, each until the rest of its room has it (closed loop)")
	fs.IntVar(&f.size, "size", 0, fmt.Sprintf("`BYTES` of plaintext per message (default %d; padded to 256, 1024, ... on the wire)", bench.DefaultSize))
	fs.DurationVar(&f.duration, "duration", 0, "how long to send, hold or join (default 10s)")
	fs.IntVar(&f.maxConns, "max-conns", 0, "scale: the most connections to open (default 100000)")
	fs.Func("pid", "`PID` of the local server process: its CPU time and RSS are read from /proc (repeatable or comma-separated: summed)", func(v string) error {
		for s := range strings.SplitSeq(v, ",") {
			pid, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || pid <= 0 {
				return fmt.Errorf("%q is not a process id", s)
			}
			f.pids = append(f.pids, pid)
		}
		return nil
	})
	fs.BoolVar(&f.json, "json", false, "print one JSON object per scenario instead of the table")
	fs.IntVar(&f.sourceAddrs, "source-addrs", 1, "spread connections over the source addresses 127.0.0.1 to 127.0.0.`N` (each holds about 28,000 to one server port; loopback servers only)")
	fs.Float64Var(&f.connectRate, "connect-rate", 0, "connections opened per second at most (0: as fast as possible)")
	fs.BoolVar(&f.open, "open", false, "receivers verify and decrypt every envelope (shows the clients' crypto cost)")
	fs.Usage = func() {
		fmt.Fprint(stderr, benchUsage)
		fs.PrintDefaults()
		fmt.Fprint(stderr, "\nExit codes: 0 done (errors counted in the report), 1 the server is unreachable\nor no client could join, 2 bad flags.\n")
	}
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if fs.NArg() > 0 {
		return f, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	f.set = map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	if len(f.servers) == 0 {
		f.servers = []string{"http://127.0.0.1:8080"}
	}
	return f, nil
}

// configs turns the flags into one config per scenario to run.
func (f benchFlags) configs(stderr io.Writer) ([]bench.Config, error) {
	var names []string
	switch strings.TrimSpace(f.scenarios) {
	case "":
	case "all":
		names = bench.All
	default:
		for n := range strings.SplitSeq(f.scenarios, ",") {
			if n = strings.TrimSpace(n); n != "" {
				names = append(names, n)
			}
		}
	}
	var out []bench.Config
	if len(names) == 0 {
		if !f.set["clients"] {
			return nil, fmt.Errorf("name a --scenario (%s) or describe one with --clients", strings.Join(bench.Names(), ", "))
		}
		if f.set["max-conns"] {
			return nil, errors.New("--max-conns applies to the scale scenario only")
		}
		c := bench.Config{Name: "custom", Kind: bench.Idle, Rooms: 1, Size: bench.DefaultSize, Duration: 10 * time.Second}
		if f.senders > 0 {
			c.Kind = bench.Traffic
		}
		out = append(out, f.apply(c))
	}
	for _, n := range names {
		c, ok := bench.Scenario(n)
		if !ok {
			return nil, fmt.Errorf("unknown scenario %q; known: %s, all", n, strings.Join(bench.Names(), ", "))
		}
		if f.set["max-conns"] && c.Kind != bench.Scale {
			return nil, errors.New("--max-conns applies to the scale scenario only")
		}
		if c.Kind == bench.Scale && f.set["clients"] {
			return nil, errors.New("scale takes --max-conns, not --clients")
		}
		c = f.apply(c)
		if c.Name == "cluster" && len(c.Servers) < 2 {
			return nil, errors.New("the cluster scenario needs the URLs of at least two nodes of one cluster (--server URL,URL,URL)")
		}
		out = append(out, c)
	}
	for i := range out {
		if err := out[i].Validate(); err != nil {
			return nil, fmt.Errorf("%s: %w", out[i].Name, err)
		}
		if k := out[i].Kind; k == bench.Idle || k == bench.Scale {
			warnFiles(stderr, out[i].Clients)
		}
	}
	return out, nil
}

// apply sets the flags given on the command line over scenario c, and notes
// which changed a named one.
func (f benchFlags) apply(c bench.Config) bench.Config {
	named := c.Name != "custom"
	note := func(name string, v any) {
		if named {
			c.Modified = append(c.Modified, fmt.Sprintf("--%s %v", name, v))
		}
	}
	if f.set["clients"] {
		c.Clients = f.clients
		note("clients", f.clients)
	}
	if f.set["max-conns"] {
		c.Clients = f.maxConns
		note("max-conns", f.maxConns)
	}
	if c.Kind == bench.Scale && !f.set["rooms"] {
		c.Rooms = (c.Clients + bench.ScaleRoomSize - 1) / bench.ScaleRoomSize
	}
	if f.set["rooms"] {
		c.Rooms = f.rooms
		note("rooms", f.rooms)
	}
	if f.set["senders"] {
		c.Senders = f.senders
		note("senders", f.senders)
	}
	if f.set["rate"] {
		c.Rate, c.Window = f.rate, 0
		note("rate", f.rate)
	}
	if f.set["window"] {
		c.Window, c.Rate = f.window, 0
		note("window", f.window)
	}
	if f.set["size"] {
		c.Size = f.size
		note("size", f.size)
	}
	if f.set["duration"] {
		c.Duration = f.duration
		note("duration", f.duration)
	}
	if f.set["rate"] && f.set["window"] {
		c.Rate = f.rate // both given: Validate refuses it
	}
	c.Servers, c.PIDs, c.SourceAddrs, c.ConnectRate, c.Open = f.servers, f.pids, f.sourceAddrs, f.connectRate, f.open
	return c
}

// warnFiles says when this process cannot open n sockets.
func warnFiles(stderr io.Writer, n int) {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil && uint64(n)+64 > lim.Cur {
		fmt.Fprintf(stderr, "veil bench: this process may open %d files (ulimit -n), so fewer than %d connections\n", lim.Cur, n)
	}
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f, err := parseBench(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "veil bench: %v\n", err)
		return exitUsage
	}
	cfgs, err := f.configs(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "veil bench: %v\n", err)
		return exitUsage
	}
	for _, pid := range f.pids {
		if err := bench.CheckPID(pid); err != nil {
			fmt.Fprintf(stderr, "veil bench: --pid: %v\n", err)
			return exitUsage
		}
	}
	var results []*bench.Result
	code := exitOK
	enc := json.NewEncoder(stdout)
	for _, c := range cfgs {
		c.Progress = stderr
		res, err := bench.Run(ctx, c)
		if res != nil {
			results = append(results, res)
			if f.json {
				enc.Encode(res)
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				fmt.Fprintf(stderr, "veil bench: %s: interrupted\n", c.Name)
				code = exitFailure
				break
			}
			fmt.Fprintf(stderr, "veil bench: %s: %v\n", c.Name, err)
			code = exitFailure
			if res == nil {
				break
			}
		}
	}
	if !f.json && len(results) > 0 {
		bench.WriteTable(stdout, results)
	}
	return code
}
