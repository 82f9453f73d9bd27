package client

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"veil/internal/protocol"
	"veil/internal/room"
	"veil/internal/vtest"
)

func randomData(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// expectFile waits for a file event from c (skipping progress).
func expectFile(t *testing.T, c *Client) Event {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case e, ok := <-c.Events():
			if !ok {
				t.Fatalf("%s: events ended waiting for a file", c.Alias())
			}
			if e.Type == "file" || e.Type == "file-failed" {
				return e
			}
		case <-deadline:
			t.Fatalf("%s: no file within 30s", c.Alias())
		}
	}
}

func TestFilesToTheRoomAndInADM(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	rm := s.CreateRoom(t, vtest.CreateOptions{})
	a := dial(t, rm, "a")
	b := dial(t, rm, "b")
	c := dial(t, rm, "c")
	settle(t, a, b, c)
	for _, size := range []int{0, 1, ChunkData, ChunkData + 1, 3*ChunkData - 7} {
		data := randomData(size)
		if err := a.SendFile(t.Context(), 0, "f.bin", "application/octet-stream", data, false); err != nil {
			t.Fatal(err)
		}
		for _, o := range []*Client{b, c} {
			e := expectFile(t, o)
			if e.Type != "file" || !bytes.Equal(e.Data, data) || e.File.Name != "f.bin" || e.From.Alias != "a" {
				t.Fatalf("%s got %s %q (%d bytes), want %d bytes", o.Alias(), e.Type, e.Text, len(e.Data), size)
			}
		}
	}
	// In a DM: only the peer receives it.
	ab, _ := a.Member("b")
	secret := randomData(2*ChunkData + 5)
	if err := a.SendFile(t.Context(), ab.Session, "dm.bin", "application/octet-stream", secret, false); err != nil {
		t.Fatal(err)
	}
	if e := expectFile(t, b); e.Type != "file" || !bytes.Equal(e.Data, secret) {
		t.Fatalf("b got %s %q", e.Type, e.Text)
	}
	a.Say(t.Context(), "after the DM file", 0)
	for {
		e := next(t, c)
		if e.Type == "file-offer" || e.Type == "file" {
			t.Fatalf("c saw the DM file: %+v", e.Type)
		}
		if e.Type == "msg" {
			break
		}
	}
}

// The tamperer alters chunks of files on their way to b: b must never offer
// an altered file, and must still receive an untouched one afterwards.
func TestTamperedChunksAreRejected(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	tp := newChunkTamperer(t, s)
	rm := s.CreateRoom(t, vtest.CreateOptions{})
	a := dial(t, rm, "a")
	b := dial(t, &vtest.Room{Link: tp.link(rm)}, "b")
	settle(t, a, b)
	for i, mode := range []string{"reorder", "truncate", "duplicate", "substitute", "flip", "drop-last-flag"} {
		tp.mode.Store(&mode)
		data := randomData(4*ChunkData + 100)
		if err := a.SendFile(t.Context(), 0, mode, "application/octet-stream", data, false); err != nil {
			t.Fatal(err)
		}
		// Once the tamperer is past the file, the sender's next file (sent
		// untouched) shows whether the tampered one was cut short.
		vtest.Poll(t, "the file to pass the tamperer", func() bool { return tp.lasts.Load() == int32(2*i+1) })
		tp.mode.Store(new(string))
		next := randomData(100)
		a.SendFile(t.Context(), 0, "next", "application/octet-stream", next, false)
		e := expectFile(t, b)
		if e.Type != "file-failed" || e.File.Name != mode {
			t.Fatalf("%s: b got %s of %q (%d bytes)", mode, e.Type, e.File.Name, len(e.Data))
		}
		t.Logf("%s: %s", mode, e.Text)
		if e := expectFile(t, b); e.Type != "file" || !bytes.Equal(e.Data, next) {
			t.Fatalf("after the %s file: %s %q", mode, e.Type, e.Text)
		}
	}
	tp.mode.Store(new(string))
	data := randomData(2 * ChunkData)
	a.SendFile(t.Context(), 0, "clean", "application/octet-stream", data, false)
	if e := expectFile(t, b); e.Type != "file" || !bytes.Equal(e.Data, data) {
		t.Fatalf("the clean file: %s %q", e.Type, e.Text)
	}
}

func TestRelayLimitsFileSize(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{Limits: room.Limits{MaxFile: 3 * ChunkData}})
	rm := s.CreateRoom(t, vtest.CreateOptions{})
	a := dial(t, rm, "a", func(c *Config) { c.MaxFile = 1 << 30 })
	b := dial(t, rm, "b", func(c *Config) { c.MaxFile = 1 << 30 })
	settle(t, a, b)
	data := randomData(20 * ChunkData)
	if err := a.SendFile(t.Context(), 0, "big", "application/octet-stream", data, false); err != nil {
		t.Fatal(err)
	}
	if e := expect(t, a, "error", ""); e.Code != protocol.CodeFileTooLarge {
		t.Fatalf("a got %+v", e)
	}
	a.Say(t.Context(), "still here", 0)
	expect(t, b, "msg", "still here")
	// b never gets the whole file: it is cut short, as the next file shows.
	a.SendFile(t.Context(), 0, "small", "text/plain", []byte("small"), false)
	if e := expectFile(t, b); e.Type != "file-failed" {
		t.Fatalf("b received a file over the relay's limit: %s", e.Type)
	}
	if e := expectFile(t, b); e.Type != "file" || e.File.Name != "small" {
		t.Fatalf("b then got %s %q", e.Type, e.Text)
	}
}

func TestManifestIsChecked(t *testing.T) {
	if chunksFor(0) != 1 || chunksFor(ChunkData) != 1 || chunksFor(ChunkData+1) != 2 {
		t.Fatal("chunksFor is off")
	}
	sum := sha256.Sum256(randomData(10))
	good := FileInfo{TID: 1, Size: 10, Chunks: 1, SHA256: hex.EncodeToString(sum[:]), Key: base64.RawURLEncoding.EncodeToString(make([]byte, 32))}
	if _, err := good.check(100); err != nil {
		t.Fatalf("a good manifest was refused: %v", err)
	}
	for name, mod := range map[string]func(f *FileInfo){
		"bad key":         func(f *FileInfo) { f.Key = "x" },
		"no transfer id":  func(f *FileInfo) { f.TID = 0 },
		"over the limit":  func(f *FileInfo) { f.Size, f.Chunks = 101, 1 },
		"negative size":   func(f *FileInfo) { f.Size = -1 },
		"wrong chunks":    func(f *FileInfo) { f.Chunks = 2 },
		"short hash":      func(f *FileInfo) { f.SHA256 = "00" },
		"hash is not hex": func(f *FileInfo) { f.SHA256 = strings.Repeat("zz", 32) },
	} {
		f := good
		mod(&f)
		if _, err := f.check(100); err == nil {
			t.Errorf("%s: the manifest passed", name)
		}
	}
}
