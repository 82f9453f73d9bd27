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
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"veil/internal/protocol"
)

// Bucket is the name of the rooms bucket. nats-server writes bucket names
// to its meta log on disk, so it is fixed and says nothing about any room.
const Bucket = "veil_rooms"

// Errors of the Store.
var (
	ErrExists   = errors.New("cluster: a room with this id exists")
	ErrNotFound = errors.New("cluster: no such room")
)

// Member is one session of a room as every node sees it.
type Member struct {
	Session   uint32   `json:"s"`
	TokenHash [32]byte `json:"t"` // SHA-256 of the resume token
	Node      string   `json:"n"` // the node its socket is on
	Hello     []byte   `json:"h,omitempty"`
	Owner     bool     `json:"o,omitempty"`
}

// Record is a room's shared state.
type Record struct {
	Verifier  [32]byte  `json:"v"`
	OwnerHash [32]byte  `json:"w"`
	Deadline  time.Time `json:"d"`
	Policy    byte      `json:"p"`
	Meta      []byte    `json:"m,omitempty"`
	Locked    bool      `json:"l,omitempty"`
	Members   []Member  `json:"ms,omitempty"`
}

// Member returns the member with session, or nil.
func (r *Record) Member(session uint32) *Member {
	for i := range r.Members {
		if r.Members[i].Session == session {
			return &r.Members[i]
		}
	}
	return nil
}

// Store is the rooms bucket.
type Store struct {
	js jetstream.JetStream
	kv jetstream.KeyValue
}

// Open binds the rooms bucket on nc, creating it (memory storage, per-key
// TTL, replicas copies) if it does not exist.
func Open(ctx context.Context, nc *nats.Conn, replicas int) (*Store, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:         Bucket,
		Storage:        jetstream.MemoryStorage,
		Replicas:       replicas,
		History:        1,
		LimitMarkerTTL: time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("rooms bucket: %w", err)
	}
	return &Store{js: js, kv: kv}, nil
}

func key(rid protocol.RID) string { return hex.EncodeToString(rid[:]) }

// ttl is how long the key of a room ending at deadline should live: a
// little past the deadline, so every node's own timer ends the room first.
func ttl(deadline time.Time) time.Duration {
	return max(time.Until(deadline)+5*time.Second, time.Second)
}

// Create registers a room; ErrExists if any node has one with this id.
func (s *Store) Create(ctx context.Context, rid protocol.RID, rec Record) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	_, err = s.kv.Create(ctx, key(rid), b, jetstream.KeyTTL(ttl(rec.Deadline)))
	if errors.Is(err, jetstream.ErrKeyExists) {
		return ErrExists
	}
	return err
}

// Load returns the room's record and its revision.
func (s *Store) Load(ctx context.Context, rid protocol.RID) (Record, uint64, error) {
	var rec Record
	e, err := s.kv.Get(ctx, key(rid))
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return rec, 0, ErrNotFound
	}
	if err != nil {
		return rec, 0, err
	}
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return rec, 0, fmt.Errorf("cluster: room record: %w", err)
	}
	return rec, e.Revision(), nil
}

// Update applies f to the room's record and writes it back if nobody else
// wrote in between, retrying otherwise; the key keeps its TTL. An error
// from f stops it and is returned as is.
func (s *Store) Update(ctx context.Context, rid protocol.RID, f func(*Record) error) (Record, error) {
	for attempt := 0; ; attempt++ {
		rec, rev, err := s.Load(ctx, rid)
		if err != nil {
			return rec, err
		}
		if err := f(&rec); err != nil {
			return rec, err
		}
		b, err := json.Marshal(rec)
		if err != nil {
			return rec, err
		}
		// kv.Update would drop the key's TTL: publish to the key's subject
		// with the same compare-and-set and the TTL set again.
		_, err = s.js.PublishMsg(ctx, &nats.Msg{Subject: "$KV." + Bucket + "." + key(rid), Data: b},
			jetstream.WithExpectLastSequencePerSubject(rev), jetstream.WithMsgTTL(ttl(rec.Deadline)))
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && attempt < 50 && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
			continue // someone else wrote first
		}
		return rec, err
	}
}

// Delete forgets the room (a purge).
func (s *Store) Delete(ctx context.Context, rid protocol.RID) error {
	err := s.kv.Purge(ctx, key(rid))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	return err
}

// Subject is the core NATS subject of a room's frames between nodes.
func Subject(rid protocol.RID) string { return "veil.room." + key(rid) }
