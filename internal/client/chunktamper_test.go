package client

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/coder/websocket"

	"veil/internal/protocol"
	"veil/internal/vtest"
)

// chunkTamperer sits between one client and the relay and alters the file
// chunks of each transfer by its current mode.
type chunkTamperer struct {
	srv      *httptest.Server
	upstream string
	mode     atomic.Pointer[string]
	lasts    atomic.Int32 // last chunks seen (tampered or not)
}

func newChunkTamperer(t *testing.T, s *vtest.Server) *chunkTamperer {
	tp := &chunkTamperer{upstream: s.WSURL()}
	off := ""
	tp.mode.Store(&off)
	tp.srv = httptest.NewServer(http.HandlerFunc(tp.serve))
	t.Cleanup(tp.srv.Close)
	return tp
}

func (tp *chunkTamperer) link(rm *vtest.Room) string { return linkVia(tp.srv.URL, rm) }

func (tp *chunkTamperer) serve(w http.ResponseWriter, r *http.Request) {
	interpose(w, r, tp.upstream, tp.toClient)
}

// toClient alters file chunks on their way to the client, by the mode.
func (tp *chunkTamperer) toClient(ctx context.Context, up, down *websocket.Conn) {
	var held, prevFile []byte
	send := func(b []byte) bool { return down.Write(ctx, websocket.MessageBinary, b) == nil }
	for {
		_, b, err := up.Read(ctx)
		if err != nil {
			return
		}
		h, herr := protocol.ParseHeader(b[1:])
		mode := *tp.mode.Load()
		if herr != nil || h.Kind != protocol.KindChunk || mode == "" {
			if !send(b) {
				return
			}
			if herr == nil && h.Kind == protocol.KindChunk && h.Flags == protocol.FlagLast {
				tp.lasts.Add(1)
			}
			continue
		}
		out := [][]byte{b}
		last := h.Flags == protocol.FlagLast
		switch {
		case mode == "reorder" && h.Seq == 2:
			held, out = b, nil
		case mode == "reorder" && h.Seq == 3:
			out = [][]byte{b, held}
		case mode == "truncate" && last:
			out = nil // the last chunk never comes
		case mode == "duplicate" && h.Seq == 2:
			out = [][]byte{b, b}
		case mode == "substitute" && h.Seq == 2 && prevFile != nil:
			out = [][]byte{prevFile} // chunk 2 of an earlier file, validly signed
		case mode == "flip" && h.Seq == 3:
			m := append([]byte{}, b...)
			m[len(m)/2] ^= 0x10
			out = [][]byte{m}
		case mode == "drop-last-flag" && last:
			m := append([]byte{}, b...)
			m[1+3] = 0 // the signature no longer matches either
			out = [][]byte{m}
		}
		if h.Seq == 2 {
			prevFile = b
		}
		for _, f := range out {
			if !send(f) {
				return
			}
		}
		if last {
			tp.lasts.Add(1)
		}
	}
}
