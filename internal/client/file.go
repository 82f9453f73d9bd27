package client

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"time"

	"veil/internal/e2ee"
	"veil/internal/protocol"
)

// ChunkData is the plaintext bytes of one file chunk (docs/protocol.md 8.2):
// every chunk but the last fills the 65536-byte padding bucket exactly.
const ChunkData = e2ee.MaxData

// DefaultMaxFile is the largest file a client sends or accepts unless told
// otherwise; relays default to the same limit.
const DefaultMaxFile = 100 << 20

// FileInfo is a file's manifest (docs/protocol.md 8.1).
type FileInfo struct {
	TID    uint32 `json:"tid"`
	Name   string `json:"name"`
	Type   string `json:"type"`
	Size   int64  `json:"size"`
	Chunks int    `json:"chunks"`
	SHA256 string `json:"sha256"`
	Key    string `json:"key"`
	Voice  bool   `json:"voice,omitempty"`
}

// chunksFor returns how many chunks carry size bytes.
func chunksFor(size int64) int { return max(1, int((size+ChunkData-1)/ChunkData)) }

// check reports what is wrong with a received manifest, and its key.
func (f *FileInfo) check(limit int64) ([]byte, error) {
	key, err := base64.RawURLEncoding.DecodeString(f.Key)
	switch {
	case err != nil || len(key) != 32:
		return nil, errors.New("bad file key")
	case f.TID == 0:
		return nil, errors.New("no transfer id")
	case f.Size < 0 || f.Size > limit:
		return nil, fmt.Errorf("a file of %d bytes is over this client's limit of %d", f.Size, limit)
	case f.Chunks != chunksFor(f.Size):
		return nil, errors.New("chunk count does not match the size")
	case len(f.SHA256) != 64:
		return nil, errors.New("bad file hash")
	}
	if _, err := hex.DecodeString(f.SHA256); err != nil {
		return nil, errors.New("bad file hash")
	}
	return key, nil
}

// transfer is a file being received.
type transfer struct {
	info     FileInfo
	key      []byte
	from     Member
	dm       bool
	next     int // index of the next chunk
	data     []byte
	sum      hash.Hash
	reported int64 // bytes at the last progress event
}

type transferKey struct {
	sender uint32
	tid    uint32
}

// SendFile sends data as a file named name of MIME type typ, to the room
// (to = 0) or to one member in a DM. It returns once every chunk is written;
// the relay paces a room's files, so this takes about size / room rate.
func (c *Client) SendFile(ctx context.Context, to uint32, name, typ string, data []byte, voice bool) error {
	if int64(len(data)) > c.maxFile() {
		return fmt.Errorf("the file is %d bytes; the limit is %d", len(data), c.maxFile())
	}
	var key [32]byte
	rand.Read(key[:])
	sum := sha256.Sum256(data)
	info := FileInfo{TID: randomSID(), Name: name, Type: typ, Size: int64(len(data)), Chunks: chunksFor(int64(len(data))),
		SHA256: hex.EncodeToString(sum[:]), Key: base64.RawURLEncoding.EncodeToString(key[:]), Voice: voice}
	msg := Message{ID: newID(), File: &info}
	if to != 0 {
		if err := c.ensureDM(ctx, to); err != nil {
			return err
		}
	}
	c.mu.Lock()
	err := c.sendMessageLocked(ctx, to, msg)
	session, rid := c.session, c.keys.RID
	c.mu.Unlock()
	if err != nil {
		return err
	}
	// The chunks: sealed and written without holding the client's lock, so
	// incoming frames are still read while the relay paces this sender.
	for i := 0; i < info.Chunks; i++ {
		part := data[min(int64(i)*ChunkData, info.Size):min(int64(i+1)*ChunkData, info.Size)]
		h := protocol.Header{Version: protocol.Version, Suite: e2ee.SuiteV2, Kind: protocol.KindChunk, RID: rid,
			Sender: session, To: to, Epoch: info.TID, Seq: uint64(i + 1)}
		if i == info.Chunks-1 {
			h.Flags = protocol.FlagLast
		}
		env, err := e2ee.Seal(h, key[:], c.id.Ed, part, nil)
		if err != nil {
			return err
		}
		if err := c.write(ctx, envFrame(env)); err != nil {
			return fmt.Errorf("send chunk %d of %d: %w", i+1, info.Chunks, err)
		}
	}
	return nil
}

func (c *Client) maxFile() int64 {
	if c.cfg.MaxFile > 0 {
		return c.cfg.MaxFile
	}
	return DefaultMaxFile
}

// ensureDM sets up a DM session with to if there is none, and waits for it.
func (c *Client) ensureDM(ctx context.Context, to uint32) error {
	c.mu.Lock()
	m, ok := c.members[to]
	if !ok {
		c.mu.Unlock()
		return ErrNotMember
	}
	ready := m.dm != nil && m.dm.send != nil
	c.mu.Unlock()
	if ready {
		return nil
	}
	if err := c.DMHandshake(ctx, to); err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	for c.DMSafety(to) == "" {
		if time.Now().After(deadline) {
			return errors.New("the member did not answer the DM handshake within 10s")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// fileStartLocked registers the transfer a manifest announces.
func (c *Client) fileStartLocked(m *member, msg Message, dm bool) ([]Event, error) {
	key, err := msg.File.check(c.maxFile())
	if err != nil {
		return nil, rejectf("file manifest: %v", err)
	}
	if c.transfers == nil {
		c.transfers = map[transferKey]*transfer{}
	}
	tk := transferKey{m.Session, msg.File.TID}
	if _, dup := c.transfers[tk]; dup {
		return nil, rejectf("file manifest: transfer id already in use")
	}
	// A member sends one file at a time: a new manifest means its previous
	// file ended early (it was truncated on the way, or cancelled).
	var evs []Event
	for k, t := range c.transfers {
		if k.sender == m.Session {
			delete(c.transfers, k)
			evs = append(evs, Event{Type: "file-failed", From: t.from, File: &t.info, Text: "the file was cut short (truncated or cancelled)"})
		}
	}
	info := *msg.File
	c.transfers[tk] = &transfer{info: info, key: key, from: c.publicLocked(m), dm: dm, data: make([]byte, 0, min(info.Size, 1<<20)), sum: sha256.New()}
	return append(evs, Event{Type: "file-offer", From: c.publicLocked(m), ID: msg.ID, Text: msg.Body, File: &info}), nil
}

// chunkLocked takes one chunk of a transfer in.
func (c *Client) chunkLocked(env []byte, h protocol.Header, m *member) ([]Event, error) {
	tk := transferKey{m.Session, h.Epoch}
	t, ok := c.transfers[tk]
	if !ok {
		return nil, rejectf("chunk of an unknown transfer")
	}
	fail := func(why string) ([]Event, error) {
		delete(c.transfers, tk)
		return []Event{{Type: "file-failed", From: t.from, File: &t.info, Text: why}}, nil
	}
	idx := int(h.Seq) - 1
	if h.Seq == 0 || idx != t.next {
		return fail(fmt.Sprintf("chunk %d arrived where chunk %d was due (reordered, duplicated or lost)", h.Seq, t.next+1))
	}
	if last := idx == t.info.Chunks-1; last != (h.Flags == protocol.FlagLast) {
		return fail("the last-chunk mark is wrong (the file was truncated or extended)")
	}
	if (h.To != 0) != t.dm {
		return fail("a chunk changed between the room and a DM")
	}
	data, err := e2ee.Decrypt(env, t.key) // the signature was checked in envelopeLocked
	if err != nil {
		return fail("a chunk does not open (it was altered)")
	}
	want := min(int64(ChunkData), t.info.Size-int64(idx)*ChunkData)
	if int64(len(data)) != want {
		return fail("a chunk has the wrong length")
	}
	t.data = append(t.data, data...)
	t.sum.Write(data)
	t.next++
	if t.next < t.info.Chunks {
		if int64(len(t.data))-t.reported >= 1<<20 {
			t.reported = int64(len(t.data))
			return []Event{{Type: "file-progress", From: t.from, File: &t.info, Progress: t.reported}}, nil
		}
		return nil, nil
	}
	delete(c.transfers, tk)
	if hex.EncodeToString(t.sum.Sum(nil)) != t.info.SHA256 {
		return []Event{{Type: "file-failed", From: t.from, File: &t.info, Text: "the file's SHA-256 does not match its manifest"}}, nil
	}
	return []Event{{Type: "file", From: t.from, File: &t.info, Data: t.data, Progress: t.info.Size}}, nil
}
