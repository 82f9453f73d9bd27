package e2ee

import (
	"crypto/ecdh"
	"crypto/hpke"
	"encoding/json"
	"os"
	"testing"
)

// TestRFC9180 checks the standard library's HPKE, which sender keys use,
// against RFC 9180 Appendix A.1.1 (the same file the JS tests read): key
// derivation from the IKMs and the opening of the first encryption.
func TestRFC9180(t *testing.T) {
	raw, err := os.ReadFile("../../testdata/vectors/rfc9180.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		V struct {
			Info, IkmE, PkEm, SkEm, IkmR, PkRm, SkRm, Enc string
			Encryptions                                   []struct{ Aad, Pt, Ct string }
		} `json:"base_x25519_sha256_aes128gcm"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	v := f.V
	kem := hpke.DHKEM(ecdh.X25519())
	for _, c := range []struct{ ikm, sk, pk string }{{v.IkmE, v.SkEm, v.PkEm}, {v.IkmR, v.SkRm, v.PkRm}} {
		k, err := kem.DeriveKeyPair(unhex(t, c.ikm))
		if err != nil {
			t.Fatal(err)
		}
		if got := h(k.PublicKey().Bytes()); got != c.pk {
			t.Fatalf("DeriveKeyPair(%s) public key = %s, want %s", c.ikm, got, c.pk)
		}
		// The RFC lists the private key unclamped; X25519 clamps it, so
		// check it through its public key.
		sk, err := kem.NewPrivateKey(unhex(t, c.sk))
		if err != nil || h(sk.PublicKey().Bytes()) != c.pk {
			t.Fatalf("private key %s does not give public key %s", c.sk, c.pk)
		}
	}
	skR, err := kem.NewPrivateKey(unhex(t, v.SkRm))
	if err != nil {
		t.Fatal(err)
	}
	r, err := hpke.NewRecipient(unhex(t, v.Enc), skR, hpke.HKDFSHA256(), hpke.AES128GCM(), unhex(t, v.Info))
	if err != nil {
		t.Fatal(err)
	}
	e := v.Encryptions[0]
	pt, err := r.Open(unhex(t, e.Aad), unhex(t, e.Ct))
	if err != nil || h(pt) != e.Pt {
		t.Fatalf("Open = %x, %v; want %s", pt, err, e.Pt)
	}
}
