package web_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"veil/internal/limit"
	"veil/internal/pow"
	"veil/internal/room"
	"veil/internal/vtest"
	"veil/internal/web"
)

func TestSecurityHeaders(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	for _, path := range []string{"/", "/js/main.js", "/api/config", "/nope"} {
		resp, err := http.Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := map[string]string{
			"Content-Security-Policy": web.CSP,
			"Referrer-Policy":         "no-referrer",
			"X-Content-Type-Options":  "nosniff",
			"Cache-Control":           "no-store",
		}
		for k, v := range want {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("GET %s: %s = %q, want %q", path, k, got, v)
			}
		}
	}
	for _, must := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "require-trusted-types-for 'script'"} {
		if !strings.Contains(web.CSP, must) {
			t.Errorf("CSP lacks %q", must)
		}
	}
	if strings.Contains(web.CSP, "unsafe") {
		t.Errorf("CSP allows something unsafe: %s", web.CSP)
	}
}

func TestPages(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	for path, want := range map[string]int{"/": 200, "/index.html": 404, "/no/such/file": 404, "/js/protocol.js": 200} {
		resp, err := http.Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s = %d, want %d", path, resp.StatusCode, want)
		}
	}
}

// Invariant 6: the page names no third-party resource. Every src, href and
// import in our own files is relative.
func TestNoThirdPartyResources(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	ref := regexp.MustCompile(`(?:src|href)\s*=\s*["']([^"']+)|from\s+["']([^"']+)|import\(\s*["']([^"']+)`)
	sub := web.Static()
	var checked int
	fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if d.IsDir() || strings.HasPrefix(p, "vendor/") || !(strings.HasSuffix(p, ".html") || strings.HasSuffix(p, ".js") || strings.HasSuffix(p, ".css")) {
			return nil
		}
		b, _ := fs.ReadFile(sub, p)
		for _, m := range ref.FindAllStringSubmatch(string(b), -1) {
			u := m[1] + m[2] + m[3]
			if strings.Contains(u, "//") {
				t.Errorf("%s refers to %q", p, u)
			}
		}
		if m := htmlSink.FindString(string(b)); m != "" {
			t.Errorf("%s uses %s", p, m)
		}
		checked++
		return nil
	})
	if checked < 3 {
		t.Fatalf("checked only %d files", checked)
	}
	_ = s
}

// htmlSink finds the ways to put a string into the page as HTML or code.
var htmlSink = regexp.MustCompile(`\.(?:inner|outer)HTML\s*=|insertAdjacentHTML|document\.write|\beval\(|new Function\(|setHTMLUnsafe|parseHTMLUnsafe`)

func post(t *testing.T, url, origin, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url+"/api/rooms", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func createBody(rid byte, ttl int, extra string) string {
	b := func(n int, v byte) string {
		return base64.RawURLEncoding.EncodeToString([]byte(strings.Repeat(string(rune(v)), n)))
	}
	return `{"rid":"` + b(16, rid) + `","verifier":"` + b(32, 'v') + `","owner":"` + b(32, 'o') + `","ttl":` + itoa(ttl) + extra + `}`
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestCreateRoomAPI(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{Limits: room.Limits{MaxRooms: 3, MaxTTL: 2 * time.Hour}})
	tests := []struct {
		name   string
		origin string
		body   string
		status int
		inBody string
	}{
		{"created", "", createBody('a', 600, `,"purge":"owner","meta":"AAAA"`), 201, `"ttl":600`},
		{"same origin", s.URL, createBody('b', 600, ""), 201, `"ttl":600`},
		{"ttl lowered to the maximum", "", createBody('c', 99999, ""), 201, `"ttl":7200`},
		{"exists", "", createBody('a', 600, ""), 409, "exists"},
		{"full", "", createBody('d', 600, ""), 503, "maximum number of rooms"},
		{"cross origin", "https://evil.example", createBody('e', 600, ""), 403, ""},
		{"not json", "", "{nope", 400, "docs/protocol.md"},
		{"trailing data", "", createBody('f', 600, "") + "{", 400, "docs/protocol.md"},
		{"huge ttl", "", createBody('f', 1<<40, ""), 400, "at most 2147483648"},
		{"unknown field", "", createBody('f', 600, `,"x":1`), 400, ""},
		{"short ttl", "", createBody('f', 5, ""), 400, "ttl must be at least 10 seconds"},
		{"bad policy", "", createBody('f', 600, `,"purge":"nobody"`), 400, "purge must be"},
		{"bad rid", "", `{"rid":"AAAA","verifier":"","owner":"","ttl":600}`, 400, "rid must be 16 bytes"},
		{"meta too big", "", createBody('f', 600, `,"meta":"`+strings.Repeat("A", 1400)+`"`), 400, "meta over 1024 bytes"},
		{"body too big", "", createBody('f', 600, `,"meta":"`+strings.Repeat("A", 5000)+`"`), 413, "4096"},
	}
	for _, tc := range tests {
		status, body := post(t, s.URL, tc.origin, tc.body)
		if status != tc.status || !strings.Contains(body, tc.inBody) {
			t.Errorf("%s: POST = %d %s, want %d containing %q", tc.name, status, body, tc.status, tc.inBody)
		}
	}
	resp, err := http.Get(s.URL + "/api/config")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var cfg map[string]int
	json.NewDecoder(resp.Body).Decode(&cfg)
	if cfg["max_ttl"] != 7200 || cfg["default_ttl"] != 3600 {
		t.Fatalf("config = %v", cfg)
	}
}

func TestRoomCreationsAreLimitedPerAddress(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{CreateRate: limit.NewRates(1, 2, 100)})
	for i := range 2 {
		if status, body := post(t, s.URL, "", createBody(byte('a'+i), 600, "")); status != http.StatusCreated {
			t.Fatalf("creation %d = %d %s", i+1, status, body)
		}
	}
	status, body := post(t, s.URL, "", createBody('z', 600, ""))
	if status != http.StatusTooManyRequests || !strings.Contains(body, "too many rooms created from your address") {
		t.Fatalf("third creation in a burst of 2 = %d %s, want 429", status, body)
	}
	if s.Rooms.Len() != 2 {
		t.Fatalf("%d rooms exist, want 2", s.Rooms.Len())
	}
}

func TestProofOfWorkChallenges(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{PoW: pow.New(8)})
	var cfg map[string]int
	getJSON(t, s.URL+"/api/config", &cfg)
	if cfg["pow"] != 8 {
		t.Fatalf("config = %v, want pow 8", cfg)
	}
	var ch struct {
		Challenge string `json:"challenge"`
		Bits      int    `json:"bits"`
	}
	getJSON(t, s.URL+"/api/pow", &ch)
	if ch.Bits != 8 || len(ch.Challenge) != 54 {
		t.Fatalf("challenge = %+v", ch)
	}
	status, body := post(t, s.URL, "", createBody('a', 600, ""))
	if status != http.StatusPreconditionRequired || !strings.Contains(body, "proof of work") {
		t.Fatalf("create without a proof = %d %s", status, body)
	}
	// A server that asks for none says so.
	plain := vtest.NewServer(t, vtest.Options{})
	resp, err := http.Get(plain.URL + "/api/pow")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /api/pow without --pow = %d, want 404", resp.StatusCode)
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}
