package e2ee

import (
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/json"
	"os"
	"testing"
)

// TestRFCVectors runs the published vectors of testdata/vectors/rfc.json
// (shared with the JS tests) through the primitives veil's Go side uses.
func TestRFCVectors(t *testing.T) {
	raw, err := os.ReadFile("../../testdata/vectors/rfc.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		HKDF []struct {
			Name, IKM, Salt, Info, OKM string
			Length                     int
		} `json:"hkdf_sha256"`
		Ed25519 []struct{ Name, Secret, Public, Message, Signature string }
		X25519  []map[string]string `json:"x25519"`
		PBKDF2  []struct {
			Name, Password, Salt, DK string
			Iterations, Length       int
		} `json:"pbkdf2_sha256"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	x := v.X25519
	if len(v.HKDF) < 2 || len(v.Ed25519) < 1 || len(x) < 2 || len(v.PBKDF2) < 1 {
		t.Fatalf("the vector file is incomplete")
	}
	for _, c := range v.HKDF {
		okm, err := hkdf.Key(sha256.New, unhex(t, c.IKM), unhex(t, c.Salt), string(unhex(t, c.Info)), c.Length)
		if err != nil || h(okm) != c.OKM {
			t.Errorf("%s: HKDF = %x, %v", c.Name, okm, err)
		}
	}
	for _, c := range v.Ed25519 {
		priv := ed25519.NewKeyFromSeed(unhex(t, c.Secret))
		if got := h(priv.Public().(ed25519.PublicKey)); got != c.Public {
			t.Errorf("%s: public key %s", c.Name, got)
		}
		if got := h(ed25519.Sign(priv, unhex(t, c.Message))); got != c.Signature {
			t.Errorf("%s: signature %s", c.Name, got)
		}
	}
	for _, c := range x {
		a, err := ecdh.X25519().NewPrivateKey(unhex(t, c["a_priv"]))
		if err != nil {
			t.Fatal(err)
		}
		b, err := ecdh.X25519().NewPublicKey(unhex(t, c["b_pub"]))
		if err != nil {
			t.Fatal(err)
		}
		shared, err := a.ECDH(b)
		if c["shared"] == "" {
			if err == nil {
				t.Errorf("%s: accepted, shared %x", c["name"], shared)
			}
			continue
		}
		if err != nil || h(shared) != c["shared"] || h(a.PublicKey().Bytes()) != c["a_pub"] {
			t.Errorf("%s: shared %x, %v", c["name"], shared, err)
		}
	}
	for _, c := range v.PBKDF2 {
		dk, err := pbkdf2.Key(sha256.New, c.Password, unhex(t, c.Salt), c.Iterations, c.Length)
		if err != nil || h(dk) != c.DK {
			t.Errorf("%s: PBKDF2 = %x, %v", c.Name, dk, err)
		}
	}
}
