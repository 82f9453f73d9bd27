package tui

import (
	"hash/fnv"

	"charm.land/lipgloss/v2"
)

// palette holds the member colours (amber and green are kept for warnings
// and the verified mark). Each is a mid-tone of the xterm
// 256-colour cube with a contrast ratio of at least 3.8:1 against both black
// and white (TestPaletteContrast), so a name stays readable on dark and light
// terminals alike; names are bold as well. The renderer lowers them to the
// terminal's colour profile, or drops them under NO_COLOR.
var palette = []string{
	"#d75f00", // orange
	"#5f8700", // olive
	"#00875f", // sea green
	"#008787", // teal
	"#0087af", // steel blue
	"#005fff", // blue
	"#5f5fff", // indigo
	"#af00ff", // purple
	"#d700d7", // magenta
	"#d7005f", // crimson
}

// memberColor picks a member's colour from its fingerprint, so a member
// keeps its colour for everyone and for the whole session, and two members
// with the same alias most likely differ.
func memberColor(fingerprint string) string {
	h := fnv.New32a()
	h.Write([]byte(fingerprint))
	return palette[h.Sum32()%uint32(len(palette))]
}

// The other colours, held to the same contrast as the palette.
const (
	colorGrey   = "#808080" // times, notices, rules, fingerprints
	colorAmber  = "#af5f00" // warnings
	colorRed    = "#d70000" // failures
	colorGreen  = "#008700" // the verified mark
	minContrast = 3.8
)

// Styles that carry meaning also carry a text marker ("--", "!", "[DM]",
// "file #N", "✓", "REPORT", "owner", "locked"), so nothing is lost without colour. Message text itself
// keeps the terminal's own colours.
var (
	styleHeader  = lipgloss.NewStyle().Bold(true)
	styleRule    = lipgloss.NewStyle().Foreground(lipgloss.Color(colorGrey))
	styleTime    = lipgloss.NewStyle().Foreground(lipgloss.Color(colorGrey))
	styleNotice  = lipgloss.NewStyle().Foreground(lipgloss.Color(colorGrey)).Italic(true)
	styleWarning = lipgloss.NewStyle().Foreground(lipgloss.Color(colorAmber)).Bold(true)
	styleError   = lipgloss.NewStyle().Foreground(lipgloss.Color(colorRed)).Bold(true)
	styleDM      = lipgloss.NewStyle().Reverse(true).Bold(true)
	styleFile    = lipgloss.NewStyle().Underline(true).Bold(true)
	styleFaint   = lipgloss.NewStyle().Foreground(lipgloss.Color(colorGrey))
	styleOK      = lipgloss.NewStyle().Foreground(lipgloss.Color(colorGreen)).Bold(true)
	stylePrompt  = lipgloss.NewStyle().Bold(true)
	styleHidden  = lipgloss.NewStyle().Foreground(lipgloss.Color(colorGrey)).Faint(true)
	styleReport  = lipgloss.NewStyle().Foreground(lipgloss.Color(colorRed)).Reverse(true).Bold(true)
	styleOwner   = lipgloss.NewStyle().Reverse(true).Bold(true)
	styleLocked  = lipgloss.NewStyle().Foreground(lipgloss.Color(colorAmber)).Reverse(true).Bold(true)
)

func styleMember(fingerprint string) lipgloss.Style {
	return lipgloss.NewStyle().Foreground(lipgloss.Color(memberColor(fingerprint))).Bold(true)
}
