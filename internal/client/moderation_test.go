package client

import (
	"errors"
	"strings"
	"testing"

	"veil/internal/protocol"
	"veil/internal/vtest"
)

func TestOwnerKicksLocksAndReadsReports(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	rm := s.CreateRoom(t, vtest.CreateOptions{Name: "support"})
	owner := dial(t, rm, "owner")
	troll := dial(t, rm, "troll")
	reporter := dial(t, rm, "reporter")
	bystander := dial(t, rm, "bystander")
	settle(t, owner, troll, reporter, bystander)
	if !reporter.CanReport() {
		t.Fatal("a room made with a report key takes no reports")
	}
	// Before the owner proves its key, a report has nowhere to go.
	if err := troll.Say(t.Context(), "something vile", 0); err != nil {
		t.Fatal(err)
	}
	vile := expect(t, reporter, "msg", "something vile")
	expect(t, owner, "msg", "something vile")
	expect(t, bystander, "msg", "something vile")
	if err := reporter.Report(t.Context(), vile.ID, "please look"); err != nil {
		t.Fatal(err)
	}
	if e := expect(t, reporter, "error", ""); e.Code != protocol.CodeNoOwner {
		t.Fatalf("report without an owner: %+v", e)
	}
	if err := owner.ClaimOwner(t.Context(), rm.Owner); err != nil {
		t.Fatal(err)
	}
	if e := expect(t, owner, "state", ""); !e.Owner || e.Locked {
		t.Fatalf("state after claiming = %+v", e)
	}
	if err := reporter.Report(t.Context(), vile.ID, "please look"); err != nil {
		t.Fatal(err)
	}
	r := expect(t, owner, "report", "something vile")
	if r.From.Alias != "troll" || r.From.Fingerprint != troll.Fingerprint() || r.Reporter == nil || r.Reporter.Alias != "reporter" || r.Note != "please look" || r.ID != vile.ID {
		t.Fatalf("owner's report = %+v", r)
	}
	// Unknown or forgotten messages cannot be reported.
	if err := reporter.Report(t.Context(), "nope", ""); !errors.Is(err, ErrNotReportable) {
		t.Fatalf("report of an unknown id = %v", err)
	}
	reporter.Forget(vile.ID)
	if err := reporter.Report(t.Context(), vile.ID, ""); !errors.Is(err, ErrNotReportable) {
		t.Fatalf("report of a forgotten message = %v", err)
	}
	// Kick: the troll is out, everyone else sees why, and the room talks on
	// in a new epoch the troll never gets.
	if err := owner.Kick(t.Context(), troll.Session()); err != nil {
		t.Fatal(err)
	}
	if e := expect(t, troll, "closed", ""); e.Code != protocol.CloseRemoved {
		t.Fatalf("troll closed with %+v", e)
	}
	for _, c := range []*Client{owner, reporter, bystander} {
		if e := expect(t, c, "leave", "removed by the owner"); e.From.Alias != "troll" {
			t.Fatalf("%s saw %+v", c.Alias(), e)
		}
	}
	// Lock: a newcomer is refused, and everyone knows.
	if err := owner.Lock(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	if e := expect(t, bystander, "state", ""); !e.Locked || e.Owner {
		t.Fatalf("bystander's state = %+v", e)
	}
	if _, err := Dial(t.Context(), Config{Link: rm.Link, Alias: "troll-again"}); err == nil || !strings.Contains(err.Error(), "room locked") {
		t.Fatalf("join of a locked room = %v", err)
	}
	// A member who is not the owner can do neither.
	if err := bystander.Lock(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	if e := expect(t, bystander, "error", ""); e.Code != protocol.CodeNotAllowed {
		t.Fatalf("unlock by a member: %+v", e)
	}
	bystander.Say(t.Context(), "still here", 0)
	expect(t, reporter, "msg", "still here")
}

// A report about a member who has since left still verifies.
func TestReportAboutSomeoneWhoLeft(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	rm := s.CreateRoom(t, vtest.CreateOptions{})
	owner := dial(t, rm, "owner")
	gone := dial(t, rm, "gone")
	reporter := dial(t, rm, "reporter")
	settle(t, owner, gone, reporter)
	owner.ClaimOwner(t.Context(), rm.Owner)
	expect(t, owner, "state", "")
	gone.Say(t.Context(), "hit and run", 0)
	e := expect(t, reporter, "msg", "hit and run")
	gone.Close()
	expect(t, reporter, "leave", "")
	expect(t, owner, "leave", "")
	if err := reporter.Report(t.Context(), e.ID, ""); err != nil {
		t.Fatal(err)
	}
	if r := expect(t, owner, "report", "hit and run"); r.From.Alias != "gone" {
		t.Fatalf("report = %+v", r)
	}
}
