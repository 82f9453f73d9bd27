package cluster

import (
	"testing"

	"veil/internal/roomsuite"
	"veil/internal/vtest"
)

// The room suite on three nodes sharing rooms through NATS: member i joins
// through node i, so every case crosses nodes.
func TestRoomSuiteOnThreeNodes(t *testing.T) {
	roomsuite.Run(t, func(t *testing.T, opt vtest.Options) []*vtest.Server {
		ns, _ := startNodes(t, 3, opt)
		var out []*vtest.Server
		for _, n := range ns {
			out = append(out, n.S)
		}
		return out
	})
}
