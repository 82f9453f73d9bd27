package e2ee

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"
)

// Suite 2 limits (docs/protocol.md section 7.5).
const (
	SuiteV2       = 2
	MaxJump       = 2000
	MaxSkipped    = 2000
	EpochMessages = 100
	EpochAge      = 10 * time.Minute
)

// Errors a receiving chain returns.
var (
	ErrReplay = errors.New("replayed or duplicate message")
	ErrJump   = errors.New("message too far ahead in its chain")
)

// ChainStep derives the message key of ck and the next chain key.
func ChainStep(ck [32]byte) (mk, next [32]byte) {
	h := hmac.New(sha256.New, ck[:])
	h.Write([]byte{1})
	copy(mk[:], h.Sum(nil))
	h.Reset()
	h.Write([]byte{2})
	copy(next[:], h.Sum(nil))
	return mk, next
}

// SendChain is one sending chain. It is not safe for concurrent use.
type SendChain struct {
	ck [32]byte
	n  uint64
}

// NewSendChain starts a chain at ck with index n.
func NewSendChain(ck [32]byte, n uint64) *SendChain { return &SendChain{ck: ck, n: n} }

// Next returns the key and seq of the next message and erases the chain
// key it came from.
func (c *SendChain) Next() (mk [32]byte, seq uint64) {
	mk, next := ChainStep(c.ck)
	seq = c.n
	c.ck, c.n = next, c.n+1
	return mk, seq
}

// Snapshot returns the current chain key and the index of the next message,
// for a member who joins now.
func (c *SendChain) Snapshot() (ck [32]byte, n uint64) { return c.ck, c.n }

// Sent returns how many messages the chain has keyed since index start.
func (c *SendChain) Sent(start uint64) uint64 { return c.n - start }

// Erase overwrites the chain key.
func (c *SendChain) Erase() { c.ck = [32]byte{} }

// RecvChain is one receiving chain with a bounded window of skipped keys.
// It is not safe for concurrent use.
type RecvChain struct {
	ck      [32]byte
	n       uint64 // index of the next expected message
	skipped map[uint64][32]byte
	order   []uint64 // skipped indexes, oldest first
}

// NewRecvChain starts a receiving chain at ck with index n.
func NewRecvChain(ck [32]byte, n uint64) *RecvChain {
	return &RecvChain{ck: ck, n: n, skipped: map[uint64][32]byte{}}
}

// Key returns the message key for seq and how many messages before it were
// skipped. The chain changes only when commit is called, so a message that
// fails to open leaves it as it was.
func (c *RecvChain) Key(seq uint64) (mk [32]byte, missing uint64, commit func(), err error) {
	if seq < c.n {
		k, ok := c.skipped[seq]
		if !ok {
			return mk, 0, nil, ErrReplay
		}
		return k, 0, func() {
			delete(c.skipped, seq)
			for i, s := range c.order {
				if s == seq {
					c.order = append(c.order[:i], c.order[i+1:]...)
					break
				}
			}
		}, nil
	}
	if seq-c.n > MaxJump {
		return mk, 0, nil, fmt.Errorf("%w: %d ahead", ErrJump, seq-c.n)
	}
	ck := c.ck
	skipped := make([][32]byte, 0, seq-c.n)
	for range seq - c.n {
		var k [32]byte
		k, ck = ChainStep(ck)
		skipped = append(skipped, k)
	}
	mk, next := ChainStep(ck)
	start := c.n
	return mk, seq - c.n, func() {
		for i, k := range skipped {
			c.skipped[start+uint64(i)] = k
			c.order = append(c.order, start+uint64(i))
		}
		for len(c.order) > MaxSkipped {
			delete(c.skipped, c.order[0])
			c.order = c.order[1:]
		}
		c.ck, c.n = next, seq+1
	}, nil
}

// Erase forgets every key of the chain.
func (c *RecvChain) Erase() {
	c.ck = [32]byte{}
	clear(c.skipped)
	c.order = nil
}
