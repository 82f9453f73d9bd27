package relay_test

import (
	"testing"

	"veil/internal/roomsuite"
	"veil/internal/vtest"
)

// The room suite on one node, its rooms in memory: every member joins
// through the same server.
func TestRoomSuiteInMemory(t *testing.T) {
	roomsuite.Run(t, func(t *testing.T, opt vtest.Options) []*vtest.Server {
		return []*vtest.Server{vtest.NewServer(t, opt)}
	})
}
