package relay_test

import (
	"net/http"
	"strings"
	"testing"

	"veil/internal/protocol"
	"veil/internal/vtest"
)

// Invariant 1: every byte the server received, held or sent during a
// conversation is searched for the plaintext markers of messages, aliases,
// the room name and the password; none may appear.
func TestServerNeverSeesPlaintext(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	const (
		msgMarker   = "MSG-MARKER-7f3a"
		dmMarker    = "DM-MARKER-19bc"
		aliasMarker = "ALIAS-MARKER-d2e1"
		nameMarker  = "NAME-MARKER-5a0c"
		pwMarker    = "PW-MARKER-88f4"
	)
	rm := s.CreateRoom(t, vtest.CreateOptions{Name: nameMarker, Password: pwMarker})
	a := join(t, s, rm, aliasMarker+"-a")
	b := join(t, s, rm, aliasMarker+"-b")
	a.Expect("hello")
	for i := range 5 {
		if err := a.Say(msgMarker + strings.Repeat(" padding", i*100)); err != nil {
			t.Fatal(err)
		}
		if err := b.DM(a.Welcome.Session, dmMarker); err != nil {
			t.Fatal(err)
		}
	}
	for range 5 {
		if e := b.Expect("msg"); !strings.HasPrefix(e.Text, msgMarker) {
			t.Fatalf("b got %+v", e)
		}
		if e := a.Expect("dm"); e.Text != dmMarker {
			t.Fatalf("a got %+v", e)
		}
	}
	// The clients decrypted the markers, so they were really sent. Now the
	// server's view: all socket bytes in both directions, and its log.
	seen := s.Wire.String() + s.Log.String()
	if len(s.Wire.Bytes()) < 5*300 {
		t.Fatalf("recorded only %d bytes: the recorder is not wired", len(s.Wire.Bytes()))
	}
	for _, m := range []string{msgMarker, dmMarker, aliasMarker, nameMarker, pwMarker} {
		if strings.Contains(seen, m) {
			t.Errorf("the server saw %q", m)
		}
	}
}

// Invariant 3: no log line holds an address or an alias, with clients on
// several loopback addresses, a spoofed X-Forwarded-For and every kind of
// refusal logged at debug level.
func TestLogsHoldNoAddressOrAlias(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	rm := s.CreateRoom(t, vtest.CreateOptions{Name: "room", Purge: "owner"})
	spoof := http.Header{"X-Forwarded-For": {"203.0.113.77"}, "X-Real-Ip": {"198.51.100.9"}}
	var clients []*vtest.Client
	for i, ip := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"} {
		c, err := s.Join(t, rm, "alias-"+ip, vtest.DialOptions{LocalIP: ip, Header: spoof})
		if err != nil {
			t.Fatalf("join from %s: %v", ip, err)
		}
		clients = append(clients, c)
		if i > 0 {
			clients[0].Expect("hello")
		}
	}
	clients[0].Say("hi")
	clients[1].Write(protocol.Purge{Owner: &[32]byte{1}})
	// Refusals of several kinds, each from its own address.
	ws, err := s.Dial(t.Context(), vtest.DialOptions{LocalIP: "127.0.0.5", Header: spoof})
	if err != nil {
		t.Fatal(err)
	}
	(&vtest.Client{WS: ws}).WriteRaw([]byte{0x42})
	vtest.ReadUntilClose(t, ws)
	bad := *rm
	bad.Password = "x"
	s.Join(t, &bad, "alias-wrong", vtest.DialOptions{LocalIP: "127.0.0.6", Header: spoof})
	req, _ := http.NewRequest("POST", s.URL+"/api/rooms", strings.NewReader("{not json"))
	req.Header = spoof
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	clients[2].WS.Close(1001, "bye")
	clients[0].Expect("left")

	logs := s.Log.String()
	if !strings.Contains(logs, "socket refused") {
		t.Fatalf("no debug lines were logged; the test would prove nothing:\n%s", logs)
	}
	for _, bad := range []string{"127.0.0.", "203.0.113.77", "198.51.100.9", "alias-", "::1"} {
		if strings.Contains(logs, bad) {
			t.Errorf("log holds %q:\n%s", bad, logs)
		}
	}
}
