package natstest_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"veil/internal/natstest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// connect dials urls (comma-joined) in the order given, reconnecting for
// ever with a short wait, and closes the connection in t.Cleanup.
func connect(t testing.TB, urls ...string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(strings.Join(urls, ","),
		nats.DontRandomize(),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(50*time.Millisecond),
		nats.Timeout(2*time.Second),
	)
	if err != nil {
		t.Fatalf("nats.Connect(%q) = %v", urls, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream.New = %v", err)
	}
	return nc, js
}

// bucket creates a memory bucket with per-key TTL (LimitMarkerTTL turns it
// on), replicated n times.
func bucket(t testing.TB, js jetstream.JetStream, name string, n int) jetstream.KeyValue {
	t.Helper()
	kv, err := js.CreateKeyValue(ctxFor(t, 10*time.Second), jetstream.KeyValueConfig{
		Bucket:         name,
		Storage:        jetstream.MemoryStorage,
		Replicas:       n,
		LimitMarkerTTL: time.Second,
	})
	if err != nil {
		t.Fatalf("CreateKeyValue(%s) = %v", name, err)
	}
	return kv
}

// eventually calls f until it returns nil, failing t after d. It returns
// how long that took.
func eventually(t testing.TB, d time.Duration, what string, f func() error) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		err := f()
		if err == nil {
			return time.Since(start)
		}
		if time.Since(start) > d {
			t.Fatalf("%s: still failing after %v: %v", what, d, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ctxFor returns a context that ends after d or with the test.
func ctxFor(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// marker returns a value that nothing else contains.
func marker() string { return "veil-marker-" + rand.Text() }

// key returns a fresh valid key.
func key() string { return "k-" + strings.ToLower(rand.Text()) }

// next returns the watcher's next entry for key k that is not the end of
// the initial values, failing t after d.
func next(t testing.TB, w jetstream.KeyWatcher, k string, d time.Duration) jetstream.KeyValueEntry {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				t.Fatalf("watcher closed before an entry for %s", k)
			}
			if e != nil && e.Key() == k {
				return e
			}
		case <-timeout:
			t.Fatalf("watcher: no entry for %s within %v", k, d)
			return nil
		}
	}
}

// scanStores fails t for every file under the cluster's store directories
// that contains one of needles, and returns the files it read.
func scanStores(t testing.TB, c *natstest.Cluster, needles ...string) []string {
	t.Helper()
	var files []string
	for i := range c.Len() {
		root := c.StoreDir(i)
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if errors.Is(err, fs.ErrNotExist) {
				return nil // a server removed it meanwhile
			}
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			files = append(files, fmt.Sprintf("n%d/%s (%d B)", i+1, rel, len(b)))
			for _, n := range needles {
				if bytes.Contains(b, []byte(n)) {
					t.Errorf("%s contains %q", p, n)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("walk %s: %v", root, err)
		}
	}
	return files
}

// TestCluster shows, on three routed servers, what cluster mode relies on.
// Its subtests share one cluster and run in order; the last one stops and
// restarts a server.
func TestCluster(t *testing.T) {
	start := time.Now()
	c := natstest.StartCluster(t, 3)
	t.Logf("StartCluster(3), WaitReady included, took %v", time.Since(start))
	urls := c.URLs()
	if len(urls) != 3 || c.Len() != 3 {
		t.Fatalf("URLs() = %v, Len() = %d, want 3 of each", urls, c.Len())
	}
	for i := range 3 {
		if got, want := c.Server(i).Name(), fmt.Sprintf("n%d", i+1); got != want {
			t.Errorf("Server(%d).Name() = %q, want %q", i, got, want)
		}
	}
	_, js1 := connect(t, urls[0])
	_, js3 := connect(t, urls[2])

	t.Run("key TTL", func(t *testing.T) {
		kv1 := bucket(t, js1, "ttl", 3)
		kv3, err := js3.KeyValue(ctxFor(t, 5*time.Second), "ttl")
		if err != nil {
			t.Fatal(err)
		}
		// A bucket-wide watcher through another server.
		w, err := kv3.WatchAll(ctxFor(t, 30*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		k := key()
		if _, err := kv1.Create(ctxFor(t, 5*time.Second), k, []byte("v"), jetstream.KeyTTL(time.Second)); err != nil {
			t.Fatalf("Create(%s, KeyTTL(1s)) = %v", k, err)
		}
		created := time.Now()
		if e := next(t, w, k, 5*time.Second); e.Operation() != jetstream.KeyValuePut {
			t.Fatalf("first watched op = %v, want %v", e.Operation(), jetstream.KeyValuePut)
		}
		eventually(t, 10*time.Second, "key expires", func() error {
			_, err := kv3.Get(ctxFor(t, 2*time.Second), k)
			if errors.Is(err, jetstream.ErrKeyNotFound) {
				return nil
			}
			return fmt.Errorf("Get = %v, want ErrKeyNotFound", err)
		})
		gone := time.Since(created)
		e := next(t, w, k, 5*time.Second)
		t.Logf("a 1s key was gone for Get %v after Create; the watcher saw %v (revision %d, %d-byte value)",
			gone, e.Operation(), e.Revision(), len(e.Value()))
		if e.Operation() != jetstream.KeyValuePurge {
			t.Errorf("watched op on expiry = %v, want %v", e.Operation(), jetstream.KeyValuePurge)
		}
		// The key can be created again over its marker.
		if _, err := kv1.Create(ctxFor(t, 5*time.Second), k, []byte("again"), jetstream.KeyTTL(time.Second)); err != nil {
			t.Errorf("Create over an expired key = %v", err)
		}
	})

	t.Run("update keeps no TTL unless published with one", func(t *testing.T) {
		kv := bucket(t, js1, "ttlupdate", 3)
		plain, kept := key(), key()
		for _, k := range []string{plain, kept} {
			if _, err := kv.Create(ctxFor(t, 5*time.Second), k, []byte("v1"), jetstream.KeyTTL(time.Second)); err != nil {
				t.Fatal(err)
			}
		}
		e, err := kv.Get(ctxFor(t, 5*time.Second), plain)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kv.Update(ctxFor(t, 5*time.Second), plain, []byte("v2"), e.Revision()); err != nil {
			t.Fatal(err)
		}
		// What kv.Update does, plus a Nats-TTL header.
		e, err = kv.Get(ctxFor(t, 5*time.Second), kept)
		if err != nil {
			t.Fatal(err)
		}
		_, err = js1.PublishMsg(ctxFor(t, 5*time.Second),
			&nats.Msg{Subject: "$KV.ttlupdate." + kept, Data: []byte("v2")},
			jetstream.WithExpectLastSequencePerSubject(e.Revision()),
			jetstream.WithMsgTTL(time.Second))
		if err != nil {
			t.Fatalf("compare-and-set publish with a TTL = %v", err)
		}
		eventually(t, 10*time.Second, "republished key expires", func() error {
			if _, err := kv.Get(ctxFor(t, 2*time.Second), kept); !errors.Is(err, jetstream.ErrKeyNotFound) {
				return fmt.Errorf("Get = %v, want ErrKeyNotFound", err)
			}
			return nil
		})
		// By now the updated key would have expired twice over.
		if e, err := kv.Get(ctxFor(t, 5*time.Second), plain); err != nil || string(e.Value()) != "v2" {
			t.Errorf("Get(key updated without TTL) = %v, want v2 still there", err)
		}
	})

	t.Run("create is atomic and update compares and sets", func(t *testing.T) {
		kv := bucket(t, js1, "cas", 3)
		k := key()
		// Six creators of one key, two through each server.
		var kvs []jetstream.KeyValue
		for i := range 6 {
			_, js := connect(t, urls[i%3])
			b, err := js.KeyValue(ctxFor(t, 5*time.Second), "cas")
			if err != nil {
				t.Fatal(err)
			}
			kvs = append(kvs, b)
		}
		var wg sync.WaitGroup
		errs := make([]error, len(kvs))
		for i, b := range kvs {
			wg.Go(func() { _, errs[i] = b.Create(ctxFor(t, 5*time.Second), k, []byte{byte(i)}) })
		}
		wg.Wait()
		won := 0
		for i, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, jetstream.ErrKeyExists):
				t.Errorf("Create #%d = %v, want nil or ErrKeyExists", i, err)
			}
		}
		if won != 1 {
			t.Fatalf("%d of %d concurrent Creates succeeded, want 1", won, len(kvs))
		}
		if _, err := kv.Create(ctxFor(t, 5*time.Second), k, []byte("x")); !errors.Is(err, jetstream.ErrKeyExists) {
			t.Errorf("second Create = %v, want ErrKeyExists", err)
		}

		e, err := kv.Get(ctxFor(t, 5*time.Second), k)
		if err != nil {
			t.Fatal(err)
		}
		rev := e.Revision()
		// Two updates from the same revision: one wins.
		for i, b := range kvs[:2] {
			wg.Go(func() { _, errs[i] = b.Update(ctxFor(t, 5*time.Second), k, []byte("u"), rev) })
		}
		wg.Wait()
		if (errs[0] == nil) == (errs[1] == nil) {
			t.Fatalf("two Updates from revision %d: %v and %v, want exactly one to succeed", rev, errs[0], errs[1])
		}
		for _, err := range errs[:2] {
			if err != nil && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
				t.Errorf("losing Update = %v, want ErrKeyRevisionMismatch", err)
			}
		}
		if _, err := kv.Update(ctxFor(t, 5*time.Second), k, []byte("stale"), rev); !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			t.Errorf("Update with stale revision = %v, want ErrKeyRevisionMismatch", err)
		}
		if err := kv.Delete(ctxFor(t, 5*time.Second), k, jetstream.LastRevision(rev)); !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			t.Errorf("Delete with stale revision = %v, want ErrKeyRevisionMismatch", err)
		}
	})

	t.Run("pub sub across servers", func(t *testing.T) {
		nc1, _ := connect(t, urls[0])
		nc3, _ := connect(t, urls[2])
		if nc1.ConnectedServerName() != "n1" || nc3.ConnectedServerName() != "n3" {
			t.Fatalf("connected to %s and %s, want n1 and n3", nc1.ConnectedServerName(), nc3.ConnectedServerName())
		}
		sub, err := nc3.SubscribeSync("veil.test.room")
		if err != nil {
			t.Fatal(err)
		}
		if err := nc3.Flush(); err != nil {
			t.Fatal(err)
		}
		// Interest reaches n1 over the route shortly after; until then n1
		// drops what it is sent, so publish until one arrives.
		var sent []string
		took := eventually(t, 5*time.Second, "message from n1 reaches n3", func() error {
			m := fmt.Sprintf("hello %d", len(sent))
			sent = append(sent, m)
			if err := nc1.Publish("veil.test.room", []byte(m)); err != nil {
				return err
			}
			got, err := sub.NextMsg(50 * time.Millisecond)
			if err != nil {
				return err
			}
			if !slices.Contains(sent, string(got.Data)) {
				t.Fatalf("received %q, never sent", got.Data)
			}
			return nil
		})
		t.Logf("first message across the route after %v (%d published)", took, len(sent))
	})

	t.Run("nothing on disk", func(t *testing.T) {
		kv := bucket(t, js1, "disk", 3)
		w, err := kv.WatchAll(ctxFor(t, 30*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		var needles []string
		for range 20 {
			k, v := key(), marker()
			needles = append(needles, k, v)
			if _, err := kv.Create(ctxFor(t, 5*time.Second), k, []byte(v), jetstream.KeyTTL(time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		k, v := key(), marker()
		needles = append(needles, k, v)
		if _, err := kv.Put(ctxFor(t, 5*time.Second), k, []byte(v)); err != nil {
			t.Fatal(err)
		}
		if e := next(t, w, k, 5*time.Second); string(e.Value()) != v {
			t.Fatalf("watched %q, want %q", e.Value(), v)
		}
		files := scanStores(t, c, needles...)
		t.Logf("store directories hold %d files, none with a key or value:\n%s", len(files), strings.Join(files, "\n"))
	})

	t.Run("a per-key watcher puts its key on disk", func(t *testing.T) {
		// Not a requirement: a record of why cluster mode watches whole
		// buckets. An ordered consumer's filter subject names the key, and
		// consumer assignments go through the JetStream meta group, whose
		// log is a file.
		kv := bucket(t, js1, "perkey", 3)
		k := key()
		w, err := kv.Watch(ctxFor(t, 30*time.Second), k)
		if err != nil {
			t.Fatal(err)
		}
		w.Stop()
		var hits []string
		for i := range c.Len() {
			filepath.WalkDir(c.StoreDir(i), func(p string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte(k)) {
						hits = append(hits, p)
					}
				}
				return nil
			})
		}
		t.Logf("a key watched on its own is on disk in %d files: %v", len(hits), hits)
	})

	t.Run("a server stops and restarts", func(t *testing.T) {
		kv := bucket(t, js1, "failover", 3)
		before, during, after := marker(), marker(), marker()
		if _, err := kv.Put(ctxFor(t, 5*time.Second), "before", []byte(before)); err != nil {
			t.Fatal(err)
		}
		// Stop the stream's leader, the worst one to lose, with a client on it.
		s, err := js1.Stream(ctxFor(t, 5*time.Second), "KV_failover")
		if err != nil {
			t.Fatal(err)
		}
		leader := s.CachedInfo().Cluster.Leader
		victim := slices.IndexFunc([]int{0, 1, 2}, func(i int) bool { return c.Server(i).Name() == leader })
		if victim < 0 {
			t.Fatalf("stream leader %q is none of n1..n3", leader)
		}
		order := append([]string{urls[victim]}, slices.Delete(slices.Clone(urls), victim, victim+1)...)
		nc, js := connect(t, order...)
		if nc.ConnectedServerName() != leader {
			t.Fatalf("client on %s, want %s", nc.ConnectedServerName(), leader)
		}
		kvc, err := js.KeyValue(ctxFor(t, 5*time.Second), "failover")
		if err != nil {
			t.Fatal(err)
		}

		stopped := time.Now()
		c.Stop(victim)
		var failures []string
		took := eventually(t, 15*time.Second, "KV through the survivors", func() error {
			if _, err := kvc.Put(ctxFor(t, time.Second), "during", []byte(during)); err != nil {
				failures = append(failures, fmt.Sprintf("%v: Put: %v", time.Since(stopped).Round(time.Millisecond), err))
				return fmt.Errorf("Put = %w", err)
			}
			e, err := kvc.Get(ctxFor(t, time.Second), "before")
			if err != nil {
				return fmt.Errorf("Get = %w", err)
			}
			if string(e.Value()) != before {
				t.Fatalf("Get(before) = %q, want %q", e.Value(), before)
			}
			return nil
		})
		t.Logf("stopped %s (stream leader); the client, now on %s, read and wrote again after %v; failed tries: %q",
			leader, nc.ConnectedServerName(), took, failures)
		c.WaitReady(t) // two of three
		t.Logf("WaitReady on the two survivors returned %v after the stop", time.Since(stopped))

		restarted := time.Now()
		c.Restart(t, victim)
		c.WaitReady(t)
		t.Logf("Restart and WaitReady took %v", time.Since(restarted))
		if got := c.Server(victim).Name(); got != leader {
			t.Errorf("restarted server is %q, want %q", got, leader)
		}
		// Through the restarted server alone: it caught up.
		_, jsr := connect(t, urls[victim])
		kvr, err := jsr.KeyValue(ctxFor(t, 5*time.Second), "failover")
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, "KV through the restarted server", func() error {
			e, err := kvr.Get(ctxFor(t, 2*time.Second), "during")
			if err != nil {
				return err
			}
			if string(e.Value()) != during {
				return fmt.Errorf("Get(during) = %q, want %q", e.Value(), during)
			}
			_, err = kvr.Put(ctxFor(t, 2*time.Second), "after", []byte(after))
			return err
		})
		scanStores(t, c, before, during, after)
	})
}

// TestStartServer shows a standalone server: KV with per-key TTL works,
// and a restart loses memory buckets for good.
func TestStartServer(t *testing.T) {
	c := natstest.StartServer(t)
	if c.Len() != 1 || c.URL() != c.URLs()[0] {
		t.Fatalf("Len() = %d, URL() = %q, URLs() = %v, want one server", c.Len(), c.URL(), c.URLs())
	}
	_, js := connect(t, c.URL())
	kv := bucket(t, js, "single", 1)
	v := marker()
	if _, err := kv.Create(ctxFor(t, 5*time.Second), "k", []byte(v), jetstream.KeyTTL(time.Second)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "key expires", func() error {
		if _, err := kv.Get(ctxFor(t, 2*time.Second), "k"); !errors.Is(err, jetstream.ErrKeyNotFound) {
			return fmt.Errorf("Get = %v, want ErrKeyNotFound", err)
		}
		return nil
	})
	if _, err := kv.Put(ctxFor(t, 5*time.Second), "k", []byte(v)); err != nil {
		t.Fatal(err)
	}
	files := scanStores(t, c, v)
	t.Logf("standalone store directory: %v", files)

	c.Restart(t, 0)
	c.WaitReady(t)
	eventually(t, 10*time.Second, "bucket gone after restart", func() error {
		_, err := js.KeyValue(ctxFor(t, 2*time.Second), "single")
		if !errors.Is(err, jetstream.ErrBucketNotFound) {
			return fmt.Errorf("KeyValue after restart = %v, want ErrBucketNotFound", err)
		}
		return nil
	})
}
