package relay_test

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"veil/internal/protocol"
	"veil/internal/vtest"
)

// A client that sends its JOIN in the same packet as the upgrade request,
// before the 101 answer, is welcomed: the relay's small read buffer starts
// with the bytes the HTTP server had already read.
func TestJoinBehindTheUpgradeRequest(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	rm := s.CreateRoom(t, vtest.CreateOptions{})
	k := rm.Keys(t)
	nc, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))

	key := make([]byte, 16)
	rand.Read(key)
	req := "GET /ws HTTP/1.1\r\nHost: " + strings.TrimPrefix(s.URL, "http://") + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + base64.StdEncoding.EncodeToString(key) + "\r\n\r\n"
	// One masked binary frame (RFC 6455 section 5.2) carrying JOIN.
	join := protocol.Encode(protocol.Join{RID: k.RID, Join: k.Join})
	mask := [4]byte{1, 2, 3, 4}
	frame := append([]byte{0x82, 0x80 | byte(len(join))}, mask[:]...)
	for i, b := range join {
		frame = append(frame, b^mask[i%4])
	}
	if _, err := nc.Write(append([]byte(req), frame...)); err != nil {
		t.Fatal(err)
	}

	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade answered %s", resp.Status)
	}
	// The relay's first frame: unmasked binary, 16-bit length, then WELCOME.
	head := make([]byte, 5)
	if _, err := io.ReadFull(br, head); err != nil {
		t.Fatalf("no frame after the upgrade: %v", err)
	}
	if head[0] != 0x82 || head[1] != 126 || head[4] != protocol.TypeWelcome {
		t.Fatalf("first frame starts % x, want a binary WELCOME", head)
	}
}
