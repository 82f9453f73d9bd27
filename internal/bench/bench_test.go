package bench

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"veil/internal/pow"
	"veil/internal/room"
	"veil/internal/vtest"
)

// TestMain fails the run if a test leaves a goroutine behind.
func TestMain(m *testing.M) { vtest.Main(m) }

// unthrottled starts a real server whose limits do not get in a
// benchmark's way.
func unthrottled(t *testing.T, o vtest.Options) *vtest.Server {
	t.Helper()
	o.Relay = vtest.Unthrottled
	o.Limits = room.DefaultLimits
	o.Limits.JoinRate, o.Limits.JoinBurst = 1e6, 1e6
	return vtest.NewServer(t, o)
}

func runOK(t *testing.T, c Config) *Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	res, err := Run(ctx, c)
	if err != nil {
		t.Fatalf("Run(%s) = %v", c.Name, err)
	}
	return res
}

// Against an unthrottled server every envelope reaches every other member
// of its room, in both loops, and is timed.
func TestTrafficDeliversEverything(t *testing.T) {
	s := unthrottled(t, vtest.Options{})
	self := []int{os.Getpid()} // any process does for reading /proc
	for _, c := range []Config{
		{Name: "open", Kind: Traffic, Clients: 12, Rooms: 3, Senders: 2, Rate: 50, Size: 100, Duration: 500 * time.Millisecond},
		{Name: "closed", Kind: Traffic, Clients: 8, Rooms: 1, Senders: 2, Window: 4, Size: 1000, Duration: 500 * time.Millisecond},
		{Name: "open-verify", Kind: Traffic, Clients: 4, Rooms: 1, Senders: 1, Rate: 40, Size: 10, Duration: 300 * time.Millisecond, Open: true},
	} {
		t.Run(c.Name, func(t *testing.T) {
			c.Servers, c.PIDs = []string{s.URL}, self
			res := runOK(t, c)
			if res.Connected != c.Clients || res.Held != c.Clients {
				t.Errorf("connected %d, held %d, want %d", res.Connected, res.Held, c.Clients)
			}
			if res.Sent == 0 || res.Delivered == 0 || res.Delivered != res.Expected || res.DeliveredPct != 100 {
				t.Errorf("sent %d, delivered %d of %d (%.2f%%), want all", res.Sent, res.Delivered, res.Expected, res.DeliveredPct)
			}
			if per := int64(c.Clients/c.Rooms - 1); res.Expected != res.Sent*per {
				t.Errorf("expected %d deliveries for %d sent, want %d each", res.Expected, res.Sent, per)
			}
			if c.Rate > 0 && res.Offered != int64(float64(res.Senders)*c.Rate*c.Duration.Seconds()) {
				t.Errorf("offered %d, want rate × duration × %d senders", res.Offered, res.Senders)
			}
			if res.Errors != 0 {
				t.Errorf("errors %v", res.ErrorKinds)
			}
			if l := res.Latency; !(l.P50 > 0 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.Max) {
				t.Errorf("latency %+v, want 0 < p50 <= p90 <= p99 <= max", l)
			}
			if res.CPUSeconds == nil || res.RSSMiB == nil || *res.RSSMiB <= 0 {
				t.Errorf("server CPU %v, RSS %v: want figures with a pid", res.CPUSeconds, res.RSSMiB)
			}
		})
	}
}

// A server with the default limits drops what a sender sends over 10
// messages a second (30 at once): the report counts the relay's warning,
// the missing deliveries and the envelopes lost, and shows them.
func TestThrottledServerErrorsAreCounted(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	res := runOK(t, Config{Name: "throttled", Kind: Traffic, Servers: []string{s.URL}, Clients: 3, Rooms: 1, Senders: 1,
		Rate: 100, Size: 50, Duration: 500 * time.Millisecond})
	if res.DeliveredPct >= 100 || res.Errors == 0 {
		t.Fatalf("delivered %.2f%%, errors %d: want drops counted", res.DeliveredPct, res.Errors)
	}
	if res.ErrorKinds["relay ERROR 4029 slow down: you are sending too fast, and messages were dropped"] == 0 {
		t.Errorf("error kinds %v: want the relay's 4029 warning", res.ErrorKinds)
	}
	if missing := res.ErrorKinds["deliveries missing (not received by the end of the wait)"]; missing != res.Expected-res.Delivered {
		t.Errorf("missing deliveries counted %d, want %d", missing, res.Expected-res.Delivered)
	}
	var out bytes.Buffer
	WriteTable(&out, []*Result{res})
	if !strings.Contains(out.String(), "relay ERROR 4029") || !strings.Contains(out.String(), "deliveries missing") {
		t.Errorf("table does not show the errors:\n%s", out.String())
	}
}

// Members beyond a room's limit are refused, counted, and the rest run.
func TestRefusedJoinsAreCounted(t *testing.T) {
	o := vtest.Options{Relay: vtest.Unthrottled, Limits: room.DefaultLimits}
	o.Limits.MaxMembers = 3
	s := vtest.NewServer(t, o)
	res := runOK(t, Config{Name: "full", Kind: Idle, Servers: []string{s.URL}, Clients: 5, Rooms: 1, Duration: 100 * time.Millisecond})
	if res.Connected != 3 || res.ErrorKinds["join: closed 4005 room full"] != 2 {
		t.Fatalf("connected %d, errors %v: want 3 and two 4005", res.Connected, res.ErrorKinds)
	}
}

func TestIdleAndJoinStorm(t *testing.T) {
	s := unthrottled(t, vtest.Options{})
	pid := []int{os.Getpid()}
	res := runOK(t, Config{Name: "idle", Kind: Idle, Servers: []string{s.URL}, PIDs: pid, Clients: 30, Rooms: 3, Duration: 200 * time.Millisecond, SourceAddrs: 3})
	if res.Connected != 30 || res.Held != 30 || res.Errors != 0 || res.RSSPerConnKiB == nil {
		t.Errorf("idle: connected %d, held %d, errors %v, RSS/conn %v", res.Connected, res.Held, res.ErrorKinds, res.RSSPerConnKiB)
	}
	res = runOK(t, Config{Name: "storm", Kind: JoinStorm, Servers: []string{s.URL}, Clients: 4, Rooms: 2, Duration: 300 * time.Millisecond})
	if res.Joins == 0 || res.JoinsPerSec <= 0 || res.Errors != 0 || res.Latency.P50 <= 0 {
		t.Errorf("join-storm: %d joins (%.0f/s), latency %+v, errors %v", res.Joins, res.JoinsPerSec, res.Latency, res.ErrorKinds)
	}
	if n := s.Rooms.Len(); n != 0 {
		t.Errorf("%d rooms left on the server, want all purged", n)
	}
}

// With --pow the generator does the work for creations and joins.
func TestProofOfWork(t *testing.T) {
	s := unthrottled(t, vtest.Options{PoW: pow.New(4)})
	res := runOK(t, Config{Name: "pow", Kind: Traffic, Servers: []string{s.URL}, Clients: 3, Rooms: 1, Senders: 1, Rate: 20, Duration: 200 * time.Millisecond})
	if res.Connected != 3 || res.DeliveredPct != 100 || res.Errors != 0 {
		t.Fatalf("connected %d, delivered %.2f%%, errors %v", res.Connected, res.DeliveredPct, res.ErrorKinds)
	}
}

func TestUnreachable(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	url := s.URL
	s.HTTP.Close()
	_, err := Run(t.Context(), Config{Name: "x", Kind: Idle, Servers: []string{url}, Clients: 1, Rooms: 1, Duration: time.Second})
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("Run against a closed server = %v, want ErrUnreachable", err)
	}
}

func TestValidate(t *testing.T) {
	ok := Config{Name: "x", Kind: Traffic, Servers: []string{"http://127.0.0.1:1"}, Clients: 4, Rooms: 2, Senders: 1, Rate: 1, Duration: time.Second}
	if err := ok.Validate(); err != nil {
		t.Fatalf("Validate(%+v) = %v", ok, err)
	}
	for name, change := range map[string]func(*Config){
		"no server":          func(c *Config) { c.Servers = nil },
		"https":              func(c *Config) { c.Servers = []string{"https://127.0.0.1:1"} },
		"path":               func(c *Config) { c.Servers = []string{"http://127.0.0.1:1/x"} },
		"no clients":         func(c *Config) { c.Clients = 0 },
		"more rooms":         func(c *Config) { c.Rooms = 5 },
		"no senders":         func(c *Config) { c.Senders = 0 },
		"too many senders":   func(c *Config) { c.Senders = 3 },
		"rate and window":    func(c *Config) { c.Window = 2 },
		"neither loop":       func(c *Config) { c.Rate = 0 },
		"huge size":          func(c *Config) { c.Size = 70000 },
		"no duration":        func(c *Config) { c.Duration = 0 },
		"source addrs":       func(c *Config) { c.SourceAddrs = 300 },
		"remote source":      func(c *Config) { c.SourceAddrs, c.Servers = 2, []string{"http://192.0.2.1:80"} },
		"lonely members":     func(c *Config) { c.Clients, c.Rooms = 2, 2 },
		"idle with senders":  func(c *Config) { c.Kind = Idle },
		"negative pid":       func(c *Config) { c.PIDs = []int{-1} },
		"negative conn rate": func(c *Config) { c.ConnectRate = -1 },
	} {
		c := ok
		change(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate(%+v) = nil, want an error", name, c)
		}
	}
}
