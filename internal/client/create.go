package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"veil/internal/e2ee"
	"veil/internal/pow"
)

// CreateOptions describe a room to create.
type CreateOptions struct {
	Name       string
	Password   string
	TTL        time.Duration // 0: the server's default
	Purge      string        // "anyone" (default) or "owner"
	HTTPClient *http.Client  // nil: the default
}

// Created is what the creator keeps.
type Created struct {
	Link  string
	Owner [32]byte // the owner key: purges the room whatever its policy
	TTL   time.Duration
}

// OwnerKey returns the owner key as the text a person keeps.
func (c Created) OwnerKey() string { return base64.RawURLEncoding.EncodeToString(c.Owner[:]) }

// ErrOwnerKey is the refusal of a string that is no owner key.
var ErrOwnerKey = errors.New("an owner key is 32 bytes in base64url (43 characters)")

// ParseOwnerKey reads an owner key as OwnerKey and the web client write it:
// base64url of 32 bytes, padded or not, around white space; standard
// base64 and hex are accepted too.
func ParseOwnerKey(s string) (*[32]byte, error) {
	s = strings.TrimSpace(s)
	for _, dec := range []func(string) ([]byte, error){
		base64.RawURLEncoding.Strict().DecodeString, base64.URLEncoding.Strict().DecodeString,
		base64.RawStdEncoding.Strict().DecodeString, base64.StdEncoding.Strict().DecodeString, hex.DecodeString,
	} {
		if b, err := dec(s); err == nil && len(b) == 32 {
			var k [32]byte
			copy(k[:], b)
			return &k, nil
		}
	}
	return nil, ErrOwnerKey
}

// CreateError is the server's refusal to create a room: its HTTP status and
// its message.
type CreateError struct {
	Status int
	Msg    string
}

func (e *CreateError) Error() string { return "the server refused to create the room: " + e.Msg }

// Create makes a room on the server at base (scheme and host) as a creator's
// browser does: the secret and the owner key never leave this process; the
// server gets only hashes and the sealed name.
func Create(ctx context.Context, base string, o CreateOptions) (Created, error) {
	var out Created
	base = strings.TrimRight(base, "/")
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		return out, fmt.Errorf("the server address must start with http:// or https://")
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	if o.TTL == 0 {
		var cfg struct {
			DefaultTTL int64 `json:"default_ttl"`
		}
		if err := getJSON(ctx, hc, base+"/api/config", &cfg); err != nil {
			return out, err
		}
		o.TTL = time.Duration(cfg.DefaultTTL) * time.Second
	}
	if o.Purge == "" {
		o.Purge = "anyone"
	}
	var secret [32]byte
	rand.Read(secret[:])
	rand.Read(out.Owner[:])
	l := e2ee.Link{Base: base, Secret: secret, Password: o.Password != ""}
	k, err := e2ee.DeriveRoom(secret[:], o.Password)
	if err != nil {
		return out, err
	}
	ownerHash := sha256.Sum256(out.Owner[:])
	body := map[string]any{
		"rid":      b64(k.RID[:]),
		"verifier": b64(k.Verifier[:]),
		"owner":    b64(ownerHash[:]),
		"ttl":      int64(o.TTL / time.Second),
		"purge":    o.Purge,
	}
	// The meta carries the name, if any, and the report key (docs/protocol.md 9.3).
	rk, err := e2ee.ReportKey(out.Owner, k)
	if err != nil {
		return out, err
	}
	meta := map[string]string{"report": b64(rk.PublicKey().Bytes())}
	if o.Name != "" {
		meta["name"] = o.Name
	}
	raw, _ := json.Marshal(meta)
	sealed, err := e2ee.SealMeta(k.Roster[:], k.RID, raw, nil)
	if err != nil {
		return out, fmt.Errorf("room name: %w", err)
	}
	body["meta"] = b64(sealed)
	raw, _ = json.Marshal(body)
	var answer struct {
		TTL   int64  `json:"ttl"`
		Error string `json:"error"`
	}
	post := func(proof string) (int, error) {
		answer.Error = ""
		req, err := http.NewRequestWithContext(ctx, "POST", base+"/api/rooms", bytes.NewReader(raw))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Content-Type", "application/json")
		if proof != "" {
			req.Header.Set("Veil-PoW", proof)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return 0, fmt.Errorf("create room: %w", err)
		}
		defer resp.Body.Close()
		json.NewDecoder(resp.Body).Decode(&answer)
		if answer.Error == "" {
			answer.Error = resp.Status
		}
		return resp.StatusCode, nil
	}
	status, err := post("")
	if status == http.StatusPreconditionRequired {
		// The server asks for a proof of work: do it once.
		var proof string
		if proof, err = ProveWork(ctx, hc, base); err == nil {
			status, err = post(proof)
		}
	}
	if err != nil {
		return out, err
	}
	if status != http.StatusCreated {
		return out, &CreateError{Status: status, Msg: answer.Error}
	}
	out.Link, out.TTL = l.String(), time.Duration(answer.TTL)*time.Second
	return out, nil
}

func getJSON(ctx context.Context, hc *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("reach the server: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// ProveWork fetches a proof-of-work challenge from the server at base and
// solves it (docs/protocol.md section 10), within ctx.
func ProveWork(ctx context.Context, hc *http.Client, base string) (string, error) {
	var ch struct {
		Challenge string `json:"challenge"`
		Bits      int    `json:"bits"`
	}
	if err := getJSON(ctx, hc, base+"/api/pow", &ch); err != nil {
		return "", err
	}
	if ch.Bits < 0 || ch.Bits > pow.MaxBits {
		return "", fmt.Errorf("the server asks for %d bits of work, more than %d", ch.Bits, pow.MaxBits)
	}
	return pow.Solve(ch.Challenge, ch.Bits, ctx.Done())
}
