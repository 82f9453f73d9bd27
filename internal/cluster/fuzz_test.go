package cluster

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"veil/internal/fuzzseed"
	"veil/internal/room"
)

// fuzzRecords are the seeds: records a node writes, and some it never does.
func fuzzRecords(t testing.TB) map[string][]any {
	t.Helper()
	full := Record{Verifier: [32]byte{1}, OwnerHash: [32]byte{2}, Deadline: time.Unix(1_900_000_000, 0).UTC(), TTL: time.Hour,
		Policy: 1, Meta: []byte("sealed"), Locked: true,
		Members: []room.SharedMember{{Session: 7, TokenHash: [32]byte{3}, Node: "n1", Hello: []byte("hello"), Owner: true}, {Session: 9, Node: "n2"}},
		Left:    []room.Departure{{Session: 5, Reason: 3}}, Kick: []uint32{9}}
	b, err := json.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]any{
		"full":         {b},
		"empty":        {[]byte(`{}`)},
		"twice":        {[]byte(`{"ms":[{"s":1,"n":"a"},{"s":1,"n":"b"}]}`)},
		"session-zero": {[]byte(`{"ms":[{"s":0,"n":"a"}]}`)},
		"no-node":      {[]byte(`{"ms":[{"s":1}]}`)},
		"not-json":     {[]byte(`{"ms":`)},
		"negative-ttl": {[]byte(`{"ttl":-1}`)},
	}
}

func TestWriteFuzzCorpus(t *testing.T) {
	fuzzseed.Corpus(t, "FuzzParseRecord", fuzzRecords(t))
}

// Whatever the bucket holds, parsing it never panics, and what it accepts
// is within the bounds the registry trusts and survives a round trip.
func FuzzParseRecord(f *testing.F) {
	for _, v := range fuzzRecords(f) {
		f.Add(v[0].([]byte))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := parseRecord(b)
		if err != nil {
			return
		}
		if len(rec.Members) > maxRecordMembers {
			t.Fatalf("%d members accepted", len(rec.Members))
		}
		seen := map[uint32]bool{}
		for _, m := range rec.Members {
			if m.Session == 0 || seen[m.Session] || m.Node == "" {
				t.Fatalf("member %+v accepted", m)
			}
			seen[m.Session] = true
		}
		again, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		back, err := parseRecord(again)
		if err != nil || !reflect.DeepEqual(normal(back), normal(rec)) {
			t.Fatalf("round trip: %v\n%+v\n%+v", err, rec, back)
		}
	})
}

// normal makes empty and nil slices alike, and times comparable.
func normal(r Record) Record {
	if len(r.Meta) == 0 {
		r.Meta = nil
	}
	if len(r.Members) == 0 {
		r.Members = nil
	}
	for i := range r.Members {
		if len(r.Members[i].Hello) == 0 {
			r.Members[i].Hello = nil
		}
	}
	if len(r.Left) == 0 {
		r.Left = nil
	}
	if len(r.Kick) == 0 {
		r.Kick = nil
	}
	r.Deadline = r.Deadline.UTC().Round(0)
	return r
}
