// Package cluster is what veil nodes share through NATS when they serve
// rooms together (`veil serve --nats`): a key-value bucket in memory storage,
// one key per room with a per-key TTL at the room's deadline, holding what
// routing needs (the join verifier hash, the owner key hash, deadline,
// policy, lock, sealed meta and members' sealed hellos); and core NATS
// subjects, one per room, over which nodes pass each other the frames of
// their members. It never holds anything it could decrypt, and nothing of
// it reaches a disk: the bucket is memory storage, and no consumer ever
// names a room (a consumer's filter is written to the JetStream meta log).
//
// NATS sees room ids, node ids, and the size and timing of frames.
package cluster

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"veil/internal/protocol"
	"veil/internal/room"
)

// Bucket is the name of the rooms bucket. nats-server writes bucket names
// to its meta log on disk, so it is fixed and says nothing about any room.
const Bucket = "veil_rooms"

// Errors of the Store: the registry's own, so it can tell them apart.
var (
	ErrExists   = room.ErrSharedExists
	ErrNotFound = room.ErrSharedNotFound
)

// Record is a room's shared state: the registry's own type.
type Record = room.Record

// Store is the rooms bucket.
type Store struct {
	js jetstream.JetStream
	kv jetstream.KeyValue

	mu      sync.Mutex
	waiting map[protocol.RID][]*update // a room's updates not yet in a batch; present while its commitLoop runs
}

// Open binds the rooms bucket on nc, creating it (memory storage, per-key
// TTL, replicas copies) if it does not exist.
func Open(ctx context.Context, nc *nats.Conn, replicas int) (*Store, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	cfg := jetstream.KeyValueConfig{
		Bucket:         Bucket,
		Storage:        jetstream.MemoryStorage,
		Replicas:       replicas,
		History:        1,
		LimitMarkerTTL: time.Second,
	}
	// A KV bucket lets any replica answer a read (a direct get), which can
	// be stale: a node could still see a room that was just purged. Reads
	// of a room go to the stream's leader instead (AllowDirect off). A
	// binding reads that setting once, so no node may bind while it is on:
	// the bucket is made only if it is missing (making or updating it as a
	// KV bucket would turn direct gets back on for a moment, and a node
	// binding then would ask a responder that is gone a moment later), and
	// every node turns it off, if it is not, before it binds.
	//
	// A cluster that has just started may not have placed its JetStream
	// peers yet ("no suitable peers for placement"): try until ctx ends.
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		// Each try has its own deadline: a request lost in an election
		// would otherwise take the whole of ctx.
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err = readyBucket(actx, js, cfg)
		cancel()
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("rooms bucket: %w", err)
		case <-time.After(wait):
		}
	}
	kv, err := js.KeyValue(ctx, Bucket)
	if err != nil {
		return nil, fmt.Errorf("rooms bucket: %w", err)
	}
	return &Store{js: js, kv: kv}, nil
}

// readyBucket makes the rooms bucket if it is missing and leaves it with
// direct gets off and replicas copies.
func readyBucket(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig) error {
	stream, err := js.Stream(ctx, "KV_"+Bucket)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		if _, err = js.CreateKeyValue(ctx, cfg); err != nil && !errors.Is(err, jetstream.ErrBucketExists) {
			return err
		}
		stream, err = js.Stream(ctx, "KV_"+Bucket)
	}
	if err != nil {
		return err
	}
	if sc := stream.CachedInfo().Config; sc.AllowDirect || sc.Replicas != cfg.Replicas {
		sc.AllowDirect, sc.Replicas = false, cfg.Replicas
		if _, err := js.UpdateStream(ctx, sc); err != nil {
			return err
		}
	}
	return nil
}

func key(rid protocol.RID) string { return hex.EncodeToString(rid[:]) }

// ttl is how long the key of a room ending at deadline should live: a
// little past the deadline, so every node's own timer ends the room first.
func ttl(deadline time.Time) time.Duration {
	return max(time.Until(deadline)+5*time.Second, time.Second)
}

// transient reports an error that a retry may not meet: JetStream without
// a stream leader for a moment (just after the bucket is made, or while a
// server fails over).
func transient(err error) bool {
	return errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, nats.ErrTimeout)
}

// retry runs f until it succeeds, fails for good, or ctx ends.
func retry(ctx context.Context, f func() error) error {
	wait := 20 * time.Millisecond
	for {
		err := f()
		if err == nil || !transient(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, 500*time.Millisecond)
	}
}

// Create registers a room; ErrExists if any node has one with this id.
func (s *Store) Create(ctx context.Context, rid protocol.RID, rec Record) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	err = retry(ctx, func() error {
		_, err := s.kv.Create(ctx, key(rid), b, jetstream.KeyTTL(ttl(rec.Deadline)))
		return err
	})
	if errors.Is(err, jetstream.ErrKeyExists) {
		return ErrExists
	}
	return err
}

// Load returns the room's record and its revision.
func (s *Store) Load(ctx context.Context, rid protocol.RID) (Record, uint64, error) {
	var rec Record
	var e jetstream.KeyValueEntry
	err := retry(ctx, func() (err error) {
		e, err = s.kv.Get(ctx, key(rid))
		return err
	})
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return rec, 0, ErrNotFound
	}
	if err != nil {
		return rec, 0, err
	}
	if rec, err = parseRecord(e.Value()); err != nil {
		return rec, 0, err
	}
	return rec, e.Revision(), nil
}

// Update applies f to the room's record and writes it back if nobody else
// wrote in between, retrying otherwise; the key keeps its TTL. It returns
// the revision written (the one read, if f returned room.ErrUnchanged). An
// error from f stops it and is returned as is, and nothing f did lands.
//
// The updates of one room that wait on this node at the same moment are
// written together, each applied in turn to the record read once: a crowd
// joining a room then meets at most one writer per node in the bucket
// instead of one per member, each losing the compare-and-set to the others
// again and again.
func (s *Store) Update(ctx context.Context, rid protocol.RID, f func(*Record) error) (uint64, error) {
	u := &update{ctx: ctx, f: f, done: make(chan struct{})}
	s.mu.Lock()
	if s.waiting == nil {
		s.waiting = map[protocol.RID][]*update{}
	}
	_, busy := s.waiting[rid]
	s.waiting[rid] = append(s.waiting[rid], u)
	s.mu.Unlock()
	if !busy {
		go s.commitLoop(rid)
	}
	select {
	case <-u.done:
		return u.rev, u.err
	case <-ctx.Done():
		// The batch may still write it; callers treat a cancelled update
		// as one that may have landed, as they did a cancelled write.
		return 0, ctx.Err()
	}
}

// update is one call of Update waiting for its batch.
type update struct {
	ctx  context.Context
	f    func(*Record) error
	rev  uint64
	err  error
	done chan struct{}
}

// commitBound bounds one batch's reads and writes, whatever its callers'
// contexts: a caller that gives up does not fail the others.
const commitBound = 15 * time.Second

// commitLoop writes the updates waiting for rid, a batch at a time, until
// none wait. s.waiting[rid] exists (maybe empty) while it runs.
func (s *Store) commitLoop(rid protocol.RID) {
	for {
		s.mu.Lock()
		batch := s.waiting[rid]
		if len(batch) == 0 {
			delete(s.waiting, rid)
			s.mu.Unlock()
			return
		}
		s.waiting[rid] = batch[:0:0]
		s.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), commitBound)
		s.commit(ctx, rid, batch)
		cancel()
		for _, u := range batch {
			close(u.done)
		}
	}
}

// commit applies batch to rid's record and writes it with a compare-and-set
// of the revision read, reading again and reapplying if it loses.
func (s *Store) commit(ctx context.Context, rid protocol.RID, batch []*update) {
	for attempt := 0; ; attempt++ {
		rec, rev, err := s.Load(ctx, rid)
		if err != nil {
			for _, u := range batch {
				u.err = err
			}
			return
		}
		var applied []*update
		for _, u := range batch {
			u.rev, u.err = rev, u.ctx.Err()
			if u.err != nil {
				continue // its caller has gone: apply nothing of it
			}
			next := rec.Clone()
			if err := u.f(&next); errors.Is(err, room.ErrUnchanged) {
				continue
			} else if err != nil {
				u.err = err
				continue
			}
			rec, applied = next, append(applied, u)
		}
		if len(applied) == 0 {
			return
		}
		b, err := json.Marshal(rec)
		if err == nil {
			// kv.Update would drop the key's TTL: publish to the key's
			// subject with the same compare-and-set and the TTL set again.
			var ack *jetstream.PubAck
			err = retry(ctx, func() (err error) {
				ack, err = s.js.PublishMsg(ctx, &nats.Msg{Subject: "$KV." + Bucket + "." + key(rid), Data: b},
					jetstream.WithExpectLastSequencePerSubject(rev), jetstream.WithMsgTTL(ttl(rec.Deadline)))
				return err
			})
			if err == nil {
				for _, u := range batch {
					u.rev = ack.Sequence
				}
				return
			}
		}
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && attempt < 50 && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
			// Another node wrote first. The nodes of a crowded room would
			// all read and lose again at once: wait a random while, longer
			// each time, first.
			select {
			case <-ctx.Done():
			case <-time.After(time.Duration(rand.Int64N(int64(min(attempt+1, 10)) * int64(5*time.Millisecond)))):
				continue
			}
			err = ctx.Err()
		}
		for _, u := range applied {
			u.err = err
		}
		return
	}
}

// Bounds of a room record read from the bucket. Every node writes records
// well within them; one beyond them did not come from a veil node.
const (
	maxRecordMembers    = 10_000
	maxRecordDepartures = 1_000
	maxRecordKicks      = 10_000
	maxRecordMeta       = 64 << 10
)

// errRecord is a record no veil node would write.
var errRecord = errors.New("cluster: malformed room record")

// parseRecord decodes a room's record and checks it is one a veil node
// could have written: the registry trusts its sizes and session ids.
func parseRecord(b []byte) (Record, error) {
	var rec Record
	if err := json.Unmarshal(b, &rec); err != nil {
		return Record{}, fmt.Errorf("%w: %v", errRecord, err)
	}
	if len(rec.Members) > maxRecordMembers || len(rec.Left) > maxRecordDepartures || len(rec.Kick) > maxRecordKicks ||
		len(rec.Meta) > maxRecordMeta || rec.TTL < 0 {
		return Record{}, fmt.Errorf("%w: too large", errRecord)
	}
	seen := make(map[uint32]bool, len(rec.Members))
	for _, m := range rec.Members {
		if m.Session == 0 || seen[m.Session] || m.Node == "" || len(m.Node) > 64 || len(m.Hello) > protocol.MaxHello {
			return Record{}, fmt.Errorf("%w: member %d", errRecord, m.Session)
		}
		seen[m.Session] = true
	}
	return rec, nil
}

// Rooms lists every room in the bucket.
func (s *Store) Rooms(ctx context.Context) ([]protocol.RID, error) {
	keys, err := s.kv.ListKeys(ctx)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []protocol.RID
	for k := range keys.Keys() {
		b, err := hex.DecodeString(k)
		if err != nil || len(b) != protocol.RIDLen {
			continue
		}
		out = append(out, protocol.RID(b))
	}
	return out, nil
}

// Delete forgets the room (a purge).
func (s *Store) Delete(ctx context.Context, rid protocol.RID) error {
	err := retry(ctx, func() error { return s.kv.Purge(ctx, key(rid)) })
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	return err
}

// roomPrefix starts every room's subject.
const roomPrefix = "veil.room."

// Subject is the core NATS subject of a room's frames between nodes.
func Subject(rid protocol.RID) string { return roomPrefix + key(rid) }

// Node is one veil node's share of a cluster: the rooms bucket and the bus.
// It is the registry's room.Shared.
type Node struct {
	*Store
	*Bus
}

// NewNode opens the rooms bucket (replicas copies) and starts the bus on
// nc under a fresh node id. onDeath is called when another node dies.
func NewNode(ctx context.Context, nc *nats.Conn, replicas int, onDeath func(node string)) (*Node, error) {
	s, err := Open(ctx, nc, replicas)
	if err != nil {
		return nil, err
	}
	b, err := NewBus(nc, NewNodeID(), onDeath)
	if err != nil {
		return nil, err
	}
	return &Node{Store: s, Bus: b}, nil
}

var _ room.Shared = (*Node)(nil)

// Watch calls fn, in order for each room, with every change of every room's
// record from now on (nil when the room was purged or expired), until ctx
// ends. It watches the whole bucket: a watcher on one key would write the
// room's id into the JetStream meta log on disk.
func (s *Store) Watch(ctx context.Context, fn func(rid protocol.RID, rec *Record, rev uint64)) error {
	w, err := s.kv.WatchAll(ctx, jetstream.UpdatesOnly())
	if err != nil {
		return err
	}
	go func() {
		defer w.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e == nil {
					continue
				}
				b, err := hex.DecodeString(e.Key())
				if err != nil || len(b) != protocol.RIDLen {
					continue
				}
				var rid protocol.RID
				copy(rid[:], b)
				if e.Operation() != jetstream.KeyValuePut {
					fn(rid, nil, e.Revision())
					continue
				}
				rec, err := parseRecord(e.Value())
				if err != nil {
					continue // not veil's: someone else wrote to the bucket
				}
				fn(rid, &rec, e.Revision())
			}
		}
	}()
	return nil
}
