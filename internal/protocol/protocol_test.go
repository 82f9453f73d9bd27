package protocol

import (
	"bytes"
	"errors"
	"testing"
)

func sampleEnvelope(kind byte, to uint32) []byte {
	h := Header{Version: Version, Suite: 1, Kind: kind, RID: RID{1, 2, 3}, Sender: 7, To: to, Seq: 9}
	b := AppendHeader([]byte{TypeEnvelope}, h)
	return append(b, make([]byte, NonceLen+256+TagLen+SigLen)...)
}

func sampleChunk(to uint32, flags byte) []byte {
	h := Header{Version: Version, Suite: 2, Kind: KindChunk, Flags: flags, RID: RID{1}, Sender: 7, To: to, Epoch: 99, Seq: 1}
	b := AppendHeader([]byte{TypeEnvelope}, h)
	return append(b, make([]byte, NonceLen+256+TagLen+SigLen)...)
}

func validFrames() [][]byte {
	owner := [KeyLen]byte{5}
	return [][]byte{
		Encode(Join{RID: RID{1}, Join: [KeyLen]byte{2}}),
		Encode(Resume{RID: RID{1}, Token: [TokenLen]byte{3}}),
		sampleEnvelope(KindMsg, 0),
		sampleEnvelope(KindDM, 4),
		sampleEnvelope(KindHello, 0),
		sampleEnvelope(KindSenderKey, 4),
		sampleEnvelope(KindHandshake, 4),
		sampleChunk(0, 0),
		sampleChunk(4, FlagLast),
		Encode(Purge{}),
		Encode(Purge{Owner: &owner}),
		Encode(Logout{}),
		Encode(Owner{Key: owner}),
		Encode(Kick{Session: 77}),
		Encode(Lock{Locked: true}),
		Encode(Lock{}),
		Encode(Active{}),
		Encode(State{Flags: StateLocked | StateOwner}),
		sampleEnvelope(KindReport, 0),
		Encode(Welcome{Session: 1, Token: [TokenLen]byte{9}, RemainingMS: 3600000, Policy: PolicyOwner, Meta: []byte("meta"),
			Members: []Member{{Session: 2, Hello: []byte("h2")}, {Session: 3, Hello: []byte("h3")}}}),
		Encode(Welcome{Session: 1}),
		Encode(Left{Session: 2, Reason: LeftLoggedOut}),
		Encode(Error{Code: CodeNotAllowed, Reason: "only the owner may purge this room"}),
	}
}

func TestDecodeRoundTrip(t *testing.T) {
	for _, b := range validFrames() {
		f, err := Decode(b)
		if err != nil {
			t.Fatalf("Decode(%x) = %v", b, err)
		}
		if got := Encode(f); !bytes.Equal(got, b) {
			t.Fatalf("Encode(Decode(%x)) = %x", b, got)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	env := sampleEnvelope(KindMsg, 0)
	tests := map[string][]byte{
		"empty":              {},
		"unknown type":       {0x42},
		"short join":         {TypeJoin, 1, 2, 3},
		"long logout":        {TypeLogout, 0},
		"short purge":        {TypePurge, 1},
		"short envelope":     env[:MinEnvelope],
		"envelope version":   append([]byte{TypeEnvelope, 2}, env[2:]...),
		"envelope flags":     append(append([]byte{}, env[:4]...), append([]byte{1}, env[5:]...)...),
		"envelope kind":      append(append([]byte{}, env[:3]...), append([]byte{9}, env[4:]...)...),
		"dm without to":      sampleEnvelope(KindDM, 0),
		"sk without to":      sampleEnvelope(KindSenderKey, 0),
		"hs without to":      sampleEnvelope(KindHandshake, 0),
		"chunk flags":        sampleChunk(0, 2),
		"last flag on msg":   append(append([]byte{}, env[:4]...), append([]byte{FlagLast}, env[5:]...)...),
		"msg with to":        sampleEnvelope(KindMsg, 3),
		"report with to":     sampleEnvelope(KindReport, 3),
		"short owner":        {TypeOwner, 1, 2},
		"long kick":          {TypeKick, 0, 0, 0, 1, 0},
		"lock of 2":          {TypeLock, 2},
		"empty lock":         {TypeLock},
		"long active":        {TypeActive, 0},
		"unknown state bit":  {TypeState, 4},
		"oversized":          make([]byte, MaxFrame+1),
		"oversized envelope": append(sampleEnvelope(KindMsg, 0), make([]byte, MaxFrame)...)[:MaxFrame+1],
		"oversized welcome":  append(largestWelcome(), 0),
		"truncated welcome":  Encode(Welcome{Session: 1, Members: []Member{{Session: 2, Hello: []byte("hi")}}})[:50],
		"error not utf8":     {TypeError, 0, 1, 0xff},
	}
	for name, b := range tests {
		if f, err := Decode(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Decode(%.40x) = %v, %v; want ErrMalformed", name, b, f, err)
		}
	}
}

// largestWelcome is a WELCOME of MaxMembers members with the largest
// hellos and the largest meta.
func largestWelcome() []byte {
	w := Welcome{Session: 1, Meta: make([]byte, MaxMeta)}
	for i := range MaxMembers {
		w.Members = append(w.Members, Member{Session: uint32(i + 2), Hello: make([]byte, MaxHello)})
	}
	return Encode(w)
}

// Only WELCOME may be larger than MaxFrame, up to MaxWelcome: it lists a
// full room's hellos.
func TestLargestWelcome(t *testing.T) {
	b := largestWelcome()
	if len(b) != MaxWelcome {
		t.Fatalf("largest WELCOME of %d bytes, MaxWelcome %d", len(b), MaxWelcome)
	}
	f, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if w := f.(Welcome); len(w.Members) != MaxMembers {
		t.Fatalf("%d members", len(w.Members))
	}
}

func FuzzDecode(f *testing.F) {
	for _, b := range validFrames() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Decode(%x) error %v does not wrap ErrMalformed", b, err)
			}
			return
		}
		if got := Encode(fr); !bytes.Equal(got, b) {
			t.Fatalf("Encode(Decode(%x)) = %x", b, got)
		}
	})
}
