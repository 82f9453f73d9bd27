package e2ee_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hpke"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"veil/internal/e2ee"
	"veil/internal/fuzzseed"
	"veil/internal/protocol"
)

// The fuzz targets below read their seeds from testdata/fuzz/FuzzXxx, made
// by the real encoders: go test -run TestWriteFuzzCorpus -update-corpus.
// Every key is fixed, so the committed seeds keep opening.

type fixture struct {
	keys       e2ee.Keys
	alice, bob e2ee.Identity // alice is session 2, bob session 3
}

func newFixture(tb testing.TB) fixture {
	tb.Helper()
	k, err := e2ee.DeriveRoom(bytes.Repeat([]byte{0x5e}, 32), "")
	if err != nil {
		tb.Fatal(err)
	}
	alice, err := e2ee.IdentityFromSeeds(bytes.Repeat([]byte{0xa1}, 32), bytes.Repeat([]byte{0xa2}, 32))
	if err != nil {
		tb.Fatal(err)
	}
	bob, err := e2ee.IdentityFromSeeds(bytes.Repeat([]byte{0xb1}, 32), bytes.Repeat([]byte{0xb2}, 32))
	if err != nil {
		tb.Fatal(err)
	}
	return fixture{keys: k, alice: alice, bob: bob}
}

var fixedNonce = bytes.Repeat([]byte{0x0c}, protocol.NonceLen)

// isOneOf reports whether err wraps one of targets.
func isOneOf(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}

// checkAlias fails t unless a is what NormalizeAlias promises: valid UTF-8,
// at most MaxAlias code points, no control or format characters, single
// spaces only between words.
func checkAlias(t *testing.T, a string) {
	t.Helper()
	if !utf8.ValidString(a) || utf8.RuneCountInString(a) > e2ee.MaxAlias ||
		strings.HasPrefix(a, " ") || strings.HasSuffix(a, " ") || strings.Contains(a, "  ") {
		t.Fatalf("alias %q is not normalised", a)
	}
	for _, r := range a {
		if unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) || unicode.IsSpace(r) && r != ' ' {
			t.Fatalf("alias %q keeps %U", a, r)
		}
	}
}

// FuzzParseLink: a link parses to one that prints back to an equal link,
// and every refusal wraps ErrBadLink.
func FuzzParseLink(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		l, err := e2ee.ParseLink(s)
		if err != nil {
			if !errors.Is(err, e2ee.ErrBadLink) {
				t.Fatalf("ParseLink(%q) = %v, want ErrBadLink", s, err)
			}
			return
		}
		again, err := e2ee.ParseLink(l.String())
		if err != nil || again != l {
			t.Fatalf("ParseLink(%q) = %+v; ParseLink(%q) = %+v, %v", s, l, l.String(), again, err)
		}
		if strings.HasSuffix(l.Base, "/") || strings.Contains(l.Base, "#") {
			t.Fatalf("ParseLink(%q) base %q", s, l.Base)
		}
	})
}

// FuzzOpenHello opens env as a hello off the wire; seals data as alice's
// hello plaintext, so that the JSON decoder is reached; and announces alias
// through SealHello. A member comes out only with a normalised alias and
// keys that signed the hello.
func FuzzOpenHello(f *testing.F) {
	fx := newFixture(f)
	f.Fuzz(func(t *testing.T, env, data []byte, alias string, sender uint32) {
		if m, h, err := e2ee.OpenHello(fx.keys, env); err != nil {
			if !isOneOf(err, protocol.ErrMalformed, e2ee.ErrBadHello, e2ee.ErrOpen, e2ee.ErrBadPad, e2ee.ErrBadSig) {
				t.Fatalf("OpenHello(%x) = %v, not a documented error", env, err)
			}
		} else {
			if m.Session != h.Sender || len(m.XPub) != 32 {
				t.Fatalf("OpenHello(%x) = %+v, header %+v", env, m, h)
			}
			if _, err := e2ee.Verify(env, m.EdPub); err != nil {
				t.Fatalf("OpenHello(%x) accepted a hello its key did not sign: %v", env, err)
			}
			checkAlias(t, m.Alias)
		}

		h := protocol.Header{Version: protocol.Version, Suite: e2ee.SuiteV1, Kind: protocol.KindHello, RID: fx.keys.RID, Sender: sender, Seq: 1}
		if len(data) <= e2ee.MaxData {
			sealed, err := e2ee.Seal(h, fx.keys.Roster[:], fx.alice.Ed, data, fixedNonce)
			if err != nil {
				t.Fatal(err)
			}
			m, got, err := e2ee.OpenHello(fx.keys, sealed)
			switch {
			case err != nil && !isOneOf(err, e2ee.ErrBadHello, e2ee.ErrBadSig):
				t.Fatalf("OpenHello(hello %q) = %v, want ErrBadHello or ErrBadSig", data, err)
			case err == nil && (!m.EdPub.Equal(fx.alice.EdPub()) || m.Session != sender || got != h):
				t.Fatalf("OpenHello(hello %q) = %+v, %+v: not alice's hello", data, m, got)
			case err == nil:
				var hl e2ee.Hello
				if json.Unmarshal(data, &hl) != nil || m.Alias != e2ee.NormalizeAlias(hl.Alias) {
					t.Fatalf("OpenHello(hello %q) alias %q", data, m.Alias)
				}
				checkAlias(t, m.Alias)
			}
		}

		sealed, err := e2ee.SealHello(fx.keys, sender, 1, fx.alice, alias, nil, fixedNonce)
		if err != nil {
			if !errors.Is(err, e2ee.ErrTooLong) {
				t.Fatalf("SealHello(%q) = %v", alias, err)
			}
			return
		}
		// JSON carries each invalid byte as U+FFFD, as ranging over it does.
		var valid strings.Builder
		for _, r := range alias {
			valid.WriteRune(r)
		}
		m, _, err := e2ee.OpenHello(fx.keys, sealed)
		if want := e2ee.NormalizeAlias(valid.String()); err != nil || m.Alias != want {
			t.Fatalf("OpenHello(SealHello(%q)) = %q, %v; want %q", alias, m.Alias, err, want)
		}
		// docs/protocol.md 5.3: any normalised alias fits the smallest
		// bucket, so a hello is never over the relay's limit. Checked
		// without capabilities only: with "caps":["mlkem768"], as Go
		// clients send, 31 or 32 four-byte characters (emoji) spill into
		// the 1024 bucket, and the relay refuses the hello as too large.
		norm := e2ee.NormalizeAlias(alias)
		if sealed, err := e2ee.SealHello(fx.keys, sender, 1, fx.alice, norm, nil, fixedNonce); err != nil || len(sealed) > protocol.MinEnvelope+256 {
			t.Fatalf("hello of normalised alias %q: %d bytes, %v", norm, len(sealed), err)
		}
	})
}

// FuzzOpenMeta: sealed meta opens only to what re-seals to the same bytes,
// and what SealMeta seals opens to itself, in its own room only.
func FuzzOpenMeta(f *testing.F) {
	fx := newFixture(f)
	other := fx.keys.RID
	other[0] ^= 1
	f.Fuzz(func(t *testing.T, sealed, meta []byte) {
		out, err := e2ee.OpenMeta(fx.keys.Roster[:], fx.keys.RID, sealed)
		if err != nil {
			if !errors.Is(err, e2ee.ErrOpen) {
				t.Fatalf("OpenMeta(%x) = %v, want ErrOpen", sealed, err)
			}
		} else if again, err := e2ee.SealMeta(fx.keys.Roster[:], fx.keys.RID, out, sealed[:protocol.NonceLen]); err != nil || !bytes.Equal(again, sealed) {
			t.Fatalf("OpenMeta(%x) = %q, which seals to %x, %v", sealed, out, again, err)
		}

		s, err := e2ee.SealMeta(fx.keys.Roster[:], fx.keys.RID, meta, fixedNonce)
		if tooLong := len(meta)+protocol.NonceLen+protocol.TagLen > protocol.MaxMeta; tooLong || err != nil {
			if !tooLong || !errors.Is(err, e2ee.ErrTooLong) {
				t.Fatalf("SealMeta(%d bytes) = %v", len(meta), err)
			}
			return
		}
		if got, err := e2ee.OpenMeta(fx.keys.Roster[:], fx.keys.RID, s); err != nil || !bytes.Equal(got, meta) {
			t.Fatalf("OpenMeta(SealMeta(%q)) = %q, %v", meta, got, err)
		}
		if _, err := e2ee.OpenMeta(fx.keys.Roster[:], other, s); !errors.Is(err, e2ee.ErrOpen) {
			t.Fatalf("meta opened in another room: %v", err)
		}
	})
}

// The sender key every seed of FuzzOpenSenderKey carries: alice's chain for
// bob.
var (
	skCK     = [32]byte{0x5c, 1, 2, 3}
	skN      = uint64(7)
	skHeader = func(k e2ee.Keys) protocol.Header {
		return protocol.Header{Version: protocol.Version, Suite: e2ee.SuiteV2, Kind: protocol.KindSenderKey, RID: k.RID, Sender: 2, To: 3, Epoch: 4, Seq: 5}
	}
)

// signed returns hdr || body || alice's signature, as a sender would send
// any body.
func signed(priv ed25519.PrivateKey, hdr protocol.Header, body []byte) []byte {
	env := append(protocol.AppendHeader(nil, hdr), body...)
	return append(env, ed25519.Sign(priv, env)...)
}

// FuzzOpenSenderKey opens env as bob, from alice; and body (enc ||
// ciphertext) signed by alice under a fixed header, so that the HPKE opening
// is reached. Nothing but the chain key alice sealed ever comes out, and the
// errors are the documented ones.
func FuzzOpenSenderKey(f *testing.F) {
	fx := newFixture(f)
	hdr := skHeader(fx.keys)
	check := func(t *testing.T, what string, h protocol.Header, ck [32]byte, n uint64, err error, allowed ...error) {
		t.Helper()
		if err != nil {
			if !isOneOf(err, allowed...) {
				t.Fatalf("OpenSenderKey(%s) = %v, not one of %v", what, err, allowed)
			}
			return
		}
		if ck != skCK || n != skN || h.Kind != protocol.KindSenderKey || h.Suite != e2ee.SuiteV2 {
			t.Fatalf("OpenSenderKey(%s) = %+v, %x, %d", what, h, ck, n)
		}
	}
	f.Fuzz(func(t *testing.T, env, body []byte) {
		h, ck, n, err := e2ee.OpenSenderKey(env, fx.bob.X, fx.alice.EdPub())
		check(t, fmt.Sprintf("%x", env), h, ck, n, err, protocol.ErrMalformed, e2ee.ErrBadSig, e2ee.ErrOpen)

		h, ck, n, err = e2ee.OpenSenderKey(signed(fx.alice.Ed, hdr, body), fx.bob.X, fx.alice.EdPub())
		check(t, fmt.Sprintf("body %x", body), h, ck, n, err, protocol.ErrMalformed, e2ee.ErrOpen)
		if err == nil && len(body) != 32+40+protocol.TagLen {
			t.Fatalf("OpenSenderKey accepted a body of %d bytes", len(body))
		}
	})
}

// The report the valid seeds of FuzzReportBody carry: bob reports alice's
// group message to the owner.
var (
	rpOwner  = [32]byte{0x0e}
	rpHeader = func(k e2ee.Keys) protocol.Header {
		return protocol.Header{Version: protocol.Version, Suite: e2ee.SuiteV2, Kind: protocol.KindReport, RID: k.RID, Sender: 3, Seq: 9}
	}
	rpMK = [32]byte{0x3a}
)

// reportedMsg is alice's group message under rpMK that bob reports.
func reportedMsg(fx fixture) []byte {
	h := protocol.Header{Version: protocol.Version, Suite: e2ee.SuiteV2, Kind: protocol.KindMsg, RID: fx.keys.RID, Sender: 2, Epoch: 1, Seq: 1}
	env, _ := e2ee.Seal(h, rpMK[:], fx.alice.Ed, []byte(`{"id":"1","body":"the reported words"}`), fixedNonce)
	return env
}

// FuzzReportBody opens env as the owner, from bob; and pt as a report
// plaintext that bob sealed and signed, so that the parsing behind HPKE is
// reached. What opens is exactly mk || u32(len E) || E || note with a
// UTF-8 note of at most 500 bytes, and it reseals to an equal report;
// CheckReported passes only alice's real message.
func FuzzReportBody(f *testing.F) {
	fx := newFixture(f)
	priv, err := e2ee.ReportKey(rpOwner, fx.keys)
	if err != nil {
		f.Fatal(err)
	}
	pub := priv.PublicKey()
	hdr := rpHeader(fx.keys)
	check := func(t *testing.T, r e2ee.Report) {
		t.Helper()
		h, data, err := e2ee.CheckReported(r, fx.keys.RID, fx.alice.EdPub())
		if err != nil {
			if !isOneOf(err, protocol.ErrMalformed, e2ee.ErrBadSig, e2ee.ErrOpen, e2ee.ErrBadPad) {
				t.Fatalf("CheckReported(%x) = %v", r.Envelope, err)
			}
			return
		}
		// Only what docs/protocol.md 9.3 allows passes: alice's message in
		// this room, to the room or to the reporter, suite 2, opening
		// under the reported key.
		_, verr := e2ee.Verify(r.Envelope, fx.alice.EdPub())
		opened, derr := e2ee.Decrypt(r.Envelope, r.MK[:])
		if verr != nil || derr != nil || !bytes.Equal(opened, data) || h.RID != fx.keys.RID || h.Suite != e2ee.SuiteV2 ||
			!(h.Kind == protocol.KindMsg || h.Kind == protocol.KindDM && h.To == r.Header.Sender) {
			t.Fatalf("CheckReported(%x) passed: %+v, %q", r.Envelope, h, data)
		}
	}
	f.Fuzz(func(t *testing.T, env, pt []byte) {
		r, err := e2ee.OpenReport(env, priv, fx.bob.EdPub())
		if err != nil {
			if !isOneOf(err, protocol.ErrMalformed, e2ee.ErrBadSig, e2ee.ErrOpen) {
				t.Fatalf("OpenReport(%x) = %v", env, err)
			}
		} else {
			if r.Header.Kind != protocol.KindReport || r.Header.Sender != 3 || len(r.Note) > e2ee.MaxReportNote {
				t.Fatalf("OpenReport(%x) = %+v", env, r)
			}
			check(t, r)
		}

		if protocol.HeaderLen+32+len(pt)+protocol.TagLen+protocol.SigLen > protocol.MaxEnvelope {
			return
		}
		pk, err := hpke.NewDHKEMPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		enc, s, err := hpke.NewSender(pk, hpke.HKDFSHA256(), hpke.AES256GCM(), e2ee.ReportInfo(hdr.RID, hdr.Sender))
		if err != nil {
			t.Fatal(err)
		}
		ct, err := s.Seal(protocol.AppendHeader(nil, hdr), pt)
		if err != nil {
			t.Fatal(err)
		}
		r, err = e2ee.OpenReport(signed(fx.bob.Ed, hdr, append(enc, ct...)), priv, fx.bob.EdPub())
		valid := len(pt) >= 36
		var n uint64
		if valid {
			n = uint64(binary.BigEndian.Uint32(pt[32:]))
			valid = n <= uint64(len(pt)-36) && len(pt)-36-int(n) <= e2ee.MaxReportNote && utf8.Valid(pt[36+n:])
		}
		switch {
		case !valid && !errors.Is(err, e2ee.ErrOpen):
			t.Fatalf("OpenReport(plaintext %x) = %+v, %v; want ErrOpen", pt, r, err)
		case valid && err != nil:
			t.Fatalf("OpenReport(plaintext %x) = %v", pt, err)
		case valid && (r.MK != [32]byte(pt[:32]) || !bytes.Equal(r.Envelope, pt[36:36+n]) || r.Note != string(pt[36+n:])):
			t.Fatalf("OpenReport(plaintext %x) = %+v", pt, r)
		case valid:
			again, err := e2ee.SealReport(hdr, pub.Bytes(), fx.bob.Ed, r.Envelope, r.MK, r.Note)
			if err != nil {
				t.Fatalf("SealReport(OpenReport(plaintext %x)) = %v", pt, err)
			}
			r2, err := e2ee.OpenReport(again, priv, fx.bob.EdPub())
			if err != nil || r2.MK != r.MK || !bytes.Equal(r2.Envelope, r.Envelope) || r2.Note != r.Note || r2.Header != r.Header {
				t.Fatalf("report of plaintext %x does not round-trip: %+v, %v", pt, r2, err)
			}
			check(t, r)
		}
	})
}

// recvKeys returns mk_i for i in [0, n) of the chain whose CK_1 is ck
// (mk_0 unused).
func recvKeys(ck [32]byte, n int) [][32]byte {
	out := make([][32]byte, n)
	for i := 1; i < n; i++ {
		out[i], ck = e2ee.ChainStep(ck)
	}
	return out
}

const chainSpan = 4300 // seqs 0..4299: replays, skips and jumps past MaxJump

// FuzzRecvChain receives messages of alice's chain (from CK_1) in the order
// ops gives: three bytes each, a seq (big-endian u16, mod 4300) and a flag
// (bit 0: a byte of the ciphertext flipped, signature redone; bit 1: body
// sent as the ciphertext). A model of docs/protocol.md 7.2 says what must
// happen: the right key or ErrReplay or ErrJump, skipped keys used once and
// at most 2000 kept, and no change unless the message opened.
func FuzzRecvChain(f *testing.F) {
	fx := newFixture(f)
	ck := [32]byte{0xc4}
	mks := recvKeys(ck, chainSpan)
	f.Fuzz(func(t *testing.T, ops, body []byte) {
		rc := e2ee.NewRecvChain(ck, 1)
		next := uint64(1)
		var skipped []uint64 // the model's skipped seqs, oldest first
		for i := 0; i+3 <= len(ops) && i < 3*64; i += 3 {
			seq := uint64(ops[i])<<8 | uint64(ops[i+1])
			seq %= chainSpan
			flag := ops[i+2]
			mk, missing, commit, err := rc.Key(seq)
			stored := -1
			for j, s := range skipped {
				if s == seq {
					stored = j
				}
			}
			switch {
			case seq < next && stored < 0:
				if !errors.Is(err, e2ee.ErrReplay) {
					t.Fatalf("Key(%d) with next %d = %v, want ErrReplay", seq, next, err)
				}
				continue
			case seq >= next && seq-next > e2ee.MaxJump:
				if !errors.Is(err, e2ee.ErrJump) {
					t.Fatalf("Key(%d) with next %d = %v, want ErrJump", seq, next, err)
				}
				continue
			case err != nil:
				t.Fatalf("Key(%d) with next %d = %v", seq, next, err)
			case mk != mks[seq]:
				t.Fatalf("Key(%d) gave another key than the sender's", seq)
			case seq >= next && missing != seq-next, seq < next && missing != 0:
				t.Fatalf("Key(%d) with next %d: %d missing", seq, next, missing)
			}
			h := protocol.Header{Version: protocol.Version, Suite: e2ee.SuiteV2, Kind: protocol.KindMsg, RID: fx.keys.RID, Sender: 2, Epoch: 1, Seq: seq}
			data := fmt.Appendf(nil, `{"id":"%d","body":"m"}`, seq)
			env, err := e2ee.Seal(h, mks[seq][:], fx.alice.Ed, data, fixedNonce)
			if err != nil {
				t.Fatal(err)
			}
			if flag&2 != 0 {
				env = signed(fx.alice.Ed, h, body)
			} else if flag&1 != 0 {
				env[protocol.HeaderLen+protocol.NonceLen] ^= 1
				env = signed(fx.alice.Ed, h, env[protocol.HeaderLen:len(env)-protocol.SigLen])
			}
			got, err := e2ee.Decrypt(env, mk[:])
			switch {
			case flag&2 == 0 && flag&1 != 0 && !errors.Is(err, e2ee.ErrOpen):
				t.Fatalf("tampered seq %d: Decrypt = %v, want ErrOpen", seq, err)
			case flag&3 == 0 && (err != nil || !bytes.Equal(got, data)):
				t.Fatalf("seq %d: Decrypt = %q, %v", seq, got, err)
			case err != nil && !isOneOf(err, e2ee.ErrOpen, e2ee.ErrBadPad):
				t.Fatalf("seq %d: Decrypt(%x) = %v", seq, body, err)
			case err != nil:
				continue // not opened: nothing may change
			}
			commit()
			if seq < next {
				skipped = append(skipped[:stored], skipped[stored+1:]...)
				continue
			}
			for s := next; s < seq; s++ {
				skipped = append(skipped, s)
			}
			if len(skipped) > e2ee.MaxSkipped {
				skipped = skipped[len(skipped)-e2ee.MaxSkipped:]
			}
			next = seq + 1
		}
		rc.Erase()
		for _, s := range skipped {
			if _, _, _, err := rc.Key(s); !errors.Is(err, e2ee.ErrReplay) {
				t.Fatalf("after Erase, Key(%d) = %v, want ErrReplay", s, err)
			}
		}
	})
}

// FuzzUnpad: what unpads re-pads to a prefix of the input followed by
// zeros, and what pads unpads to itself.
func FuzzUnpad(f *testing.F) {
	f.Fuzz(func(t *testing.T, p []byte) {
		if data, err := e2ee.Unpad(p); err != nil {
			if !errors.Is(err, e2ee.ErrBadPad) {
				t.Fatalf("Unpad(%x) = %v, want ErrBadPad", p, err)
			}
		} else {
			again, err := e2ee.Pad(data)
			if err != nil || len(again) > len(p) || !bytes.Equal(again, p[:len(again)]) || bytes.ContainsFunc(p[len(again):], func(r rune) bool { return r != 0 }) {
				t.Fatalf("Unpad(%x) = %x, which pads to %x, %v", p, data, again, err)
			}
		}
		padded, err := e2ee.Pad(p)
		if len(p) > e2ee.MaxData {
			if !errors.Is(err, e2ee.ErrTooLong) {
				t.Fatalf("Pad(%d bytes) = %v, want ErrTooLong", len(p), err)
			}
			return
		}
		if got, err := e2ee.Unpad(padded); err != nil || !bytes.Equal(got, p) {
			t.Fatalf("Unpad(Pad(%x)) = %x, %v", p, got, err)
		}
	})
}

// TestWriteFuzzCorpus checks that every seed is in testdata; with
// -update-corpus it rewrites the seed corpora.
func TestWriteFuzzCorpus(t *testing.T) {
	fx := newFixture(t)
	k := fx.keys
	secret := [32]byte{0x11, 0x22, 0x33}
	link := e2ee.Link{Base: "https://veil.example", Secret: secret}.String()
	plink := e2ee.Link{Base: "http://127.0.0.1:8080", Secret: secret, Password: true}.String()
	frag := link[strings.Index(link, "#"):]
	fuzzseed.Corpus(t, "FuzzParseLink", map[string][]any{
		"link":              {link},
		"password-link":     {plink},
		"bare-fragment":     {frag},
		"no-hash":           {frag[1:]},
		"spaces-and-slash":  {"  https://veil.example//" + frag + "\n"},
		"newline-in-secret": {link[:len(link)-10] + "\n" + link[len(link)-10:]},
		"truncated-secret":  {link[:len(link)-1]},
		"padded-secret":     {link + "="},
		"non-canonical":     {link[:len(link)-1] + "B"},
		"std-alphabet":      {strings.Replace(link, link[len(link)-2:], "+/", 1)},
		"version-2":         {strings.Replace(link, "#1.", "#2.", 1)},
		"no-version":        {"https://veil.example/#" + link[len(link)-43:]},
		"two-hashes":        {link + "#1.x"},
		"no-fragment":       {"https://veil.example/room"},
		"empty":             {""},
	})

	hello, _ := e2ee.SealHello(k, 2, 1, fx.alice, "quiet-otter", []string{e2ee.CapMLKEM}, fixedNonce)
	otherRoom, _ := e2ee.DeriveRoom(bytes.Repeat([]byte{0x5f}, 32), "")
	foreign, _ := e2ee.SealHello(otherRoom, 2, 1, fx.alice, "quiet-otter", nil, fixedNonce)
	good := fmt.Sprintf(`{"alias":"quiet-otter","x":%q,"e":%q}`, b64(fx.alice.XPub()), b64(fx.alice.EdPub()))
	bobs := fmt.Sprintf(`{"alias":"bob","x":%q,"e":%q}`, b64(fx.bob.XPub()), b64(fx.bob.EdPub()))
	flipped := bytes.Clone(hello)
	flipped[60] ^= 1
	fuzzseed.Corpus(t, "FuzzOpenHello", map[string][]any{
		"valid":           {hello, []byte(good), "quiet-otter", uint32(2)},
		"caps":            {hello, []byte(strings.TrimSuffix(good, "}") + `,"caps":["mlkem768"]}`), "a\u200bb", uint32(9)},
		"other-room":      {foreign, []byte(bobs), "  two   words  ", uint32(2)},
		"tampered":        {flipped, []byte(`{"alias":"x","x":"AAAA","e":"AAAA"}`), strings.Repeat("\U0001F600", 40), uint32(2)},
		"truncated":       {hello[:len(hello)-1], []byte(good[:20]), "\x1b[31mred", uint32(1)},
		"short":           {hello[:protocol.MinEnvelope-1], []byte(`null`), "e\u200d\u0301", uint32(0)},
		"control-alias":   {hello, []byte(strings.Replace(good, "quiet-otter", `\u0000\u202e<b>`, 1)), "\xff\xfe", uint32(7)},
		"not-json":        {[]byte{}, []byte("\x00\x01"), strings.Repeat(`"`, 33), uint32(3)},
		"invalid-utf8":    {hello, []byte(strings.Replace(good, "quiet-otter", "\xff\xc0", 1)), "\u2028x\u00a0y", uint32(4)},
		"keys-wrong-size": {hello, []byte(`{"alias":"a","x":"AAAA","e":"` + b64(fx.alice.EdPub()) + `"}`), "", uint32(5)},
	})

	name, _ := json.Marshal(map[string]string{"name": "Team room"})
	meta, _ := e2ee.SealMeta(k.Roster[:], k.RID, name, fixedNonce)
	badTag := bytes.Clone(meta)
	badTag[len(badTag)-1] ^= 1
	fuzzseed.Corpus(t, "FuzzOpenMeta", map[string][]any{
		"valid":     {meta, name},
		"empty":     {[]byte{}, []byte{}},
		"too-short": {meta[:protocol.NonceLen+protocol.TagLen-1], bytes.Repeat([]byte("n"), protocol.MaxMeta-protocol.NonceLen-protocol.TagLen)},
		"bad-tag":   {badTag, bytes.Repeat([]byte("n"), protocol.MaxMeta-protocol.NonceLen-protocol.TagLen+1)},
		"truncated": {meta[:len(meta)-1], []byte(`{"name":""}`)},
	})

	hdr := skHeader(k)
	sk, err := e2ee.SealSenderKey(hdr, fx.bob.XPub(), fx.alice.Ed, skCK, skN)
	if err != nil {
		t.Fatal(err)
	}
	body := sk[protocol.HeaderLen : len(sk)-protocol.SigLen]
	carol, _ := e2ee.IdentityFromSeeds(bytes.Repeat([]byte{0xc1}, 32), bytes.Repeat([]byte{0xc2}, 32))
	toCarol, _ := e2ee.SealSenderKey(hdr, carol.XPub(), fx.alice.Ed, skCK, skN)
	asMsg := hdr
	asMsg.Kind = protocol.KindMsg
	encFlipped := bytes.Clone(body)
	encFlipped[0] ^= 0x80
	ctFlipped := bytes.Clone(body)
	ctFlipped[40] ^= 1
	fuzzseed.Corpus(t, "FuzzOpenSenderKey", map[string][]any{
		"valid":          {sk, body},
		"to-carol":       {toCarol, toCarol[protocol.HeaderLen : len(toCarol)-protocol.SigLen]},
		"kind-2":         {signed(fx.alice.Ed, asMsg, body), body[:len(body)-1]},
		"bob-signed":     {signed(fx.bob.Ed, hdr, body), append(bytes.Clone(body), 0)},
		"enc-flipped":    {signed(fx.alice.Ed, hdr, encFlipped), encFlipped},
		"ct-flipped":     {signed(fx.alice.Ed, hdr, ctFlipped), ctFlipped},
		"truncated":      {sk[:len(sk)-1], body[:32]},
		"header-only":    {sk[:protocol.HeaderLen], []byte{}},
		"short-envelope": {sk[:protocol.MinEnvelope], bytes.Repeat([]byte{0}, 88)},
	})

	rpPriv, _ := e2ee.ReportKey(rpOwner, k)
	rpHdr := rpHeader(k)
	notReport := rpHdr
	notReport.Kind = protocol.KindMsg
	reported := reportedMsg(fx)
	report, err := e2ee.SealReport(rpHdr, rpPriv.PublicKey().Bytes(), fx.bob.Ed, reported, rpMK, "spam, again")
	if err != nil {
		t.Fatal(err)
	}
	reportPT := func(mk [32]byte, env []byte, note string) []byte {
		pt := binary.BigEndian.AppendUint32(bytes.Clone(mk[:]), uint32(len(env)))
		return append(append(pt, env...), note...)
	}
	aliceSays := func(rid protocol.RID, kind byte, to uint32, suite byte) []byte {
		h := protocol.Header{Version: protocol.Version, Suite: suite, Kind: kind, RID: rid, Sender: 2, To: to, Epoch: 1, Seq: 2}
		env, _ := e2ee.Seal(h, rpMK[:], fx.alice.Ed, []byte(`{"id":"2","body":"hi"}`), fixedNonce)
		return env
	}
	forged := bytes.Clone(reported)
	forged[60] ^= 1
	fuzzseed.Corpus(t, "FuzzReportBody", map[string][]any{
		"valid":          {report, reportPT(rpMK, reported, "spam, again")},
		"no-note":        {report[:len(report)-1], reportPT(rpMK, reported, "")},
		"wrong-mk":       {signed(fx.alice.Ed, rpHdr, report[protocol.HeaderLen:len(report)-protocol.SigLen]), reportPT([32]byte{1}, reported, "x")},
		"altered-msg":    {sk, reportPT(rpMK, forged, "")},
		"overrun":        {report[:protocol.MinEnvelope], append(reportPT(rpMK, reported, "")[:36], 0)},
		"long-note":      {[]byte{}, reportPT(rpMK, nil, strings.Repeat("n", e2ee.MaxReportNote+1))},
		"bad-utf8-note":  {[]byte{}, reportPT(rpMK, reported, "\xff")},
		"short":          {[]byte{}, rpMK[:]},
		"empty-envelope": {[]byte{}, reportPT(rpMK, nil, "nothing")},
		"not-a-report":   {signed(fx.bob.Ed, notReport, report[protocol.HeaderLen:len(report)-protocol.SigLen]), reportPT(rpMK, aliceSays(otherRoom.RID, protocol.KindMsg, 0, e2ee.SuiteV2), "")},
		"short-body":     {signed(fx.bob.Ed, rpHdr, make([]byte, 30)), reportPT(rpMK, aliceSays(k.RID, protocol.KindDM, 9, e2ee.SuiteV2), "")},
		"suite-1":        {[]byte{}, reportPT(rpMK, aliceSays(k.RID, protocol.KindMsg, 0, e2ee.SuiteV1), "")},
		"dm-to-reporter": {[]byte{}, reportPT(rpMK, aliceSays(k.RID, protocol.KindDM, 3, e2ee.SuiteV2), "")},
	})

	ops := func(steps ...uint64) []byte {
		var b []byte
		for i := 0; i+1 < len(steps); i += 2 {
			b = append(b, byte(steps[i]>>8), byte(steps[i]), byte(steps[i+1]))
		}
		return b
	}
	ck := [32]byte{0xc4}
	mk1, _ := e2ee.ChainStep(ck)
	h1 := protocol.Header{Version: protocol.Version, Suite: e2ee.SuiteV2, Kind: protocol.KindMsg, RID: k.RID, Sender: 2, Epoch: 1, Seq: 1}
	m1, _ := e2ee.Seal(h1, mk1[:], fx.alice.Ed, []byte(`{"id":"1","body":"m"}`), fixedNonce)
	badPad := make([]byte, 256)
	badPad[3], badPad[255] = 2, 1
	fuzzseed.Corpus(t, "FuzzRecvChain", map[string][]any{
		"in-order":       {ops(1, 0, 2, 0, 3, 0), []byte{}},
		"out-of-order":   {ops(3, 0, 1, 0, 2, 0, 2, 0), []byte{}},
		"replay":         {ops(1, 0, 1, 0, 0, 0), []byte{}},
		"jump":           {ops(2002, 0, 2001, 0, 2, 0, 4003, 0, 4004, 0, 1, 0), []byte{}},
		"evict-oldest":   {ops(2001, 0, 4001, 0, 1, 0, 2000, 0), []byte{}},
		"tampered":       {ops(1, 1, 1, 0, 2, 1, 2, 0), []byte{}},
		"raw-body-valid": {ops(1, 2, 1, 0), m1[protocol.HeaderLen : len(m1)-protocol.SigLen]},
		"raw-body-short": {ops(2, 2, 2, 0), m1[protocol.HeaderLen : protocol.HeaderLen+protocol.NonceLen+1]},
		"raw-bad-pad":    {ops(1, 2), badPad},
	})

	small, _ := e2ee.Pad([]byte("hi"))
	full, _ := e2ee.Pad(bytes.Repeat([]byte("x"), 252))
	over, _ := e2ee.Pad(bytes.Repeat([]byte("x"), 253))
	wide := make([]byte, 1024)
	wide[3] = 2
	dirty := bytes.Clone(small)
	dirty[255] = 1
	long := bytes.Clone(small)
	long[2] = 1
	fuzzseed.Corpus(t, "FuzzUnpad", map[string][]any{
		"small":          {small},
		"full-bucket":    {full},
		"next-bucket":    {over},
		"roomy-bucket":   {wide},
		"dirty-padding":  {dirty},
		"length-too-big": {long},
		"not-a-bucket":   {small[:255]},
		"empty":          {[]byte{}},
	})

	h := protocol.Header{Version: 1, Suite: e2ee.SuiteV1, Kind: protocol.KindMsg, RID: k.RID, Sender: 3, Seq: 1}
	msg, _ := e2ee.Seal(h, k.Msg[:], fx.alice.Ed, []byte("hello"), fixedNonce)
	fuzzseed.Corpus(t, "FuzzOpen", map[string][]any{
		"message":   {msg},
		"hello":     {hello},
		"truncated": {hello[:len(hello)-1]},
		"link":      {[]byte(link)},
		"padded":    {small},
	})
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
