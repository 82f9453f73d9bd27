package e2ee

import (
	"crypto/ecdh"
	"testing"

	"veil/internal/protocol"
)

// Targets on the 2-core development machine: sealing and opening a 256-byte
// bucket message each well under 100 µs, so a client's crypto is never the
// bottleneck of a busy room; an epoch rotation in a 50-member room (49
// HPKE seals) under 10 ms.

func BenchmarkSealGroupMessage(b *testing.B) {
	id, _ := NewIdentity()
	ck := [32]byte{1}
	sc := NewSendChain(ck, 1)
	data := make([]byte, 200)
	b.ReportAllocs()
	for b.Loop() {
		mk, seq := sc.Next()
		h := protocol.Header{Version: 1, Suite: SuiteV2, Kind: protocol.KindMsg, RID: protocol.RID{1}, Sender: 1, Epoch: 1, Seq: seq}
		if _, err := Seal(h, mk[:], id.Ed, data, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpenGroupMessage(b *testing.B) {
	id, _ := NewIdentity()
	ck := [32]byte{1}
	sc := NewSendChain(ck, 1)
	const n = 4096
	envs := make([][]byte, n)
	for i := range envs {
		mk, seq := sc.Next()
		h := protocol.Header{Version: 1, Suite: SuiteV2, Kind: protocol.KindMsg, RID: protocol.RID{1}, Sender: 1, Epoch: 1, Seq: seq}
		envs[i], _ = Seal(h, mk[:], id.Ed, make([]byte, 200), nil)
	}
	b.ReportAllocs()
	b.ResetTimer()
	rc := NewRecvChain(ck, 1)
	i := 0
	for b.Loop() {
		if i == n {
			b.StopTimer()
			rc, i = NewRecvChain(ck, 1), 0
			b.StartTimer()
		}
		mk, _, commit, err := rc.Key(uint64(i + 1))
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := Open(envs[i], mk[:], id.EdPub()); err != nil {
			b.Fatal(err)
		}
		commit()
		i++
	}
}

// BenchmarkEpochRotation50 is one member starting a new epoch in a 50-member
// room: a fresh chain key sealed with HPKE to each of the 49 others.
func BenchmarkEpochRotation50(b *testing.B) {
	id, _ := NewIdentity()
	peers := make([][]byte, 49)
	for i := range peers {
		k, _ := ecdh.X25519().GenerateKey(nil)
		peers[i] = k.PublicKey().Bytes()
	}
	b.ReportAllocs()
	epoch := uint32(0)
	for b.Loop() {
		epoch++
		var ck [32]byte
		for i, p := range peers {
			h := protocol.Header{RID: protocol.RID{1}, Sender: 1, To: uint32(i + 2), Epoch: epoch, Seq: uint64(i)}
			if _, err := SealSenderKey(h, p, id.Ed, ck, 1); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkOpenSenderKey(b *testing.B) {
	id, _ := NewIdentity()
	r, _ := NewIdentity()
	h := protocol.Header{RID: protocol.RID{1}, Sender: 1, To: 2, Epoch: 1, Seq: 1}
	env, _ := SealSenderKey(h, r.XPub(), id.Ed, [32]byte{3}, 1)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, _, err := OpenSenderKey(env, r.X, id.EdPub()); err != nil {
			b.Fatal(err)
		}
	}
}
