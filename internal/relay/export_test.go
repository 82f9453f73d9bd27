package relay_test

import (
	"time"

	"veil/internal/relay"
	"veil/internal/vtest"
)

// relayOpts is a relay with a short queue and write deadline and no rate
// limits, so that a test can make a reader fall behind.
func relayOpts(queue int) relay.Options {
	o := vtest.Unthrottled
	o.QueueLen, o.WriteTimeout = queue, 2*time.Second
	return o
}
