package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"veil/internal/client"
	"veil/internal/e2ee"
)

// roomTTL is the lifetime asked for each room; the server may lower it to
// its --max-ttl. Rooms are purged at the end of a run anyway.
const roomTTL = time.Hour

// createRoom makes a room on the server at base as a creator's client does
// (client.Create: POST /api/rooms, with the proof of work when the server
// asks for one) and returns its keys.
func createRoom(ctx context.Context, hc *http.Client, base string) (e2ee.Keys, error) {
	c, err := client.Create(ctx, base, client.CreateOptions{Name: "bench", TTL: roomTTL, HTTPClient: hc})
	if err != nil {
		return e2ee.Keys{}, err
	}
	l, err := e2ee.ParseLink(c.Link)
	if err != nil {
		return e2ee.Keys{}, err
	}
	return e2ee.DeriveRoom(l.Secret[:], "")
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
