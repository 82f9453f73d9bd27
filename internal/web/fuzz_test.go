package web_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"veil/internal/e2ee"
	"veil/internal/fuzzseed"
	"veil/internal/protocol"
	"veil/internal/room"
	"veil/internal/web"
)

// FuzzCreateRoom reads its seeds from testdata/fuzz/FuzzCreateRoom, made
// from the real key schedule: go test -run TestWriteFuzzCorpus
// -update-corpus.

// takenRID is the room every fuzzed registry already holds.
var takenRID = protocol.RID{0xee, 0xee}

type createRequest struct {
	RID      string `json:"rid"`
	Verifier string `json:"verifier"`
	Owner    string `json:"owner"`
	TTL      int64  `json:"ttl"`
	Purge    string `json:"purge"`
	Meta     string `json:"meta"`
}

func postRoom(h http.Handler, body []byte) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", "/api/rooms", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// FuzzCreateRoom posts body to POST /api/rooms of a registry that holds
// one room (takenRID) and, when full, is at its maximum. Every answer is
// one of docs/protocol.md section 3 (never a 500 or a panic), in JSON with
// a reason; 201 means the room of the body's rid now exists, with a
// lifetime within the limits, and posting the body again gives 409.
func FuzzCreateRoom(f *testing.F) {
	limits := room.Limits{MaxRooms: 3, MaxTTL: 2 * time.Hour, MinTTL: 10 * time.Second}
	f.Fuzz(func(t *testing.T, body []byte, full bool) {
		g := room.NewRegistry(limits)
		defer g.Close(protocol.ErrGoingAway)
		h := web.Handler(web.Config{Rooms: g, Relay: http.NotFoundHandler()})
		for i, rid := range []protocol.RID{takenRID, {0xee, 1}, {0xee, 2}} {
			if i == 0 || full {
				if _, err := g.Create(room.Spec{RID: rid, TTL: time.Hour}); err != nil {
					t.Fatal(err)
				}
			}
		}
		before := g.Len()
		w := postRoom(h, body)
		var answer struct {
			TTL     *int64 `json:"ttl"`
			Expires *int64 `json:"expires_in_ms"`
			Error   string `json:"error"`
		}
		jerr := json.Unmarshal(w.Body.Bytes(), &answer)
		if jerr != nil || w.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("POST %q: %d %q (%s), not JSON", body, w.Code, w.Body, w.Header().Get("Content-Type"))
		}
		switch w.Code {
		case http.StatusCreated:
			var req createRequest
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.DisallowUnknownFields()
			if dec.Decode(&req) != nil {
				t.Fatalf("POST %q created a room from a body that is not the JSON of section 3", body)
			}
			rid, err := base64.RawURLEncoding.DecodeString(req.RID)
			switch {
			case full:
				t.Fatalf("POST %q created a room past the maximum", body)
			case err != nil || len(rid) != protocol.RIDLen || g.Get(protocol.RID(rid)) == nil || g.Len() != before+1:
				t.Fatalf("POST %q: 201, yet no room %q (%d rooms)", body, req.RID, g.Len())
			case answer.TTL == nil || answer.Expires == nil || *answer.TTL < 10 || *answer.TTL > 7200 || *answer.TTL > req.TTL ||
				*answer.Expires <= 0 || *answer.Expires > *answer.TTL*1000:
				t.Fatalf("POST %q: 201 %s", body, w.Body)
			}
			if again := postRoom(h, body); again.Code != http.StatusConflict {
				t.Fatalf("POST %q twice: %d %s, want 409", body, again.Code, again.Body)
			}
		case http.StatusBadRequest, http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusServiceUnavailable:
			if answer.Error == "" || g.Len() != before {
				t.Fatalf("POST %q: %d %s with %d rooms, want a reason and %d rooms", body, w.Code, w.Body, g.Len(), before)
			}
			if w.Code == http.StatusRequestEntityTooLarge && len(body) <= 4096 {
				t.Fatalf("POST of %d bytes: 413", len(body))
			}
			if w.Code == http.StatusServiceUnavailable && !full {
				t.Fatalf("POST %q: 503 with room to spare", body)
			}
		default:
			t.Fatalf("POST %q: %d %s, not an answer of docs/protocol.md section 3", body, w.Code, w.Body)
		}
	})
}

// TestWriteFuzzCorpus checks that every seed is in testdata; with
// -update-corpus it rewrites the seed corpus.
func TestWriteFuzzCorpus(t *testing.T) {
	// As a creator's client builds it (client.Create).
	k, err := e2ee.DeriveRoom(bytes.Repeat([]byte{0x5e}, 32), "")
	if err != nil {
		t.Fatal(err)
	}
	owner := sha256.Sum256([]byte("owner key"))
	name, _ := json.Marshal(map[string]string{"name": "Team room"})
	meta, err := e2ee.SealMeta(k.Roster[:], k.RID, name, bytes.Repeat([]byte{0x0c}, protocol.NonceLen))
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	valid := map[string]any{"rid": b64(k.RID[:]), "verifier": b64(k.Verifier[:]), "owner": b64(owner[:]), "ttl": 3600, "purge": "owner", "meta": b64(meta)}
	body := func(mod func(map[string]any)) []byte {
		m := map[string]any{}
		for k, v := range valid {
			m[k] = v
		}
		if mod != nil {
			mod(m)
		}
		b, _ := json.Marshal(m)
		return b
	}
	good := body(nil)
	fuzzseed.Corpus(t, "FuzzCreateRoom", map[string][]any{
		"valid":            {good, false},
		"valid-when-full":  {good, true},
		"no-meta":          {body(func(m map[string]any) { delete(m, "meta"); delete(m, "purge") }), false},
		"taken-rid":        {body(func(m map[string]any) { m["rid"] = b64(takenRID[:]) }), false},
		"long-ttl":         {body(func(m map[string]any) { m["ttl"] = 365 * 24 * 3600 }), false},
		"ttl-9":            {body(func(m map[string]any) { m["ttl"] = 9 }), false},
		"ttl-overflow":     {body(func(m map[string]any) { m["ttl"] = 1<<31 + 1 }), false},
		"ttl-float":        {body(func(m map[string]any) { m["ttl"] = 3600.5 }), false},
		"purge-nobody":     {body(func(m map[string]any) { m["purge"] = "nobody" }), false},
		"meta-1025":        {body(func(m map[string]any) { m["meta"] = b64(make([]byte, protocol.MaxMeta+1)) }), false},
		"meta-padded":      {body(func(m map[string]any) { m["meta"] = base64.URLEncoding.EncodeToString(meta[:len(meta)-1]) }), false},
		"rid-15":           {body(func(m map[string]any) { m["rid"] = b64(k.RID[:15]) }), false},
		"verifier-std-b64": {body(func(m map[string]any) { m["verifier"] = base64.StdEncoding.EncodeToString(k.Verifier[:]) }), false},
		"unknown-field":    {body(func(m map[string]any) { m["name"] = "Team room" }), false},
		"upper-case-keys":  {bytes.ReplaceAll(good, []byte(`"rid"`), []byte(`"RID"`)), false},
		"trailing-garbage": {append(bytes.Clone(good), "}{"...), false},
		"truncated":        {good[:len(good)-1], false},
		"too-large":        {append(bytes.Clone(good[:len(good)-1]), []byte(`,"x":"`+strings.Repeat("x", 4096)+`"}`)...), false},
		"large-whitespace": {append(bytes.Clone(good), bytes.Repeat([]byte(" "), 4096)...), false},
		"null":             {[]byte(`null`), false},
		"array":            {[]byte(`[]`), false},
		"empty":            {[]byte{}, false},
	})
}
