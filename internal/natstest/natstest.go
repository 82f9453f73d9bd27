// Package natstest starts embedded nats-servers with JetStream on loopback
// for tests: one standalone node, or a cluster of routed nodes that a test
// can stop and restart. It is test support only: nothing outside _test files
// imports it. It does not choose storage for callers; veil's buckets ask for
// memory storage themselves. Each node's JetStream store directory is a
// t.TempDir, so that a test can look at what nats-server writes there: in a
// cluster, its own raft metadata (peers, terms, and the meta group's log of
// stream and consumer configurations), even when every stream is in memory.
package natstest

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ClusterName is the NATS cluster name of every cluster StartCluster makes.
const ClusterName = "veil-test"

// readyTimeout bounds WaitReady. A JetStream meta leader is usually elected
// within a second, but a split vote costs a raft election timeout of 4 to
// 9 s, and a loaded machine more.
const readyTimeout = 60 * time.Second

// listenTimeout bounds a server's wait for its listeners; a port taken by
// someone else shows up as this wait running out.
const listenTimeout = 10 * time.Second

// Cluster is a set of embedded nats-servers. Indexes are 0-based: server i
// is named "n<i+1>". Its methods may be called from any goroutine.
type Cluster struct {
	// set at construction
	clustered bool
	dirs      []string

	mu   sync.Mutex // guards opts, srvs and urls
	opts []*server.Options
	srvs []*server.Server // nil while stopped
	urls []string         // client URLs, fixed after the first start
}

// StartServer starts one standalone nats-server with JetStream (no cluster
// port, no routes) on 127.0.0.1 and returns once it is ready. The server
// shuts down in t.Cleanup.
func StartServer(t testing.TB) *Cluster {
	t.Helper()
	return start(t, 1, false)
}

// StartCluster starts n nats-servers named n1..nN, routed to each other on
// 127.0.0.1 in the cluster ClusterName, each with JetStream and its own
// store directory, and returns once WaitReady holds. The servers shut down
// in t.Cleanup.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	if n < 1 {
		t.Fatalf("natstest.StartCluster(%d): need at least one server", n)
	}
	return start(t, n, true)
}

// start tries a few times, because the route ports are picked free and then
// released before the servers bind them, and something else may take one.
func start(t testing.TB, n int, clustered bool) *Cluster {
	t.Helper()
	var err error
	for range 3 {
		var c *Cluster
		c, err = tryStart(t, n, clustered)
		if err == nil {
			c.WaitReady(t)
			return c
		}
	}
	t.Fatalf("natstest: start %d servers: %v", n, err)
	return nil
}

func tryStart(t testing.TB, n int, clustered bool) (*Cluster, error) {
	c := &Cluster{clustered: clustered}
	// Directories first: t.Cleanup runs last-in first-out, so the servers
	// registered below stop before their directories are removed.
	for range n {
		c.dirs = append(c.dirs, t.TempDir())
	}
	var routes []*url.URL
	var ports []int
	if clustered {
		var err error
		if ports, err = freePorts(n); err != nil {
			return nil, err
		}
		for _, p := range ports {
			routes = append(routes, &url.URL{Scheme: "nats-route", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(p))})
		}
	}
	for i := range n {
		o := &server.Options{
			ServerName:         "n" + strconv.Itoa(i+1),
			Host:               "127.0.0.1",
			Port:               server.RANDOM_PORT,
			JetStream:          true,
			JetStreamMaxMemory: 256 << 20,
			JetStreamMaxStore:  256 << 20,
			StoreDir:           c.dirs[i],
			NoLog:              true,
			NoSigs:             true,
		}
		if clustered {
			o.Cluster.Name = ClusterName
			o.Cluster.Host = "127.0.0.1"
			o.Cluster.Port = ports[i]
			o.Routes = routes // a route to itself is recognised and dropped
			// One route connection per pair, not a pool: while a fresh
			// cluster settles which of two servers' duplicate pooled routes
			// to keep, interest sent on a dropped one can go missing, and
			// with it the first frames to a subscriber on that server
			// (3 runs in 80 of the cluster relay tests failed; 0 in 160 without
			// pools).
			o.Cluster.PoolSize = -1
		}
		c.opts = append(c.opts, o)
	}
	c.srvs = make([]*server.Server, n)
	c.urls = make([]string, n)
	t.Cleanup(c.stopAll)
	// Start them together: each waits for its routes, and a meta leader
	// is elected sooner when all peers show up at once.
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			s, err := c.run(i)
			if err != nil {
				errs[i] = err
				return
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			c.srvs[i] = s
			// Pin the client port so that Restart comes back where
			// clients look for it.
			c.opts[i].Port = s.Addr().(*net.TCPAddr).Port
			c.urls[i] = s.ClientURL()
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		c.stopAll()
		return nil, err
	}
	return c, nil
}

// freePorts returns n distinct loopback ports that were free a moment ago.
// It holds every listener until all are picked, so the ports differ.
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("pick a port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// run starts server i from a copy of its options (a server keeps and
// changes the options it is given) and waits for its listeners.
func (c *Cluster) run(i int) (*server.Server, error) {
	c.mu.Lock()
	o := c.opts[i].Clone()
	c.mu.Unlock()
	s, err := server.NewServer(o)
	if err != nil {
		return nil, fmt.Errorf("new server %s: %w", o.ServerName, err)
	}
	s.Start()
	if !s.ReadyForConnections(listenTimeout) {
		s.Shutdown()
		s.WaitForShutdown()
		return nil, fmt.Errorf("server %s (client port %d, route port %d) did not start listening", o.ServerName, o.Port, o.Cluster.Port)
	}
	return s, nil
}

func (c *Cluster) stopAll() {
	for i := range c.Len() {
		c.Stop(i)
	}
}

// Len reports how many servers the cluster has, running or stopped.
func (c *Cluster) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.srvs)
}

// URLs returns the client URL of every server, stopped ones included: a
// stopped server comes back on the same address.
func (c *Cluster) URLs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.urls...)
}

// URL returns URLs joined with commas, as nats.Connect takes them.
func (c *Cluster) URL() string {
	return strings.Join(c.URLs(), ",")
}

// Server returns server i, or nil while it is stopped.
func (c *Cluster) Server(i int) *server.Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.srvs[i]
}

// StoreDir returns the JetStream store directory of server i. It outlives
// a restart and is removed when the test ends.
func (c *Cluster) StoreDir(i int) string {
	return c.dirs[i]
}

// Stop shuts server i down and waits until it has. Stopping a stopped
// server does nothing.
func (c *Cluster) Stop(i int) {
	c.mu.Lock()
	s := c.srvs[i]
	c.srvs[i] = nil
	c.mu.Unlock()
	if s == nil {
		return
	}
	s.Shutdown()
	s.WaitForShutdown()
}

// Restart starts server i again under the same name, with the same ports,
// routes and store directory, and returns once it listens; it stops the
// server first if it is running, and fails t if it cannot start. Call
// WaitReady before relying on JetStream. A memory stream's data on the
// restarted server is gone until its peers catch it up (or for good, on a
// standalone server).
func (c *Cluster) Restart(t testing.TB, i int) {
	t.Helper()
	c.Stop(i)
	s, err := c.run(i)
	if err != nil {
		t.Fatalf("natstest: restart: %v", err)
	}
	c.mu.Lock()
	c.srvs[i] = s
	c.mu.Unlock()
}

// WaitReady polls until every running server (stopped ones are skipped)
// listens, is routed to every other running server, has JetStream enabled,
// agrees on a single meta leader and reports itself healthy, streams
// included; then KV calls through any of them succeed. It fails t after 60
// seconds, saying what was still missing.
func (c *Cluster) WaitReady(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(readyTimeout)
	for {
		err := c.ready()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("natstest: not ready after %v: %v", readyTimeout, err)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// ready says why the running servers are not ready yet, or returns nil.
func (c *Cluster) ready() error {
	c.mu.Lock()
	var up []*server.Server
	for _, s := range c.srvs {
		if s != nil {
			up = append(up, s)
		}
	}
	c.mu.Unlock()
	if len(up) == 0 {
		return fmt.Errorf("no server is running")
	}
	leaders := 0
	for _, s := range up {
		if !s.Running() {
			return fmt.Errorf("%s is not running", s.Name())
		}
		if !s.JetStreamEnabled() {
			return fmt.Errorf("%s has no JetStream yet", s.Name())
		}
		if c.clustered {
			if got := remotes(s); got != len(up)-1 {
				return fmt.Errorf("%s has routes to %d servers, want %d", s.Name(), got, len(up)-1)
			}
			if s.JetStreamIsLeader() {
				leaders++
			}
		}
		if h := s.Healthz(&server.HealthzOptions{}); h.Status != "ok" {
			return fmt.Errorf("%s is not healthy: %s %s", s.Name(), h.Status, h.Error)
		}
	}
	if c.clustered && leaders != 1 {
		return fmt.Errorf("%d JetStream meta leaders, want 1", leaders)
	}
	return nil
}

// remotes counts the distinct servers s has a route to; with route pooling
// one server may be reached over several connections.
func remotes(s *server.Server) int {
	rz, err := s.Routez(&server.RoutezOptions{})
	if err != nil {
		return 0
	}
	seen := map[string]bool{}
	for _, r := range rz.Routes {
		seen[r.RemoteID] = true
	}
	return len(seen)
}

// StartPlain starts one standalone nats-server on 127.0.0.1, with
// JetStream only if js (in a t.TempDir store) and with a user and password
// if user is not empty, and returns its client URL. For tests of what a
// client does with a server that lacks something; it shuts down in
// t.Cleanup.
func StartPlain(t testing.TB, js bool, user, password string) string {
	t.Helper()
	o := &server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoLog: true, NoSigs: true,
		Username: user, Password: password}
	if js {
		o.JetStream, o.StoreDir = true, t.TempDir()
		o.JetStreamMaxMemory, o.JetStreamMaxStore = 64<<20, 64<<20
	}
	s, err := server.NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	if !s.ReadyForConnections(listenTimeout) {
		t.Fatal("natstest: nats-server not ready")
	}
	return s.ClientURL()
}

// ClosedURL returns a loopback NATS URL nobody listens on.
func ClosedURL(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "nats://" + addr
}
