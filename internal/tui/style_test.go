package tui

import (
	"math"
	"strconv"
	"testing"
)

// luminance is the WCAG relative luminance of "#rrggbb".
func luminance(t *testing.T, hex string) float64 {
	t.Helper()
	v, err := strconv.ParseUint(hex[1:], 16, 32)
	if err != nil || len(hex) != 7 {
		t.Fatalf("colour %q", hex)
	}
	lin := func(c uint64) float64 {
		s := float64(c) / 255
		if s <= 0.04045 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(v>>16&0xff) + 0.7152*lin(v>>8&0xff) + 0.0722*lin(v&0xff)
}

// TestPaletteContrast holds every colour readable on black and on white
// terminals alike.
func TestPaletteContrast(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range append([]string{colorGrey, colorAmber, colorRed, colorGreen}, palette...) {
		if seen[c] {
			t.Errorf("%s used twice", c)
		}
		seen[c] = true
		l := luminance(t, c)
		onBlack, onWhite := (l+0.05)/0.05, 1.05/(l+0.05)
		if onBlack < minContrast || onWhite < minContrast {
			t.Errorf("%s: contrast %.1f:1 on black, %.1f:1 on white; want at least %.1f:1 on both", c, onBlack, onWhite, minContrast)
		}
	}
}

func TestMemberColourIsStableAndSpread(t *testing.T) {
	fp := "1a2b-3c4d-5e6f-7a8b"
	first := memberColor(fp)
	if again := memberColor(fp); again != first {
		t.Fatal("a fingerprint changed colour")
	}
	used := map[string]bool{}
	for i := range 200 {
		used[memberColor(strconv.Itoa(i)+"-fingerprint")] = true
	}
	if len(used) != len(palette) {
		t.Errorf("200 fingerprints used %d of %d colours", len(used), len(palette))
	}
}
