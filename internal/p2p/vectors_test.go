package p2p

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"
	"time"

	"veil/internal/client"
	"veil/internal/protocol"
)

// A p2p room runs the key schedule of server mode, from the same package:
// joined through a p2p link, each shared vector's secret and password give
// the room id and keys the vectors list (testdata/vectors, read by the Go
// and JS tests of server mode too).
func TestSharedVectors(t *testing.T) {
	raw, err := os.ReadFile("../../testdata/vectors/v1.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		KeySchedule []struct {
			Name, Secret, Password, RID, Join, Roster, Msg string
		} `json:"key_schedule"`
	}
	if err := json.Unmarshal(raw, &v); err != nil || len(v.KeySchedule) == 0 {
		t.Fatalf("vectors: %v", err)
	}
	for _, c := range v.KeySchedule {
		secret, _ := hex.DecodeString(c.Secret)
		l, _ := NewRoom(c.Password != "", time.Hour, protocol.PolicyAnyone, nil)
		copy(l.Room.Secret[:], secret)
		cl, r, err := Join(t.Context(), l, Options{Listen: loopback, NoMDNS: true}, client.Config{Password: c.Password})
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		k := r.keys
		cl.Close()
		for name, got := range map[string][]byte{c.RID: k.RID[:], c.Join: k.Join[:], c.Roster: k.Roster[:], c.Msg: k.Msg[:]} {
			if hex.EncodeToString(got) != name {
				t.Errorf("%s: a key is %x, the vectors say %s", c.Name, got, name)
			}
		}
	}
}
