package vtest

import (
	"io"
	"net"
	"sync"
	"testing"
)

// CutProxy forwards TCP connections on a loopback port to a target and can
// cut all of them at once, as a network drop would: no close frame, just
// gone. New connections keep working after a cut.
type CutProxy struct {
	Addr string // host:port to dial instead of the target

	mu      sync.Mutex
	conns   []net.Conn
	blocked bool
}

// Block makes the proxy refuse (accept and close at once) new connections
// while on, as a network that is still down.
func (p *CutProxy) Block(on bool) {
	p.mu.Lock()
	p.blocked = on
	p.mu.Unlock()
}

// NewCutProxy starts a proxy to target and stops it when t ends.
func NewCutProxy(t testing.TB, target string) *CutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &CutProxy{Addr: ln.Addr().String()}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		p.Cut()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			blocked := p.blocked
			p.mu.Unlock()
			if blocked {
				c.Close()
				continue
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			wg.Go(func() { io.Copy(u, c); u.Close() })
			wg.Go(func() { io.Copy(c, u); c.Close() })
		}
	})
	return p
}

// Cut closes every connection the proxy carries.
func (p *CutProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}
