package relay_test

import (
	"time"

	"veil/internal/relay"
)

func relayOpts(queue int) relay.Options {
	return relay.Options{QueueLen: queue, WriteTimeout: 2 * time.Second}
}
