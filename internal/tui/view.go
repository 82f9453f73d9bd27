package tui

import (
	"fmt"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"veil/internal/client"
)

type entryKind int

const (
	kindMsg     entryKind = iota // a group message, from a member or from us (self)
	kindDMIn                     // a direct message from a member
	kindDMOut                    // a direct message from us to from
	kindNotice                   // joined, left, answers to commands
	kindWarning                  // gaps, refusals, reconnecting
	kindError                    // a command that failed
	kindFile                     // a file from a member (only through x)
	kindReport                   // a report to the owner: from wrote text, reporter added note
	kindHidden                   // a line in place of what mute or the word filter hides
)

// entry is one item of the message pane. Peer text in it is already
// cleaned.
type entry struct {
	kind    entryKind
	at      time.Time
	from    client.Member // the sender; for kindDMOut the recipient
	self    bool
	id      string // a received message's id, for /report
	text    string
	expires time.Time // zero: stays
	x       *xfer     // a file: the entry shows its state (file.go)
	repeat  int       // a warning: how many more times it came

	reporter client.Member // kindReport: who reported it
	note     string        // kindReport: the reporter's note, cleaned
}

// Layout constants.
const (
	narrowWidth = 80 // below this the member list is hidden (/who shows it)
	timeWidth   = 6  // "15:04 "
)

func (m *Model) panelWidth() int {
	switch {
	case m.width < narrowWidth:
		return 0
	case m.width >= 120:
		return 32
	}
	return 28
}

func (m *Model) paneWidth() int {
	if pw := m.panelWidth(); pw > 0 {
		return m.width - pw - 1 // one column for the divider
	}
	return m.width
}

// paneHeight is the message pane's height: the screen less the header, two
// rules and the input line.
func (m *Model) paneHeight() int { return max(m.height-4, 1) }

// layout returns the entries laid out for the pane's width, computing them
// when stale.
func (m *Model) layout() []string {
	w := m.paneWidth()
	if m.panelWidth() > 0 {
		w-- // a blank column before the divider
	}
	if m.lines != nil && m.linesWidth == w {
		return m.lines
	}
	lines := []string{}
	for _, e := range m.shown() {
		lines = append(lines, m.renderEntry(e, w)...)
	}
	m.lines, m.linesWidth = lines, w
	return lines
}

func (m *Model) scrollBy(n int) {
	m.scroll += n
	m.clampScroll()
}

func (m *Model) clampScroll() {
	m.scroll = min(m.scroll, len(m.layout())-m.paneHeight())
	m.scroll = max(m.scroll, 0)
}

// renderEntry lays out one entry in lines of at most w columns: the time,
// then the text, wrapped with a hanging indent.
func (m *Model) renderEntry(e entry, w int) []string {
	var head []segment // styled the same whatever the wrapping
	var style *lipgloss.Style
	label := ""
	if e.x != nil {
		e.kind, label, e.text = m.fileText(e.x)
	}
	text := e.text
	switch e.kind {
	case kindMsg:
		// <alias>, as on IRC: no alias can pass for a notice ("-- "), a
		// warning ("! ") or a DM ("[DM]"), colour or no colour.
		head = []segment{{"<", plain}, {clean(e.from.Alias, false), styleMember(e.from.Fingerprint)}, {"> ", plain}}
	case kindDMIn:
		head = []segment{{"[DM]", styleDM}, {" ", plain}, {clean(e.from.Alias, false), styleMember(e.from.Fingerprint)}, {" → you: ", plain}}
	case kindDMOut:
		head = []segment{{"[DM]", styleDM}, {" you → ", plain}, {clean(e.from.Alias, false), styleMember(e.from.Fingerprint)}, {": ", plain}}
	case kindFile:
		head = []segment{{label, styleFile}, {" from ", plain}, {clean(e.x.peer.Alias, false), styleMember(e.x.peer.Fingerprint)}, {": ", plain}}
	case kindReport:
		head = []segment{{"REPORT", styleReport}, {" from ", plain}, {clean(e.reporter.Alias, false), styleMember(e.reporter.Fingerprint)},
			{": ", plain}, {clean(e.from.Alias, false), styleMember(e.from.Fingerprint)}, {" (" + e.from.Fingerprint + ") wrote: ", plain}}
		if e.note != "" {
			text += " — note: " + e.note
		}
	case kindHidden:
		style = &styleHidden
	case kindNotice:
		text, style = "-- "+text, &styleNotice
	case kindWarning:
		text, style = "! "+text, &styleWarning
	case kindError:
		text, style = "! "+text, &styleError
	}
	if e.repeat > 0 {
		text += fmt.Sprintf(" (%d\u00a0times)", e.repeat+1) // kept on one line
	}
	if !e.expires.IsZero() {
		left := max(e.expires.Sub(m.now()).Round(time.Second), 0)
		text += fmt.Sprintf(" (vanishes in %s)", left)
	}
	var headPlain strings.Builder
	for _, s := range head {
		headPlain.WriteString(s.text)
	}
	bw := max(w-timeWidth, 8)
	var out []string
	for i, para := range strings.Split(headPlain.String()+text, "\n") {
		if i > 0 && para == "" {
			out = append(out, "")
			continue
		}
		out = append(out, wrap(para, bw)...)
	}
	for i, line := range out {
		if i == 0 && len(head) > 0 {
			line = renderHead(head, line)
		} else if style != nil {
			line = style.Render(line)
		}
		if i == 0 {
			out[i] = styleTime.Render(e.at.Format("15:04")) + " " + line
		} else {
			out[i] = strings.Repeat(" ", timeWidth) + line
		}
	}
	return out
}

type segment struct {
	text  string
	style lipgloss.Style
}

var plain = lipgloss.NewStyle()

// renderHead styles the segments of head that start line, the first line
// of an entry; a head longer than the line is styled as far as it goes.
func renderHead(head []segment, line string) string {
	var b strings.Builder
	for _, s := range head {
		if strings.HasPrefix(line, s.text) {
			b.WriteString(s.style.Render(s.text))
			line = line[len(s.text):]
			continue
		}
		if line != "" && strings.HasPrefix(s.text, line) {
			b.WriteString(s.style.Render(line))
			line = ""
		}
		break
	}
	return b.String() + line
}

// View renders the screen: header, rule, message pane (and member list on
// wide terminals), rule, input line. After a purge, expiry or logout it is
// blank.
func (m *Model) View() tea.View {
	var v tea.View
	v.AltScreen = true
	v.WindowTitle = "veil"
	if m.wiped || m.width <= 0 || m.height <= 0 {
		return v
	}
	ph, pw := m.paneHeight(), m.panelWidth()
	paneW := m.paneWidth()

	lines := m.layout()
	end := len(lines) - m.scroll
	start := max(end-ph, 0)
	visible := lines[start:end]

	var panel []string
	if pw > 0 {
		panel = m.panel(pw-1, ph)
	}
	rows := make([]string, 0, m.height)
	rows = append(rows, m.header())
	rows = append(rows, m.rule(paneW, pw, "┬", ""))
	for i := range ph {
		row := ""
		if i < len(visible) {
			row = visible[i]
		}
		if pw > 0 {
			row = pad(row, paneW) + styleRule.Render("│") + " " + ansi.Truncate(get(panel, i), pw-1, "…")
		}
		rows = append(rows, ansi.Truncate(row, m.width, ""))
	}
	hint := ""
	if m.scroll > 0 {
		hint = fmt.Sprintf(" ↓ %d more lines (PgDn) ", m.scroll)
	}
	rows = append(rows, m.rule(paneW, pw, "┴", hint))
	line, x := m.input.View(m.width)
	rows = append(rows, line)
	v.SetContent(strings.Join(rows, "\n"))
	v.Cursor = tea.NewCursor(x, len(rows)-1)
	v.Cursor.Shape = tea.CursorBar
	return v
}

func get(ss []string, i int) string {
	if i < len(ss) {
		return ss[i]
	}
	return ""
}

func pad(s string, w int) string {
	s = ansi.Truncate(s, w, "")
	return s + strings.Repeat(" ", max(w-ansi.StringWidth(s), 0))
}

// rule is a horizontal line across the pane, joined to the member list's
// divider by joint, with hint set in at its left.
func (m *Model) rule(paneW, panelW int, joint, hint string) string {
	left := "──" + hint
	left += strings.Repeat("─", max(paneW-ansi.StringWidth(left), 0))
	s := ansi.Truncate(left, paneW, "")
	if panelW > 0 {
		s += joint + strings.Repeat("─", panelW)
	}
	return styleRule.Render(ansi.Truncate(s, m.width, ""))
}

// header is the top line: the room's name, this member's alias and
// fingerprint on the left; on the right the owner and locked badges and the
// room's remaining life.
func (m *Model) header() string {
	left := styleHeader.Render("veil")
	if m.name != "" {
		left += " · " + styleHeader.Render(m.name)
	}
	left += " · you: " + styleMember(m.self.Fingerprint).Render(m.self.Alias) + " " + styleFaint.Render(m.self.Fingerprint)
	remaining := m.room.Remaining()
	right := countdown(remaining)
	if remaining < time.Minute {
		right = styleWarning.Render(right)
	} else {
		right = styleHeader.Render(right)
	}
	if m.locked {
		right = styleLocked.Render(" locked ") + " " + right
	}
	if m.isOwner {
		right = styleOwner.Render(" owner ") + " " + right
	}
	room := m.width - ansi.StringWidth(right) - 1
	if room < 8 {
		return ansi.Truncate(right, m.width, "")
	}
	left = ansi.Truncate(left, room, "…")
	return left + strings.Repeat(" ", m.width-ansi.StringWidth(left)-ansi.StringWidth(right)) + right
}

// countdown renders the room's remaining life: "59:59 left", "1:02:03 left".
func countdown(d time.Duration) string {
	s := int(d / time.Second)
	if s <= 0 {
		return "ending"
	}
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d left", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%02d:%02d left", s/60, s%60)
}

// panel is the member list, w columns wide and at most h lines: this
// member first, then the others in join order with fingerprint, member
// safety code and a ✓ for those marked verified.
func (m *Model) panel(w, h int) []string {
	out := []string{
		styleHeader.Render(fmt.Sprintf("Members (%d)", len(m.members)+1)),
		"  " + styleMember(m.self.Fingerprint).Render(ansi.Truncate(m.self.Alias, w-8, "…")) + " (you)",
		"    " + styleFaint.Render(m.self.Fingerprint),
	}
	for _, mb := range m.members {
		mark := "  "
		if mb.Verified {
			mark = styleOK.Render("✓") + " "
		}
		out = append(out,
			mark+styleMember(mb.Fingerprint).Render(ansi.Truncate(clean(mb.Alias, false), w-2, "…")),
			"    "+styleFaint.Render(mb.Fingerprint),
			"    safety "+mb.Safety)
	}
	if len(out) > h {
		shown := max((h-1-3)/3, 0) // whole member blocks above the last line
		out = append(out[:h-1], styleFaint.Render(fmt.Sprintf("… %d more: /who", len(m.members)-shown)))
	}
	return out
}

// wrap breaks plain text into lines of at most w columns at spaces only
// (so a fingerprint stays whole), cutting a word longer than a line. A
// leading indent is kept on every line.
func wrap(s string, w int) []string {
	body := strings.TrimLeft(s, " ")
	indent := s[:len(s)-len(body)]
	if len(indent) >= w/2 {
		indent = ""
	}
	w -= len(indent)
	var lines []string
	line, lw := "", -1 // lw -1: nothing on the line yet
	for _, word := range strings.Split(body, " ") {
		ww := ansi.StringWidth(word)
		if lw >= 0 && lw+1+ww <= w {
			line, lw = line+" "+word, lw+1+ww
			continue
		}
		if lw >= 0 {
			lines = append(lines, indent+line)
		}
		for ww > w {
			lines = append(lines, indent+ansi.Cut(word, 0, w))
			word = ansi.Cut(word, w, ww)
			ww = ansi.StringWidth(word)
		}
		line, lw = word, ww
	}
	return append(lines, indent+line)
}
