package cluster

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"veil/internal/protocol"
	"veil/internal/roomsuite"
	"veil/internal/vtest"
)

// A room lived out on three nodes (members on each, messages, a direct
// message, an owner who locks and kicks, a purge) leaves nothing of itself
// in any NATS server's store directory: not its id, not a record, not a
// sealed hello or envelope, in raw bytes, hex or base64.
func TestNothingOfARoomOnDisk(t *testing.T) {
	ns, c := startNodes(t, 3, vtest.Options{})
	rm := ns[0].S.CreateRoom(t, vtest.CreateOptions{Name: "off the record"})
	var cs []*vtest.Client
	for i, n := range ns {
		cs = append(cs, join(t, n.S, rm, string(rune('a'+i))))
	}
	for _, x := range cs {
		for _, y := range cs {
			if x != y {
				roomsuite.Meets(t, x, y)
			}
		}
	}
	frame, err := cs[0].SealFrame(protocol.KindMsg, "never on disk")
	if err != nil {
		t.Fatal(err)
	}
	cs[0].WriteRaw(frame)
	for _, o := range cs[1:] {
		if e := o.Expect("msg"); e.Text != "never on disk" {
			t.Fatalf("%s got %+v", o.Alias, e)
		}
	}
	cs[1].DM(cs[2].Welcome.Session, "nor this")
	cs[2].Expect("dm")
	cs[0].Write(protocol.Owner{Key: rm.Owner})
	cs[0].Expect("state")
	cs[0].Write(protocol.Lock{Locked: true})
	cs[1].Expect("state")
	cs[0].Write(protocol.Kick{Session: cs[2].Welcome.Session})
	cs[2].ExpectClose()
	cs[1].Expect("left")

	rid := cs[0].Keys.RID
	var hello []byte
	for _, m := range cs[1].Welcome.Members {
		if m.Session == cs[0].Welcome.Session {
			hello = m.Hello
		}
	}
	if hello == nil {
		t.Fatal("no hello of a in b's WELCOME")
	}
	secrets := map[string][]byte{
		"room id":            rid[:],
		"room id, hex":       []byte(hex.EncodeToString(rid[:])),
		"room id, base64":    []byte(base64.StdEncoding.EncodeToString(rid[:])),
		"a hello":            hello[len(hello)-48:],
		"a hello, base64":    []byte(base64.StdEncoding.EncodeToString(hello[len(hello)-48:])[:40]),
		"an envelope":        frame[len(frame)-48:],
		"a record's members": []byte(`"ms":[`),
	}
	check := func() {
		for i := range c.Len() {
			filepath.WalkDir(c.StoreDir(i), func(p string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return nil
				}
				b, _ := os.ReadFile(p)
				for what, s := range secrets {
					if bytes.Contains(b, s) {
						t.Errorf("%s holds %s", p, what)
					}
				}
				return nil
			})
		}
	}
	check()
	cs[0].Write(protocol.Purge{})
	cs[0].ExpectClose()
	check()
}
