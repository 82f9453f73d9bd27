package protocol_test

import (
	"bytes"
	"errors"
	"testing"

	"veil/internal/fuzzseed"
	"veil/internal/protocol"
)

// The fuzz targets of this package (FuzzDecode, FuzzParseHeader) read their
// seeds from testdata/fuzz/FuzzXxx, made by the encoders:
// go test -run TestWriteFuzzCorpus -update-corpus.

// FuzzParseHeader: a header that parses re-encodes to the bytes it came
// from, obeys the addressing and flag rules of docs/protocol.md 5, and is
// the header Decode gives the same envelope in a frame; every refusal wraps
// ErrMalformed, in both.
func FuzzParseHeader(f *testing.F) {
	f.Fuzz(func(t *testing.T, env []byte) {
		h, err := protocol.ParseHeader(env)
		fr, ferr := protocol.Decode(append([]byte{protocol.TypeEnvelope}, env...))
		if err != nil {
			if !errors.Is(err, protocol.ErrMalformed) || !errors.Is(ferr, protocol.ErrMalformed) {
				t.Fatalf("ParseHeader(%x) = %v; Decode = %v; want ErrMalformed", env, err, ferr)
			}
			return
		}
		if got := protocol.AppendHeader(nil, h); !bytes.Equal(got, env[:protocol.HeaderLen]) {
			t.Fatalf("AppendHeader(ParseHeader(%x)) = %x", env, got)
		}
		if len(env) < protocol.MinEnvelope || len(env) > protocol.MaxEnvelope || h.Version != protocol.Version {
			t.Fatalf("ParseHeader accepted %d bytes of version %d", len(env), h.Version)
		}
		if protocol.Addressed(h.Kind) != (h.To != 0) && h.Kind != protocol.KindChunk {
			t.Fatalf("ParseHeader(%x): kind %d with to %d", env, h.Kind, h.To)
		}
		if h.Flags != 0 && (h.Kind != protocol.KindChunk || h.Flags != protocol.FlagLast) {
			t.Fatalf("ParseHeader(%x): flags %#x on kind %d", env, h.Flags, h.Kind)
		}
		if e, ok := fr.(protocol.Envelope); ferr != nil || !ok || e.Header != h || !bytes.Equal(e.Body(), env) {
			t.Fatalf("Decode(envelope %x) = %+v, %v; ParseHeader = %+v", env, fr, ferr, h)
		}
	})
}

func envelope(h protocol.Header, body int) []byte {
	return append(protocol.AppendHeader(nil, h), bytes.Repeat([]byte{0xee}, body)...)
}

// TestWriteFuzzCorpus checks that every seed is in testdata; with
// -update-corpus it rewrites the seed corpora.
func TestWriteFuzzCorpus(t *testing.T) {
	body := protocol.MinEnvelope - protocol.HeaderLen + 256
	hd := func(kind, flags byte, to, epoch uint32) protocol.Header {
		return protocol.Header{Version: protocol.Version, Suite: 2, Kind: kind, Flags: flags, RID: protocol.RID{1, 2, 3}, Sender: 7, To: to, Epoch: epoch, Seq: 9}
	}
	msg := envelope(hd(protocol.KindMsg, 0, 0, 1), body)
	envs := map[string][]byte{
		"hello":          envelope(hd(protocol.KindHello, 0, 0, 0), body),
		"msg":            msg,
		"dm":             envelope(hd(protocol.KindDM, 0, 4, 1), body),
		"sender-key":     envelope(hd(protocol.KindSenderKey, 0, 4, 1), 32+40+protocol.TagLen+protocol.SigLen),
		"handshake":      envelope(hd(protocol.KindHandshake, 0, 4, 1), body),
		"chunk":          envelope(hd(protocol.KindChunk, 0, 0, 99), body),
		"chunk-last-dm":  envelope(hd(protocol.KindChunk, protocol.FlagLast, 4, 99), body),
		"shortest":       msg[:protocol.MinEnvelope],
		"one-short":      msg[:protocol.MinEnvelope-1],
		"version-2":      append([]byte{2}, msg[1:]...),
		"flags-on-msg":   envelope(hd(protocol.KindMsg, protocol.FlagLast, 0, 1), body),
		"chunk-flags-2":  envelope(hd(protocol.KindChunk, 2, 0, 99), body),
		"chunk-no-tid":   envelope(hd(protocol.KindChunk, 0, 0, 0), body),
		"dm-without-to":  envelope(hd(protocol.KindDM, 0, 0, 1), body),
		"msg-with-to":    envelope(hd(protocol.KindMsg, 0, 3, 1), body),
		"unknown-kind":   envelope(hd(0x42, 0, 0, 1), body),
		"header-only":    msg[:protocol.HeaderLen],
		"empty":          {},
		"max-suite-byte": envelope(protocol.Header{Version: 1, Suite: 0xff, Kind: protocol.KindMsg, Sender: 0xffffffff, Epoch: 0xffffffff, Seq: 1<<64 - 1}, body),
	}
	seeds := map[string][]any{}
	for name, e := range envs {
		seeds[name] = []any{e}
	}
	fuzzseed.Corpus(t, "FuzzParseHeader", seeds)

	frames := map[string][]byte{
		"join":             protocol.Encode(protocol.Join{RID: protocol.RID{1}, Join: [protocol.KeyLen]byte{2}}),
		"resume":           protocol.Encode(protocol.Resume{RID: protocol.RID{1}, Token: [protocol.TokenLen]byte{3}}),
		"purge":            protocol.Encode(protocol.Purge{}),
		"purge-owner":      protocol.Encode(protocol.Purge{Owner: &[protocol.KeyLen]byte{5}}),
		"logout":           protocol.Encode(protocol.Logout{}),
		"left":             protocol.Encode(protocol.Left{Session: 2, Reason: protocol.LeftTooSlow}),
		"error":            protocol.Encode(protocol.Error{Code: protocol.CodeNotAllowed, Reason: "only the owner may purge this room"}),
		"error-not-utf8":   {protocol.TypeError, 0x0f, 0xab, 0xff},
		"error-short":      {protocol.TypeError, 0x0f},
		"join-short":       protocol.Encode(protocol.Join{})[:protocol.RIDLen],
		"logout-long":      {protocol.TypeLogout, 0},
		"purge-short":      {protocol.TypePurge, 1},
		"owner":            protocol.Encode(protocol.Owner{Key: [protocol.KeyLen]byte{6}}),
		"kick":             protocol.Encode(protocol.Kick{Session: 3}),
		"lock":             protocol.Encode(protocol.Lock{Locked: true}),
		"lock-2":           {protocol.TypeLock, 2},
		"active":           protocol.Encode(protocol.Active{}),
		"state":            protocol.Encode(protocol.State{Flags: protocol.StateLocked | protocol.StateOwner}),
		"state-unknown":    {protocol.TypeState, 0x80},
		"unknown-type":     {0x42},
		"empty":            {},
		"welcome-empty":    protocol.Encode(protocol.Welcome{Session: 1}),
		"envelope-msg":     append([]byte{protocol.TypeEnvelope}, msg...),
		"envelope-chunk":   append([]byte{protocol.TypeEnvelope}, envs["chunk-last-dm"]...),
		"envelope-bad-dm":  append([]byte{protocol.TypeEnvelope}, envs["dm-without-to"]...),
		"envelope-too-few": append([]byte{protocol.TypeEnvelope}, envs["one-short"]...),
	}
	welcome := protocol.Encode(protocol.Welcome{Session: 1, Token: [protocol.TokenLen]byte{9}, RemainingMS: 3600000, Policy: protocol.PolicyOwner,
		Meta: []byte("sealed meta"), Members: []protocol.Member{{Session: 2, Hello: []byte("hello two")}, {Session: 3, Hello: []byte("h3")}}})
	frames["welcome"] = welcome
	frames["welcome-truncated"] = welcome[:len(welcome)-1]
	frames["welcome-extra-byte"] = append(bytes.Clone(welcome), 0)
	seeds = map[string][]any{}
	for name, b := range frames {
		seeds[name] = []any{b}
	}
	fuzzseed.Corpus(t, "FuzzDecode", seeds)
}
