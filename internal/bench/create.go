package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"veil/internal/e2ee"
	"veil/internal/pow"
)

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// roomTTL is the lifetime asked for each room; the server may lower it to
// its --max-ttl. Rooms are purged at the end of a run anyway.
const roomTTL = 3600

// newKeys makes a fresh room secret and derives its keys, as a creator's
// client does.
func newKeys() (e2ee.Keys, error) {
	var secret [e2ee.SecretLen]byte
	rand.Read(secret[:])
	return e2ee.DeriveRoom(secret[:], "")
}

// createRoom registers a room for k on the server at base through POST
// /api/rooms (docs/protocol.md section 3), doing the proof of work when
// the server asks for one.
func createRoom(ctx context.Context, hc *http.Client, base string, k e2ee.Keys) error {
	var owner [32]byte
	rand.Read(owner[:])
	ownerHash := sha256.Sum256(owner[:])
	rk, err := e2ee.ReportKey(owner, k)
	if err != nil {
		return err
	}
	meta, _ := json.Marshal(map[string]string{"name": "bench", "report": b64(rk.PublicKey().Bytes())})
	sealed, err := e2ee.SealMeta(k.Roster[:], k.RID, meta, nil)
	if err != nil {
		return err
	}
	body, _ := json.Marshal(map[string]any{
		"rid": b64(k.RID[:]), "verifier": b64(k.Verifier[:]), "owner": b64(ownerHash[:]),
		"ttl": roomTTL, "purge": "anyone", "meta": b64(sealed),
	})
	status, msg, err := postRoom(ctx, hc, base, body, "")
	if err == nil && status == http.StatusPreconditionRequired {
		var proof string
		if proof, err = prove(ctx, hc, base); err == nil {
			status, msg, err = postRoom(ctx, hc, base, body, proof)
		}
	}
	if err != nil {
		return err
	}
	if status != http.StatusCreated {
		return &createError{Status: status, Msg: msg}
	}
	return nil
}

// createError is a refused creation.
type createError struct {
	Status int
	Msg    string
}

func (e *createError) Error() string { return fmt.Sprintf("create refused %d %s", e.Status, e.Msg) }

func postRoom(ctx context.Context, hc *http.Client, base string, body []byte, proof string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", base+"/api/rooms", bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	if proof != "" {
		req.Header.Set("Veil-PoW", proof)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var answer struct {
		Error string `json:"error"`
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	json.Unmarshal(raw, &answer)
	return resp.StatusCode, answer.Error, nil
}

// prove fetches a challenge from the server at base and solves it
// (docs/protocol.md section 10).
func prove(ctx context.Context, hc *http.Client, base string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/api/pow", nil)
	if err != nil {
		return "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var ch struct {
		Challenge string `json:"challenge"`
		Bits      int    `json:"bits"`
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET /api/pow answered %d", resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&ch); err != nil {
		return "", fmt.Errorf("GET /api/pow: %w", err)
	}
	if ch.Bits < 0 || ch.Bits > pow.MaxBits {
		return "", fmt.Errorf("the server asks for %d bits of work, more than %d", ch.Bits, pow.MaxBits)
	}
	return pow.Solve(ch.Challenge, ch.Bits, ctx.Done())
}

// reach checks that an HTTP server answers at base (any status will do:
// the baseline relay has no /api/config).
func reach(ctx context.Context, hc *http.Client, base string) error {
	req, err := http.NewRequestWithContext(ctx, "GET", strings.TrimRight(base, "/")+"/api/config", nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach %s: %s", base, classify(err))
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	return nil
}
