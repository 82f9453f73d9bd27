package client

import (
	"net/http"
	"testing"

	"veil/internal/pow"
	"veil/internal/protocol"
	"veil/internal/vtest"
)

// On a server that asks for a proof of work, the Go client does the work
// for creation and joins; a client that does not is refused with a reason.
func TestProofOfWork(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{PoW: pow.New(10)})
	if _, status, _ := s.TryCreate(vtest.CreateOptions{}); status != http.StatusPreconditionRequired {
		t.Fatalf("creation without a proof = %d, want 428", status)
	}
	made, err := Create(t.Context(), s.URL, CreateOptions{Name: "costly"})
	if err != nil {
		t.Fatalf("create with a proof: %v", err)
	}
	rm := &vtest.Room{Link: made.Link, Owner: made.Owner}
	a := dial(t, rm, "a")
	b := dial(t, rm, "b")
	settle(t, a, b)
	if _, err := s.Join(t, rm, "lazy", vtest.DialOptions{}); err == nil {
		t.Fatal("joined without a proof of work")
	} else if code, reason := vtest.CloseOf(err); code != protocol.ClosePoW || reason != pow.ErrMissing.Error() {
		t.Fatalf("join without a proof: %v", err)
	}
}
