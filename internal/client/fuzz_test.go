package client_test

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/mlkem"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/coder/websocket"

	"veil/internal/client"
	"veil/internal/e2ee"
	"veil/internal/fuzzseed"
	"veil/internal/protocol"
)

// The fuzz targets below feed peer data to a client built by NewOffline
// (fuzz_export_test.go): a member "peer" (session 2) seals what the fuzzer
// chose, the client (session 1) decodes it. Their seeds are in
// testdata/fuzz/FuzzXxx, made by the real encoders:
// go test -run TestWriteFuzzCorpus -update-corpus. Every key is fixed, so the
// committed seeds keep opening.

const (
	self      = 1
	peerID    = 2
	otherID   = 4
	fileLimit = 1 << 20 // the offline client's MaxFile, so no input allocates much
)

var (
	nonce   = bytes.Repeat([]byte{0x0c}, protocol.NonceLen)
	ownerKy = [32]byte{0x0e}
)

// fixture is the room, the three identities and the peer's fixed secrets.
type fixture struct {
	keys            e2ee.Keys
	me, peer, other e2ee.Identity
	ck              [32]byte   // CK_1 of the peer's group chain, epoch 1
	mks             [][32]byte // mk_i of that chain
	eph             *ecdh.PrivateKey
	dk              *mlkem.DecapsulationKey768
	lowOrderProbe   *ecdh.PrivateKey
	peerMember      e2ee.Member
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	fx := &fixture{ck: [32]byte{0xc4}}
	var err error
	must := func(err error) {
		if err != nil {
			tb.Fatal(err)
		}
	}
	fx.keys, err = e2ee.DeriveRoom(bytes.Repeat([]byte{0x5e}, 32), "")
	must(err)
	id := func(a, b byte) e2ee.Identity {
		i, err := e2ee.IdentityFromSeeds(bytes.Repeat([]byte{a}, 32), bytes.Repeat([]byte{b}, 32))
		must(err)
		return i
	}
	fx.me, fx.peer, fx.other = id(0x11, 0x12), id(0xa1, 0xa2), id(0xd1, 0xd2)
	fx.mks = make([][32]byte, e2ee.MaxJump+200)
	ck := fx.ck
	for i := 1; i < len(fx.mks); i++ {
		fx.mks[i], ck = e2ee.ChainStep(ck)
	}
	fx.eph, err = ecdh.X25519().NewPrivateKey(bytes.Repeat([]byte{0xe1}, 32))
	must(err)
	fx.lowOrderProbe, err = ecdh.X25519().NewPrivateKey(bytes.Repeat([]byte{0x42}, 32))
	must(err)
	fx.dk, err = mlkem.NewDecapsulationKey768(bytes.Repeat([]byte{0xdc}, mlkem.SeedSize))
	must(err)
	fx.peerMember = e2ee.Member{Session: peerID, Alias: "peer", EdPub: fx.peer.EdPub(), XPub: fx.peer.XPub(), Caps: []string{e2ee.CapMLKEM}}
	return fx
}

// sinkSocket returns a socket to a loopback server that reads and drops
// every frame: where an offline client's writes go.
func sinkSocket(tb testing.TB) *websocket.Conn {
	tb.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		ws.SetReadLimit(-1)
		for {
			if _, _, err := ws.Read(r.Context()); err != nil {
				return
			}
		}
	}))
	ws, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		srv.Close()
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ws.CloseNow()
		srv.Close()
	})
	return ws
}

// client returns a fresh offline client with the peer as a member (its
// group chain at CK_1) and the frames it writes collected in *out.
func (fx *fixture) client(ws *websocket.Conn, out *[][]byte, mod func(*client.Config)) *client.Client {
	cfg := client.Config{MaxFile: fileLimit, Tap: func(dir string, b []byte) {
		if dir == "out" && out != nil {
			*out = append(*out, bytes.Clone(b))
		}
	}}
	if mod != nil {
		mod(&cfg)
	}
	c := client.NewOffline(cfg, fx.keys, fx.me, self, ws)
	c.AddMember(fx.peerMember, 1, &fx.ck)
	return c
}

func frame(env []byte) []byte { return append([]byte{protocol.TypeEnvelope}, env...) }

func (fx *fixture) header(kind byte, to, epoch uint32, seq uint64) protocol.Header {
	return protocol.Header{Version: protocol.Version, Suite: e2ee.SuiteV2, Kind: kind, RID: fx.keys.RID, Sender: peerID, To: to, Epoch: epoch, Seq: seq}
}

// msg is the peer's group message seq (epoch 1) with plaintext data.
func (fx *fixture) msg(seq uint64, data []byte) []byte {
	env, err := e2ee.Seal(fx.header(protocol.KindMsg, 0, 1, seq), fx.mks[seq][:], fx.peer.Ed, data, nonce)
	if err != nil {
		panic(err) // callers keep data within MaxData
	}
	return frame(env)
}

// handshake is the peer's kind-5 envelope for DM session sid, control
// counter ctl, with plaintext data.
func (fx *fixture) handshake(sid uint32, ctl uint64, data []byte) []byte {
	env, err := e2ee.Seal(fx.header(protocol.KindHandshake, self, sid, ctl), fx.keys.Roster[:], fx.peer.Ed, data, nonce)
	if err != nil {
		panic(err)
	}
	return frame(env)
}

// Every event type a client emits (client.Event).
var eventTypes = []string{"ready", "join", "leave", "msg", "dm", "gap", "reject", "warning", "error", "closed", "state", "report",
	"file-offer", "file-progress", "file", "file-failed", "reconnecting", "reconnected"}

func types(t *testing.T, evs []client.Event) string {
	t.Helper()
	var s []string
	for _, e := range evs {
		if !slices.Contains(eventTypes, e.Type) {
			t.Fatalf("event of unknown type %q", e.Type)
		}
		s = append(s, e.Type)
	}
	return strings.Join(s, ",")
}

// manifestOK restates docs/protocol.md 8.1: the manifest a receiver accepts.
func manifestOK(f client.FileInfo) bool {
	key, err := base64.RawURLEncoding.DecodeString(f.Key)
	sum, herr := hex.DecodeString(f.SHA256)
	chunks := (f.Size + client.ChunkData - 1) / client.ChunkData
	return err == nil && len(key) == 32 && f.TID != 0 && f.Size >= 0 && f.Size <= fileLimit &&
		int64(f.Chunks) == max(chunks, 1) && herr == nil && len(sum) == 32
}

// FuzzMessage: the peer sends data as its group message seq (1 + seq mod
// 2100). It comes out as a message, a file offer or a rejection exactly as
// docs/protocol.md 5.2, 7.2 and 8.1 say; a rejected one changes nothing
// (the same index still opens), an accepted one cannot be replayed.
func FuzzMessage(f *testing.F) {
	fx := newFixture(f)
	ws := sinkSocket(f)
	ok := []byte(`{"id":"ok","body":"fine"}`)
	f.Fuzz(func(t *testing.T, data []byte, seq uint16) {
		if len(data) > e2ee.MaxData {
			return
		}
		ctx := t.Context()
		c := fx.client(ws, nil, nil)
		s := 1 + uint64(seq)%(e2ee.MaxJump+100)
		fr := fx.msg(s, data)
		evs := c.Feed(ctx, fr)
		got := types(t, evs)
		var msg client.Message
		isMsg := json.Unmarshal(data, &msg) == nil && msg.ID != ""
		gap := ""
		if s > 1 {
			gap = "gap,"
		}
		if len(evs) > 1 && (evs[0].Type != "gap" || evs[0].Missing != s-1) {
			t.Fatalf("message %d after none: events %+v", s, evs)
		}
		switch {
		case s-1 > e2ee.MaxJump, !isMsg:
			if got != "reject" {
				t.Fatalf("message %d %q: events %s, want reject", s, data, got)
			}
			if s-1 > e2ee.MaxJump {
				return
			}
			// Nothing changed: the same index opens a good message.
			if got := types(t, c.Feed(ctx, fx.msg(s, ok))); got != gap+"msg" {
				t.Fatalf("after a rejected message %d: events %s", s, got)
			}
		case msg.File == nil:
			e := evs[len(evs)-1]
			if got != gap+"msg" || e.ID != msg.ID || e.Text != msg.Body || e.TTL != msg.TTL || e.From.Session != peerID {
				t.Fatalf("message %d %q: events %+v", s, data, evs)
			}
			if got := types(t, c.Feed(ctx, fr)); got != "reject" {
				t.Fatalf("replayed message %d: events %s", s, got)
			}
		default:
			_, err := client.CheckManifest(*msg.File, fileLimit)
			if valid := manifestOK(*msg.File); (err == nil) != valid {
				t.Fatalf("manifest %+v: check = %v, want valid %v", *msg.File, err, valid)
			}
			want := gap + "reject"
			if err == nil {
				want = gap + "file-offer"
			}
			if got != want || err == nil && *evs[len(evs)-1].File != *msg.File || c.Transfers() != map[bool]int{true: 1}[err == nil] {
				t.Fatalf("manifest %q: events %s (%d transfers), want %s", data, got, c.Transfers(), want)
			}
		}
	})
}

type handshakeJSON struct {
	T     string `json:"t"`
	E     string `json:"e"`
	KEM   string `json:"kem,omitempty"`
	KEMCT string `json:"kemct,omitempty"`
}

// lowOrder reports whether X25519 with the point e gives all zeros.
func (fx *fixture) lowOrder(e []byte) bool {
	pub, err := ecdh.X25519().NewPublicKey(e)
	if err != nil {
		return true
	}
	_, err = fx.lowOrderProbe.ECDH(pub)
	return err != nil
}

// openOut decodes a frame the client wrote and opens it as a handshake.
func (fx *fixture) openOut(t *testing.T, b []byte) (protocol.Header, handshakeJSON) {
	t.Helper()
	f, err := protocol.Decode(b)
	env, ok := f.(protocol.Envelope)
	if err != nil || !ok || env.Header.Kind != protocol.KindHandshake || env.Header.To != peerID {
		t.Fatalf("the client wrote %x, not a handshake to the peer", b)
	}
	_, data, err := e2ee.Open(env.Body(), fx.keys.Roster[:], fx.me.EdPub())
	var hs handshakeJSON
	if err != nil || json.Unmarshal(data, &hs) != nil {
		t.Fatalf("the client's handshake %x: %q, %v", b, data, err)
	}
	return env.Header, hs
}

// FuzzHandshake: the peer sends data as a DM handshake: an offer to the
// client, or (accept) an accept of the client's offer, with (hybrid) or
// without ML-KEM on both sides. It sets up a DM session exactly when
// docs/protocol.md 7.3 allows, and then both sides compute the same safety
// code; otherwise nothing changes and nothing is sent.
func FuzzHandshake(f *testing.F) {
	fx := newFixture(f)
	ws := sinkSocket(f)
	ephPub := fx.eph.PublicKey().Bytes()
	f.Fuzz(func(t *testing.T, data []byte, accept, hybrid bool) {
		if len(data) > e2ee.MaxData {
			return
		}
		ctx := t.Context()
		var out [][]byte
		c := fx.client(ws, &out, func(cfg *client.Config) { cfg.NoMLKEM = !hybrid })
		var hs handshakeJSON
		jerr := json.Unmarshal(data, &hs)
		e, eerr := base64.RawURLEncoding.DecodeString(hs.E)
		valid := jerr == nil && eerr == nil && len(e) == 32 && !fx.lowOrder(e)

		if !accept {
			valid = valid && hs.T == "offer" && hs.KEMCT == "" && (hs.KEM != "") == hybrid
			var kem []byte
			if valid && hybrid {
				kem, _ = base64.RawURLEncoding.DecodeString(hs.KEM)
				_, err := mlkem.NewEncapsulationKey768(kem)
				valid = err == nil
			}
			evs := c.Feed(ctx, fx.handshake(77, 2, data))
			got := types(t, evs)
			ctl, sid, ready := c.PeerState(peerID)
			if !valid {
				if got != "reject" || len(out) != 0 || ctl != 1 || sid != 0 {
					t.Fatalf("offer %q: events %s, %d frames written, ctl %d, sid %d", data, got, len(out), ctl, sid)
				}
				return
			}
			if got != "" || len(out) != 1 || !ready || sid != 77 || ctl != 2 {
				t.Fatalf("offer %q: events %s, %d frames written, ready %v, sid %d, ctl %d", data, got, len(out), ready, sid, ctl)
			}
			h, reply := fx.openOut(t, out[0])
			eB, err := base64.RawURLEncoding.DecodeString(reply.E)
			if h.Epoch != 77 || reply.T != "accept" || err != nil || len(eB) != 32 || (reply.KEMCT != "") != hybrid || reply.KEM != "" {
				t.Fatalf("offer %q answered with %+v %+v", data, h, reply)
			}
			if !bytes.Equal(e, ephPub) || hybrid && !bytes.Equal(kem, fx.dk.EncapsulationKey().Bytes()) {
				return // the fuzzer's key: we cannot play the peer's part
			}
			p := e2ee.DMParams{Initiator: true, RID: fx.keys.RID, A: peerID, B: self, SID: 77, EdA: fx.peer.EdPub(), XA: fx.peer.XPub(),
				EdB: fx.me.EdPub(), XB: fx.me.XPub(), EA: e, EB: eB, MyEph: fx.eph, MyX: fx.peer.X}
			if hybrid {
				ct, _ := base64.RawURLEncoding.DecodeString(reply.KEMCT)
				ss, err := fx.dk.Decapsulate(ct)
				if err != nil {
					t.Fatalf("the client's ML-KEM ciphertext: %v", err)
				}
				p.KEM, p.KEMCT, p.SS = kem, ct, ss
			}
			if k, err := e2ee.DMDerive(p); err != nil || k.Safety != c.DMSafety(peerID) {
				t.Fatalf("offer %q: the peer's safety code %q (%v), the client's %q", data, k.Safety, err, c.DMSafety(peerID))
			}
			return
		}

		if err := c.DMHandshake(ctx, peerID); err != nil || len(out) != 1 {
			t.Fatalf("DMHandshake = %v, %d frames", err, len(out))
		}
		oh, offer := fx.openOut(t, out[0])
		// Offers that cross: the lower session's stands, here the client's.
		crossing := jerr == nil && eerr == nil && len(e) == 32 && hs.T == "offer" && hs.KEMCT == "" && (hs.KEM != "") == hybrid
		valid = valid && hs.T == "accept" && hs.KEM == "" && (hs.KEMCT != "") == hybrid
		if valid && hybrid {
			ct, err := base64.RawURLEncoding.DecodeString(hs.KEMCT)
			valid = err == nil && len(ct) == mlkem.CiphertextSize768
		}
		evs := c.Feed(ctx, fx.handshake(oh.Epoch, 2, data))
		got := types(t, evs)
		ctl, sid, ready := c.PeerState(peerID)
		if crossing {
			if got != "" || len(out) != 1 || ctl != 2 || ready || sid != oh.Epoch {
				t.Fatalf("crossing offer %q: events %s, %d frames written, ctl %d, ready %v", data, got, len(out), ctl, ready)
			}
			return
		}
		if !valid {
			if got != "reject" || len(out) != 1 || ctl != 1 || ready {
				t.Fatalf("accept %q: events %s, %d frames written, ctl %d, ready %v", data, got, len(out), ctl, ready)
			}
			return
		}
		if got != "" || len(out) != 1 || !ready || sid != oh.Epoch || ctl != 2 || c.DMSafety(peerID) == "" {
			t.Fatalf("accept %q: events %s, %d frames written, ready %v, sid %d/%d, ctl %d", data, got, len(out), ready, sid, oh.Epoch, ctl)
		}
		if hybrid || !bytes.Equal(e, ephPub) {
			return // the ML-KEM secret or the ephemeral key is not ours to know
		}
		eA, _ := base64.RawURLEncoding.DecodeString(offer.E)
		p := e2ee.DMParams{RID: fx.keys.RID, A: self, B: peerID, SID: oh.Epoch, EdA: fx.me.EdPub(), XA: fx.me.XPub(),
			EdB: fx.peer.EdPub(), XB: fx.peer.XPub(), EA: eA, EB: e, MyEph: fx.eph, MyX: fx.peer.X}
		if k, err := e2ee.DMDerive(p); err != nil || k.Safety != c.DMSafety(peerID) {
			t.Fatalf("accept %q: the peer's safety code %q (%v), the client's %q", data, k.Safety, err, c.DMSafety(peerID))
		}
	})
}

// The files of FuzzFileChunks: one chunk, or two (the first full).
var (
	shortFile = []byte("a short file")
	longFile  = append(bytes.Repeat([]byte("0123456789abcdef"), client.ChunkData/16+1)[:client.ChunkData], '!')
)

// manifest is the peer's message (seq 1) announcing file under transfer
// id 9 and key, as SendFile writes it.
func (fx *fixture) manifest(file, key []byte) []byte {
	sum := sha256.Sum256(file)
	info := client.FileInfo{TID: 9, Name: "f.txt", Type: "text/plain", Size: int64(len(file)), Chunks: (len(file) + client.ChunkData - 1) / client.ChunkData,
		SHA256: hex.EncodeToString(sum[:]), Key: base64.RawURLEncoding.EncodeToString(key)}
	data, _ := json.Marshal(client.Message{ID: "m", File: &info})
	return fx.msg(1, data)
}

// chunk is the peer's kind-6 envelope of transfer 9 with index seq, flags
// and data; tamper alters its ciphertext (and signs it again).
func (fx *fixture) chunk(key []byte, seq uint64, flags byte, data []byte, tamper bool) []byte {
	h := fx.header(protocol.KindChunk, 0, 9, seq)
	h.Flags = flags
	env, err := e2ee.Seal(h, key, fx.peer.Ed, data, nonce)
	if err != nil {
		panic(err)
	}
	if tamper {
		env[protocol.HeaderLen+protocol.NonceLen] ^= 1
		body := bytes.Clone(env[:len(env)-protocol.SigLen])
		env = append(body, ed25519.Sign(fx.peer.Ed, body)...)
	}
	return frame(env)
}

// FuzzFileChunks: after a manifest, the peer sends two chunks of its
// choosing (data, index, flags, ciphertext altered or not). The file comes
// out only when they are exactly its chunks, in order, marked right; a
// transfer ends at most once, and then nothing of it is kept.
func FuzzFileChunks(f *testing.F) {
	fx := newFixture(f)
	ws := sinkSocket(f)
	key := bytes.Repeat([]byte{0xf1}, 32)
	f.Fuzz(func(t *testing.T, two bool, a, b []byte, seqA, seqB uint64, flagsA, flagsB byte, tamper byte) {
		if len(a) > e2ee.MaxData || len(b) > e2ee.MaxData {
			return
		}
		ctx := t.Context()
		file := shortFile
		if two {
			file = longFile
		}
		c := fx.client(ws, nil, nil)
		if got := types(t, c.Feed(ctx, fx.manifest(file, key))); got != "file-offer" {
			t.Fatalf("manifest: events %s", got)
		}
		var evs []client.Event
		evs = append(evs, c.Feed(ctx, fx.chunk(key, seqA, flagsA, a, tamper&1 != 0))...)
		evs = append(evs, c.Feed(ctx, fx.chunk(key, seqB, flagsB, b, tamper&2 != 0))...)
		got := types(t, evs)
		// A chunk whose frame is malformed or whose index is 0 is refused
		// before it reaches the transfer; the others must be the file's
		// chunks, in order, marked right, unaltered.
		type chunk struct {
			seq    uint64
			flags  byte
			data   []byte
			tamper bool
		}
		var reached []chunk
		for _, x := range []chunk{{seqA, flagsA, a, tamper&1 != 0}, {seqB, flagsB, b, tamper&2 != 0}} {
			if x.seq >= 1 && (x.flags == 0 || x.flags == protocol.FlagLast) {
				reached = append(reached, x)
			}
		}
		want := []chunk{{1, protocol.FlagLast, file, false}}
		if two {
			want = []chunk{{1, 0, file[:client.ChunkData], false}, {2, protocol.FlagLast, file[client.ChunkData:], false}}
		}
		right := len(reached) >= len(want)
		for i := 0; right && i < len(want); i++ {
			x, w := reached[i], want[i]
			right = x.seq == w.seq && x.flags == w.flags && bytes.Equal(x.data, w.data) && !x.tamper
		}
		ends := strings.Count(got, "file-failed") + strings.Count(","+got+",", ",file,")
		switch {
		case right != strings.Contains(","+got+",", ",file,"):
			t.Fatalf("chunks %d/%#x %d bytes, %d/%#x %d bytes, tamper %d: events %s", seqA, flagsA, len(a), seqB, flagsB, len(b), tamper, got)
		case ends > 1:
			t.Fatalf("a transfer ended %d times: %s", ends, got)
		case (ends == 1) != (c.Transfers() == 0):
			t.Fatalf("events %s, yet %d transfers kept", got, c.Transfers())
		}
		for _, e := range evs {
			if e.Type == "file" && !bytes.Equal(e.Data, file) {
				t.Fatalf("a file of %d bytes came out, not the one announced", len(e.Data))
			}
		}
	})
}

// FuzzRoomName: the client reads the room's name (and report key) from the
// meta JSON it opens, and a name sealed by a creator comes back as written.
func FuzzRoomName(f *testing.F) {
	fx := newFixture(f)
	ws := sinkSocket(f)
	f.Fuzz(func(t *testing.T, meta []byte, name string) {
		c := fx.client(ws, nil, nil)
		c.SetMeta(meta) // unsealed: opens under no key
		if _, err := e2ee.OpenMeta(fx.keys.Roster[:], fx.keys.RID, meta); err != nil && (c.RoomName() != "" || c.CanReport()) {
			t.Fatalf("meta %x that does not open: name %q, can report %v", meta, c.RoomName(), c.CanReport())
		}
		if sealed, err := e2ee.SealMeta(fx.keys.Roster[:], fx.keys.RID, meta, nonce); err == nil {
			c.SetMeta(sealed)
			var m struct {
				Name   string `json:"name"`
				Report string `json:"report"`
			}
			valid := json.Unmarshal(meta, &m) == nil
			rk, err := base64.RawURLEncoding.DecodeString(m.Report)
			if !valid && (c.RoomName() != "" || c.CanReport()) || valid && (c.RoomName() != m.Name || c.CanReport() != (err == nil && len(rk) == 32)) {
				t.Fatalf("meta %q: name %q, can report %v", meta, c.RoomName(), c.CanReport())
			}
		}
		raw, _ := json.Marshal(map[string]string{"name": name})
		sealed, err := e2ee.SealMeta(fx.keys.Roster[:], fx.keys.RID, raw, nonce)
		if err != nil {
			return // too long for a meta
		}
		c.SetMeta(sealed)
		var want strings.Builder // JSON carries each invalid byte as U+FFFD
		for _, r := range name {
			want.WriteRune(r)
		}
		if got := c.RoomName(); got != want.String() || !utf8.ValidString(got) {
			t.Fatalf("room named %q reads %q", name, got)
		}
	})
}

// FuzzParseOwnerKey: an owner key that parses, in whichever accepted form,
// prints in the one form veil create uses and reads back as the same key;
// one that does not gets the one documented error.
func FuzzParseOwnerKey(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		k, err := client.ParseOwnerKey(s)
		if err != nil {
			if k != nil || err != client.ErrOwnerKey {
				t.Fatalf("ParseOwnerKey(%q) = %v, %v", s, k, err)
			}
			return
		}
		// Whatever form was accepted, the key prints in one form that reads
		// back as the same key.
		printed := (client.Created{Owner: *k}).OwnerKey()
		if again, err := client.ParseOwnerKey(printed); err != nil || *again != *k || len(printed) != 43 {
			t.Fatalf("ParseOwnerKey(%q) = %x, printed %q, read back %v, %v", s, *k, printed, again, err)
		}
	})
}

// FuzzClientFrame: any frame from the relay gives only documented events,
// and what the client reports is backed by the frame: a message or gap
// only from a verified envelope of the peer, a member only from a hello
// that opens, a report only from one that opens under the owner key.
func FuzzClientFrame(f *testing.F) {
	fx := newFixture(f)
	ws := sinkSocket(f)
	rk, err := e2ee.ReportKey(ownerKy, fx.keys)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var out [][]byte
		c := fx.client(ws, &out, nil)
		if err := c.SetOwnerKey(ownerKy); err != nil {
			t.Fatal(err)
		}
		evs := c.Feed(t.Context(), b)
		got := types(t, evs)
		fr, err := protocol.Decode(b)
		if err != nil {
			if got != "reject" {
				t.Fatalf("malformed frame %x: events %s", b, got)
			}
			return
		}
		var env []byte
		if e, ok := fr.(protocol.Envelope); ok {
			env = e.Body()
		}
		for _, e := range evs {
			switch e.Type {
			case "msg", "gap", "file-offer":
				if _, err := e2ee.Verify(env, fx.peer.EdPub()); err != nil || e.From.Session != peerID {
					t.Fatalf("frame %x: %s from %d without the peer's signature", b, e.Type, e.From.Session)
				}
			case "join":
				if m, _, err := e2ee.OpenHello(fx.keys, env); err != nil || m.Session != e.From.Session {
					t.Fatalf("frame %x: a member joined without a hello that opens: %v", b, err)
				}
			case "report":
				if _, err := e2ee.OpenReport(env, rk, fx.peer.EdPub()); err != nil {
					t.Fatalf("frame %x: a report that does not open: %v", b, err)
				}
			case "leave":
				if l, ok := fr.(protocol.Left); !ok || l.Session != peerID || len(c.Members()) != 0 {
					t.Fatalf("frame %x: leave event, %d members", b, len(c.Members()))
				}
			}
		}
	})
}

// TestWriteFuzzCorpus checks that every seed is in testdata; with
// -update-corpus it rewrites the seed corpora.
func TestWriteFuzzCorpus(t *testing.T) {
	fx := newFixture(t)
	b64 := base64.RawURLEncoding.EncodeToString
	fileKey := b64(bytes.Repeat([]byte{0xf1}, 32))
	sum := sha256.Sum256(shortFile)
	info := client.FileInfo{TID: 9, Name: "f.txt", Type: "text/plain", Size: int64(len(shortFile)), Chunks: 1, SHA256: hex.EncodeToString(sum[:]), Key: fileKey}
	manifest := func(mod func(*client.FileInfo)) []byte {
		i := info
		if mod != nil {
			mod(&i)
		}
		b, _ := json.Marshal(client.Message{ID: "f", Body: "caption", File: &i})
		return b
	}
	fuzzseed.Corpus(t, "FuzzMessage", map[string][]any{
		"message":         {[]byte(`{"id":"0123456789abcdef0123456789abcdef","body":"hello **there**"}`), uint16(0)},
		"message-ttl":     {[]byte(`{"id":"a","body":"gone soon","ttl":30,"reply":{"id":"b","alias":"x","text":""}}`), uint16(4)},
		"gap-2000":        {[]byte(`{"id":"a","body":"far"}`), uint16(e2ee.MaxJump)},
		"jump-2001":       {[]byte(`{"id":"a","body":"too far"}`), uint16(e2ee.MaxJump + 1)},
		"no-id":           {[]byte(`{"body":"who"}`), uint16(0)},
		"not-json":        {[]byte(`{"id":"a",`), uint16(1)},
		"null":            {[]byte(`null`), uint16(0)},
		"wrong-types":     {[]byte(`{"id":1,"body":["x"],"ttl":"30"}`), uint16(0)},
		"manifest":        {manifest(nil), uint16(0)},
		"manifest-tid-0":  {manifest(func(i *client.FileInfo) { i.TID = 0 }), uint16(0)},
		"manifest-chunks": {manifest(func(i *client.FileInfo) { i.Chunks = 2 }), uint16(0)},
		"manifest-size":   {manifest(func(i *client.FileInfo) { i.Size, i.Chunks = fileLimit+1, fileLimit/client.ChunkData+1 }), uint16(0)},
		"manifest-empty":  {manifest(func(i *client.FileInfo) { i.Size = 0 }), uint16(0)},
		"manifest-key":    {manifest(func(i *client.FileInfo) { i.Key = i.Key[1:] }), uint16(0)},
		"manifest-hash":   {manifest(func(i *client.FileInfo) { i.SHA256 = strings.ToUpper(i.SHA256[:63]) + "g" }), uint16(0)},
		"manifest-neg":    {manifest(func(i *client.FileInfo) { i.Size = -1 }), uint16(0)},
	})

	ephPub := b64(fx.eph.PublicKey().Bytes())
	ek := b64(fx.dk.EncapsulationKey().Bytes())
	hs := func(v any) []byte { b, _ := json.Marshal(v); return b }
	zero := b64(make([]byte, 32))
	fuzzseed.Corpus(t, "FuzzHandshake", map[string][]any{
		"offer":                {hs(map[string]string{"t": "offer", "e": ephPub}), false, false},
		"offer-hybrid":         {hs(map[string]string{"t": "offer", "e": ephPub, "kem": ek}), false, true},
		"offer-missing-kem":    {hs(map[string]string{"t": "offer", "e": ephPub}), false, true},
		"offer-stray-kem":      {hs(map[string]string{"t": "offer", "e": ephPub, "kem": ek}), false, false},
		"offer-kemct":          {hs(map[string]string{"t": "offer", "e": ephPub, "kemct": ek}), false, false},
		"offer-short-kem":      {hs(map[string]string{"t": "offer", "e": ephPub, "kem": ek[:100]}), false, true},
		"offer-low-order":      {hs(map[string]string{"t": "offer", "e": zero}), false, false},
		"offer-short-e":        {hs(map[string]string{"t": "offer", "e": ephPub[:42]}), false, false},
		"offer-upper-keys":     {[]byte(`{"T":"offer","E":"` + ephPub + `"}`), false, false},
		"accept":               {hs(map[string]string{"t": "accept", "e": ephPub}), true, false},
		"accept-hybrid":        {hs(map[string]string{"t": "accept", "e": ephPub, "kemct": b64(bytes.Repeat([]byte{7}, mlkem.CiphertextSize768))}), true, true},
		"accept-short-kemct":   {hs(map[string]string{"t": "accept", "e": ephPub, "kemct": b64(bytes.Repeat([]byte{7}, 100))}), true, true},
		"accept-missing-kemct": {hs(map[string]string{"t": "accept", "e": ephPub}), true, true},
		"accept-as-offer":      {hs(map[string]string{"t": "offer", "e": ephPub}), true, false},
		"unknown-type":         {hs(map[string]string{"t": "reject", "e": ephPub}), true, false},
		"not-json":             {[]byte(`{"t":"offer","e":`), false, false},
	})

	long := longFile
	fuzzseed.Corpus(t, "FuzzFileChunks", map[string][]any{
		"one-chunk":     {false, shortFile, []byte("extra"), uint64(1), uint64(2), byte(0), byte(0), byte(0)},
		"two-chunks":    {true, long[:client.ChunkData], long[client.ChunkData:], uint64(1), uint64(2), byte(0), protocol.FlagLast, byte(0)},
		"unmarked-last": {false, shortFile, []byte{}, uint64(1), uint64(1), byte(0), protocol.FlagLast, byte(0)},
		"marked-first":  {true, long[:client.ChunkData], long[client.ChunkData:], uint64(1), uint64(2), protocol.FlagLast, protocol.FlagLast, byte(0)},
		"reordered":     {true, long[client.ChunkData:], long[:client.ChunkData], uint64(2), uint64(1), protocol.FlagLast, byte(0), byte(0)},
		"tampered":      {false, shortFile, shortFile, uint64(1), uint64(1), protocol.FlagLast, protocol.FlagLast, byte(1)},
		"wrong-bytes":   {false, []byte("a short filE"), shortFile, uint64(1), uint64(1), protocol.FlagLast, protocol.FlagLast, byte(0)},
		"too-long":      {false, append(bytes.Clone(shortFile), '!'), shortFile, uint64(1), uint64(1), protocol.FlagLast, protocol.FlagLast, byte(0)},
		"bad-flags":     {false, shortFile, shortFile, uint64(1), uint64(1), byte(2), protocol.FlagLast, byte(0)},
		"index-0":       {false, shortFile, shortFile, uint64(0), uint64(1), protocol.FlagLast, protocol.FlagLast, byte(0)},
	})

	fuzzseed.Corpus(t, "FuzzRoomName", map[string][]any{
		"name":        {[]byte(`{"name":"Team room"}`), "Team room"},
		"report-key":  {[]byte(`{"name":"r","report":"` + b64(bytes.Repeat([]byte{9}, 32)) + `"}`), "\u202eevil\u202c"},
		"short-key":   {[]byte(`{"report":"AAAA"}`), "\xff\xfe"},
		"wrong-type":  {[]byte(`{"name":7}`), strings.Repeat("n", 1000)},
		"not-json":    {[]byte(`{"name":"x"`), ""},
		"duplicate":   {[]byte(`{"name":"a","NAME":"b"}`), "<b>x</b>"},
		"empty":       {[]byte{}, "\x00"},
		"array":       {[]byte(`["name"]`), "日本語"},
		"sealed-meta": {mustSeal(t, fx, []byte(`{"name":"sealed"}`)), "x"},
	})

	key := (client.Created{Owner: [32]byte{1, 2, 3}}).OwnerKey()
	fuzzseed.Corpus(t, "FuzzParseOwnerKey", map[string][]any{
		"key":           {key},
		"spaces":        {"  " + key + "\n"},
		"line-break":    {key[:20] + "\n" + key[20:]},
		"padded":        {key + "="},
		"std-alphabet":  {"+/" + key[2:]},
		"short":         {key[:42]},
		"non-canonical": {key[:42] + "B"},
		"hex":           {hex.EncodeToString(bytes.Repeat([]byte{1}, 32))},
		"empty":         {""},
	})

	hello := func(id e2ee.Identity, session uint32, seq uint64) []byte {
		env, _ := e2ee.SealHello(fx.keys, session, seq, id, "someone", nil, nonce)
		return frame(env)
	}
	msg3 := fx.msg(3, []byte(`{"id":"c","body":"third"}`))
	rk, _ := e2ee.ReportKey(ownerKy, fx.keys)
	rh := fx.header(protocol.KindReport, 0, 0, 5)
	report, err := e2ee.SealReport(rh, rk.PublicKey().Bytes(), fx.peer.Ed, msg3[1:], fx.mks[3], "please look")
	if err != nil {
		t.Fatal(err)
	}
	sk, _ := e2ee.SealSenderKey(fx.header(protocol.KindSenderKey, self, 2, 3), fx.me.XPub(), fx.peer.Ed, [32]byte{0x5c}, 1)
	dm, _ := e2ee.Seal(fx.header(protocol.KindDM, self, 5, 1), fx.mks[1][:], fx.peer.Ed, []byte(`{"id":"d","body":"dm"}`), nonce)
	seeds := map[string][]any{
		"msg":             {fx.msg(1, []byte(`{"id":"a","body":"first"}`))},
		"msg-after-gap":   {msg3},
		"manifest":        {fx.msg(1, manifest(nil))},
		"dm-no-session":   {frame(dm)},
		"hello-new":       {hello(fx.other, otherID, 1)},
		"hello-again":     {hello(fx.peer, peerID, 2)},
		"hello-new-keys":  {hello(fx.other, peerID, 3)},
		"sender-key":      {frame(sk)},
		"report":          {frame(report)},
		"handshake-offer": {fx.handshake(6, 2, hs(map[string]string{"t": "offer", "e": ephPub, "kem": ek}))},
		"chunk-unknown":   {fx.chunk(bytes.Repeat([]byte{0xf1}, 32), 1, protocol.FlagLast, shortFile, false)},
		"left-peer":       {protocol.Encode(protocol.Left{Session: peerID, Reason: protocol.LeftRemoved})},
		"left-nobody":     {protocol.Encode(protocol.Left{Session: 99, Reason: protocol.LeftClosed})},
		"state":           {protocol.Encode(protocol.State{Flags: protocol.StateLocked})},
		"error":           {protocol.Encode(protocol.Error{Code: protocol.CloseTooMany, Reason: "slow down"})},
		"welcome":         {protocol.Encode(protocol.Welcome{Session: 3})},
		"garbage":         {[]byte{0x03, 0x01}},
	}
	fuzzseed.Corpus(t, "FuzzClientFrame", seeds)
}

func mustSeal(t *testing.T, fx *fixture, meta []byte) []byte {
	s, err := e2ee.SealMeta(fx.keys.Roster[:], fx.keys.RID, meta, nonce)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
