package client

import "testing"

// An owner key is read however a person is likely to have kept it.
func TestParseOwnerKey(t *testing.T) {
	var want [32]byte
	for i := range want {
		want[i] = byte(i)
	}
	for _, s := range []string{
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
		" AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n",
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
	} {
		if got, err := ParseOwnerKey(s); err != nil || *got != want {
			t.Errorf("ParseOwnerKey(%q) = %v, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "short", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"} {
		if k, err := ParseOwnerKey(s); err != ErrOwnerKey || k != nil {
			t.Errorf("ParseOwnerKey(%q) accepted", s)
		}
	}
}
