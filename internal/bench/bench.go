// Package bench is veil's load generator (`veil bench`): it creates rooms
// through the HTTP API, joins them with real JOIN frames and join values,
// announces each member with a sealed hello, and sends sealed, signed group
// envelopes at an offered rate (open loop) or with a fixed number in flight
// (closed loop). Receivers match each envelope to its send time by the clear
// header (sender session, seq) and, only when asked, open and verify it.
// It reports deliveries per second, the share delivered, latency
// percentiles, and the CPU and memory of a local server read from /proc.
//
// It is a client: it never imports the relay, and it hides nothing the
// server refuses or drops; every refusal, close and drop is counted as an
// error in the report. It speaks plain ws:// only, so it runs on the
// server's machine or next to it.
package bench

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"

	"veil/internal/e2ee"
)

// Kind is what a scenario measures.
type Kind string

// Kinds of scenario.
const (
	Traffic   Kind = "traffic"    // members send and receive envelopes
	Idle      Kind = "idle"       // members join, announce themselves and hold
	Scale     Kind = "scale"      // as many idle members as the server and machine take
	JoinStorm Kind = "join-storm" // clients join, get WELCOME and leave, as fast as they can
)

// Config is one scenario run.
type Config struct {
	Name string // for the report
	Kind Kind
	// Servers are http://HOST:PORT base URLs. Room r is created on
	// Servers[r % len]; member i joins through Servers[i % len].
	Servers []string

	// Clients is the number of members (Scale: the most connections;
	// JoinStorm: joiners working at once). They are spread round-robin over
	// Rooms; the first Senders members of each room send.
	Clients, Rooms, Senders int
	// Rate is the offered messages per second of each sender (open loop);
	// Window the messages each sender keeps in flight, each until every
	// other member of its room has it (closed loop). One of them is set
	// when Senders > 0.
	Rate   float64
	Window int
	// Size is the plaintext bytes of each message (padded to a bucket).
	Size int
	// Duration is how long senders send, members idle, or joiners join.
	Duration time.Duration

	// PIDs are local server processes whose CPU and memory to read (summed).
	PIDs []int
	// SourceAddrs spreads connections over 127.0.0.1 to 127.0.0.N as their
	// source addresses (each holds about 28,000 connections to one port).
	SourceAddrs int
	// ConnectRate paces connection set-up, in connections per second (0:
	// as fast as the generator goes).
	ConnectRate float64
	// Open makes receivers verify and decrypt every envelope.
	Open bool

	// Modified names the flags that changed a named scenario.
	Modified []string
	// Progress receives a line per phase; nil for none.
	Progress io.Writer
}

// DefaultSize is the plaintext size of a message when none is given: a
// short chat line (every size up to 252 bytes pads to the same 256 bytes).
const DefaultSize = 100

// Scenarios are the named scenarios of issue 8, with the same parameters
// every time so that figures compare.
var Scenarios = []Config{
	{Name: "big-room", Kind: Traffic, Clients: 200, Rooms: 1, Senders: 10, Rate: 100, Size: DefaultSize, Duration: 10 * time.Second},
	{Name: "many-rooms", Kind: Traffic, Clients: 2000, Rooms: 200, Senders: 10, Rate: 1, Size: DefaultSize, Duration: 10 * time.Second},
	{Name: "max-fanout", Kind: Traffic, Clients: 100, Rooms: 1, Senders: 10, Window: 8, Size: DefaultSize, Duration: 10 * time.Second},
	{Name: "idle", Kind: Idle, Clients: 5000, Rooms: 500, Duration: 10 * time.Second},
	{Name: "scale", Kind: Scale, Clients: 100_000, Rooms: 1000, Duration: 10 * time.Second},
	{Name: "join-storm", Kind: JoinStorm, Clients: 50, Rooms: 5, Duration: 10 * time.Second},
	{Name: "cluster", Kind: Traffic, Clients: 90, Rooms: 1, Senders: 9, Rate: 100, Size: DefaultSize, Duration: 10 * time.Second},
}

// All names the scenarios "all" runs: those that need no more than one
// server and no raised limits beyond those docs/bench.md gives.
var All = []string{"big-room", "many-rooms", "max-fanout", "idle", "join-storm"}

// ScaleRoomSize is the number of members per room in the scale scenario.
const ScaleRoomSize = 100

// Scenario returns the named scenario.
func Scenario(name string) (Config, bool) {
	for _, s := range Scenarios {
		if s.Name == name {
			return s, true
		}
	}
	return Config{}, false
}

// Names lists the named scenarios.
func Names() []string {
	var out []string
	for _, s := range Scenarios {
		out = append(out, s.Name)
	}
	return out
}

// ParseServer checks a server base URL and returns its host:port.
func ParseServer(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("server %q: not a URL such as http://127.0.0.1:8080", s)
	}
	if u.Scheme != "http" {
		return "", fmt.Errorf("server %q: only http:// (the generator speaks plain ws://; run it beside the server)", s)
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("server %q: give only scheme, host and port", s)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "80")
	}
	return host, nil
}

// Validate checks c and reports the first problem.
func (c Config) Validate() error {
	if len(c.Servers) == 0 {
		return errors.New("no server")
	}
	loopback := true
	for _, s := range c.Servers {
		hp, err := ParseServer(s)
		if err != nil {
			return err
		}
		h, _, _ := net.SplitHostPort(hp)
		ip := net.ParseIP(h)
		loopback = loopback && (h == "localhost" || ip != nil && ip.IsLoopback())
	}
	switch {
	case c.Kind != Traffic && c.Kind != Idle && c.Kind != Scale && c.Kind != JoinStorm:
		return fmt.Errorf("unknown kind %q", c.Kind)
	case c.Clients < 1:
		return errors.New("--clients must be at least 1")
	case c.Rooms < 1 || c.Rooms > c.Clients:
		return errors.New("--rooms must be between 1 and --clients")
	case c.Duration <= 0 || c.Duration > time.Hour:
		return errors.New("--duration must be above 0 and at most 1h")
	case c.SourceAddrs < 0 || c.SourceAddrs > 254:
		return errors.New("--source-addrs must be between 1 and 254")
	case c.SourceAddrs > 1 && !loopback:
		return errors.New("--source-addrs needs loopback servers (127.0.0.1 or localhost)")
	case c.ConnectRate < 0:
		return errors.New("--connect-rate must not be negative")
	case c.Size < 0 || c.Size > e2ee.MaxData:
		return fmt.Errorf("--size must be between 0 and %d", e2ee.MaxData)
	}
	for _, pid := range c.PIDs {
		if pid <= 0 {
			return fmt.Errorf("--pid %d: not a process id", pid)
		}
	}
	if c.Kind != Traffic {
		if c.Senders != 0 || c.Rate != 0 || c.Window != 0 {
			return fmt.Errorf("--senders, --rate and --window do not apply to %s", c.Kind)
		}
		if c.Open {
			return fmt.Errorf("--open does not apply to %s", c.Kind)
		}
		return nil
	}
	perRoom := c.Clients / c.Rooms // the smallest room
	switch {
	case c.Senders < 1 || c.Senders > perRoom:
		return fmt.Errorf("--senders must be between 1 and the members of the smallest room (%d)", perRoom)
	case perRoom < 2:
		return errors.New("a room needs at least 2 members for envelopes to go anywhere")
	case (c.Rate > 0) == (c.Window > 0):
		return errors.New("give one of --rate (open loop) and --window (closed loop)")
	case c.Rate < 0 || c.Rate > 100_000:
		return errors.New("--rate must be between 0 and 100000 messages per second per sender")
	case c.Window < 0 || c.Window > 1024:
		return errors.New("--window must be between 1 and 1024")
	}
	return nil
}

// membersOf returns the number of members room r of n rooms gets when
// clients are dealt round-robin.
func membersOf(clients, rooms, r int) int {
	n := clients / rooms
	if r < clients%rooms {
		n++
	}
	return n
}

// describe is the scenario's shape in words, for progress lines.
func (c Config) describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d clients in %d rooms", c.Clients, c.Rooms)
	if c.Kind == Traffic {
		fmt.Fprintf(&b, ", %d senders per room", c.Senders)
		if c.Rate > 0 {
			fmt.Fprintf(&b, " at %g msg/s", c.Rate)
		} else {
			fmt.Fprintf(&b, " with %d in flight", c.Window)
		}
		fmt.Fprintf(&b, ", %d-byte messages", c.Size)
	}
	fmt.Fprintf(&b, ", %v", c.Duration)
	return b.String()
}
