package main

import (
	"testing"

	"veil/internal/vtest"
)

// TestMain fails the run if a test leaves a goroutine behind.
func TestMain(m *testing.M) { vtest.Main(m) }
