package p2p

import (
	"testing"

	"veil/internal/vtest"
)

func TestMain(m *testing.M) { vtest.Main(m) }
