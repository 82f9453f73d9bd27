package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	tea "charm.land/bubbletea/v2"
	"golang.org/x/text/unicode/norm"

	"veil/internal/client"
)

// This file holds moderation (docs/protocol.md 9): the owner's /owner,
// /kick, /lock and /unlock and the reports that reach an owner; everyone's
// /report; and what stays on this screen only: /mute and the word filter,
// which hide when the pane is laid out, so that /unmute and /filter clear
// bring back what they hid, and a hidden message can still be reported.

// activeEvery is how often, at most, a key press tells the relay the person
// is there (docs/protocol.md 6).
const activeEvery = time.Minute

// maxNote is the longest note a report carries, in bytes.
const maxNote = 500

// Bounds of the word filter, as in the web client.
const (
	maxFilterEntries = 200
	maxFilterEntry   = 100
)

// claimAtStart proves the owner key from the configuration, if any.
func (m *Model) claimAtStart() tea.Cmd {
	if m.owner == nil {
		return nil
	}
	key := *m.owner
	return m.act(func(ctx context.Context) tea.Msg {
		if err := m.room.ClaimOwner(ctx, key); err != nil {
			return failed("Could not give the owner key", err)
		}
		return nil
	})
}

// touch sends ACTIVE if the last went out a minute ago or more. It does
// not wait its turn behind messages and files: they are frames too.
func (m *Model) touch() tea.Cmd {
	now := m.now()
	if now.Sub(m.lastActive) < activeEvery {
		return nil
	}
	m.lastActive = now
	room := m.room
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), actionTimeout)
		defer cancel()
		room.Active(ctx) // a failure shows as the connection's end
		return nil
	}
}

// forget tells the client that e's message left the screen, so it can no
// longer be reported.
func (m *Model) forget(e entry) {
	if e.id != "" {
		m.room.Forget(e.id)
	}
}

// state takes a STATE from the relay: this session's owner flag and the
// room's lock, saying what changed.
func (m *Model) state(owner, locked bool) {
	if owner && !m.isOwner {
		if m.claim != nil {
			m.owner, m.claim = m.claim, nil // /purge uses it from now on
		}
		m.notice("You are the owner of this room: /kick ALIAS removes a member, /lock keeps anyone new out, and members' reports come to you.")
	}
	if locked != m.locked {
		if locked {
			m.notice("The room is locked: nobody new can join. Members who lose their connection can still come back.")
		} else {
			m.notice("The room is unlocked: anyone with the link can join again.")
		}
	}
	m.isOwner, m.locked = owner, locked
	m.lines = nil
}

// reported shows a report that reached this owner session.
func (m *Model) reported(e client.Event) {
	if e.Reporter == nil {
		return
	}
	m.add(entry{kind: kindReport, from: e.From, reporter: *e.Reporter, text: clean(e.Text, true), note: clean(e.Note, false)})
}

// ownerOnly refuses, with a hint, what only an owner session may do.
func (m *Model) ownerOnly(what string) bool {
	if m.isOwner {
		return true
	}
	m.warn(fmt.Sprintf("Only the room's owner can %s. If you have the owner key: /owner KEY, or start veil chat with --owner-key-file.", what))
	return false
}

func (m *Model) kick(rest string) tea.Cmd {
	if rest == "" {
		m.warn("Usage: /kick ALIAS")
		return nil
	}
	if !m.ownerOnly("remove a member") {
		return nil
	}
	mb, after, ok := m.findMember(rest)
	if !ok || after != "" {
		m.warn(fmt.Sprintf("No member called %q here. /who lists them.", clean(rest, false)))
		return nil
	}
	m.kicking[mb.Session] = true
	return m.act(func(ctx context.Context) tea.Msg {
		if err := m.room.Kick(ctx, mb.Session); err != nil {
			return failed("Not removed", err)
		}
		return nil
	})
}

func (m *Model) lock(locked bool) tea.Cmd {
	what, state := "lock the room", "locked"
	if !locked {
		what, state = "unlock the room", "unlocked"
	}
	if !m.ownerOnly(what) {
		return nil
	}
	if m.locked == locked {
		m.notice("The room is already " + state + ".")
		return nil
	}
	return m.act(func(ctx context.Context) tea.Msg {
		if err := m.room.Lock(ctx, locked); err != nil {
			return failed("The room's lock did not change", err)
		}
		return nil
	})
}

// claimOwner proves an owner key typed into the chat.
func (m *Model) claimOwner(rest string) tea.Cmd {
	if rest == "" {
		m.warn("Usage: /owner KEY (the owner key veil create or the web client gave the room's creator)")
		return nil
	}
	if m.isOwner {
		m.notice("You are the owner of this room already.")
		return nil
	}
	k, err := client.ParseOwnerKey(rest)
	if err != nil {
		m.warn(err.Error())
		return nil
	}
	m.claim = k
	m.notice("Giving the owner key…")
	return m.act(func(ctx context.Context) tea.Msg {
		if err := m.room.ClaimOwner(ctx, *k); err != nil {
			return failed("Could not give the owner key", err)
		}
		return nil
	})
}

func (m *Model) mute(rest string) {
	if rest == "" {
		m.warn("Usage: /mute ALIAS")
		return
	}
	mb, after, ok := m.findMember(rest)
	if !ok || after != "" {
		m.warn(fmt.Sprintf("No member called %q here. /who lists them.", clean(rest, false)))
		return
	}
	alias := clean(mb.Alias, false)
	m.muted[mb.Fingerprint] = alias
	m.notice(fmt.Sprintf("Muted %s (fingerprint %s): their messages and files are hidden on this screen. Nobody is told. /unmute %s shows them again.",
		alias, mb.Fingerprint, alias))
	m.changed()
}

func (m *Model) unmute(rest string) {
	if rest == "" {
		m.warn("Usage: /unmute ALIAS")
		return
	}
	fp := ""
	if mb, after, ok := m.findMember(rest); ok && after == "" && m.muted[mb.Fingerprint] != "" {
		fp = mb.Fingerprint
	} else {
		for f, alias := range m.muted { // a muted member may have left
			if strings.EqualFold(alias, rest) && (fp == "" || f < fp) {
				fp = f
			}
		}
	}
	if fp == "" {
		m.warn(fmt.Sprintf("%s is not muted.", clean(rest, false)))
		return
	}
	alias := m.muted[fp]
	delete(m.muted, fp)
	m.notice(fmt.Sprintf("Unmuted %s: their messages show again.", alias))
	m.changed()
}

// isMuted reports whether e is something a muted member sent.
func (m *Model) isMuted(e entry) (string, bool) {
	var fp string
	switch {
	case e.x != nil && !e.x.out:
		fp = e.x.peer.Fingerprint
	case e.kind == kindMsg && !e.self, e.kind == kindDMIn:
		fp = e.from.Fingerprint
	default:
		return "", false
	}
	_, ok := m.muted[fp]
	return fp, ok
}

// shown is the entries as the pane shows them: a run of things from one
// muted member becomes one dim line, and a message the word filter matches
// becomes a line saying so.
func (m *Model) shown() []entry {
	if len(m.muted) == 0 && len(m.filter) == 0 {
		return m.entries
	}
	var out []entry
	run := 0 // how many the last entry of out hides, if it hides a muted member's
	for _, e := range m.entries {
		if fp, ok := m.isMuted(e); ok {
			if n := len(out); run > 0 && out[n-1].from.Fingerprint == fp {
				run++
				out[n-1].text = fmt.Sprintf("(%d messages from muted %s hidden)", run, m.muted[fp])
				continue
			}
			run = 1
			out = append(out, entry{kind: kindHidden, at: e.at, from: client.Member{Fingerprint: fp},
				text: fmt.Sprintf("(message from muted %s hidden)", m.muted[fp])})
			continue
		}
		run = 0
		if (e.kind == kindMsg && !e.self || e.kind == kindDMIn) && m.filtered(e.text) {
			out = append(out, entry{kind: kindHidden, at: e.at, text: "(message hidden by your filter)"})
			continue
		}
		out = append(out, e)
	}
	return out
}

func (m *Model) report(rest string) tea.Cmd {
	if rest == "" {
		m.warn("Usage: /report ALIAS [NOTE] (reports the last message from ALIAS on the screen to the room's owner)")
		return nil
	}
	if !m.room.CanReport() {
		m.warn("This room takes no reports: it was created without a report key.")
		return nil
	}
	fp, alias, note, ok := m.findSender(rest)
	if !ok {
		first, _, _ := strings.Cut(rest, " ")
		m.warn(fmt.Sprintf("No message from %q on the screen to report.", clean(first, false)))
		return nil
	}
	var target *entry
	for i := len(m.entries) - 1; i >= 0 && target == nil; i-- {
		if e := &m.entries[i]; e.id != "" && e.from.Fingerprint == fp {
			target = e
		}
	}
	if target == nil {
		m.warn(fmt.Sprintf("No message from %s on the screen to report.", alias))
		return nil
	}
	if len(note) > maxNote {
		m.warn(fmt.Sprintf("A report's note is at most %d bytes; this one is %d.", maxNote, len(note)))
		return nil
	}
	id, excerpt := target.id, excerptOf(target.text)
	return m.act(func(ctx context.Context) tea.Msg {
		err := m.room.Report(ctx, id, note)
		if errors.Is(err, client.ErrNotReportable) {
			return noticeMsg{kind: kindError, text: "Not reported: that message can no longer be reported (too old, or too long for a report)."}
		}
		if err != nil {
			return failed("Not reported", err)
		}
		return noticeMsg{kind: kindNotice, text: fmt.Sprintf("Reported to the owner: %s's message “%s”. Only the owner learns of it.", alias, excerpt)}
	})
}

// findSender resolves the alias that starts rest to a sender of a message
// on the screen (present or gone), the longest alias that fits winning, and
// returns its fingerprint, its cleaned alias and what follows it.
func (m *Model) findSender(rest string) (fp, alias, after string, ok bool) {
	lower := strings.ToLower(rest)
	consider := func(mb client.Member) {
		a := clean(mb.Alias, false)
		la := strings.ToLower(a)
		if la != "" && (lower == la || strings.HasPrefix(lower, la+" ")) && (!ok || len(a) > len(alias)) {
			fp, alias, after, ok = mb.Fingerprint, a, strings.TrimSpace(rest[len(la):]), true
		}
	}
	for i := len(m.entries) - 1; i >= 0; i-- {
		if e := m.entries[i]; e.id != "" {
			consider(e.from)
		}
	}
	if !ok { // a session number
		first, rest, _ := strings.Cut(rest, " ")
		if mb, err := m.room.Member(first); err == nil {
			return mb.Fingerprint, clean(mb.Alias, false), strings.TrimSpace(rest), true
		}
	}
	return fp, alias, after, ok
}

// excerptOf is the start of a message on one line.
func excerptOf(text string) string {
	text = strings.Join(strings.Fields(text), " ")
	if r := []rune(text); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return text
}

func (m *Model) filterCommand(rest string) {
	sub, words, _ := strings.Cut(rest, " ")
	switch strings.ToLower(sub) {
	case "add":
		entries := parseFilter(words)
		if len(entries) == 0 {
			m.warn("Usage: /filter add WORDS (separate phrases with commas)")
			return
		}
		for _, w := range entries {
			if len(m.filter) >= maxFilterEntries {
				m.warn(fmt.Sprintf("The filter holds at most %d entries.", maxFilterEntries))
				break
			}
			if !contains(m.filter, w) {
				m.filter = append(m.filter, w)
			}
		}
		m.notice("Your filter hides messages with: " + strings.Join(m.filter, ", ") + ". It runs on this screen only and is forgotten when you leave; /filter clear turns it off.")
	case "clear":
		m.filter = nil
		m.notice("Your filter is off: every message shows.")
	case "list":
		if len(m.filter) == 0 {
			m.notice("Your filter is off. /filter add WORDS hides messages with any of them.")
		} else {
			m.notice("Your filter hides messages with: " + strings.Join(m.filter, ", ") + ".")
		}
	default:
		m.warn("Usage: /filter add WORDS, /filter clear, /filter list")
		return
	}
	m.changed()
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// parseFilter splits what follows /filter add into entries: phrases
// separated by commas, or else words separated by spaces; folded, each at
// most maxFilterEntry runes.
func parseFilter(s string) []string {
	parts := strings.Fields(s)
	if strings.Contains(s, ",") {
		parts = strings.Split(s, ",")
	}
	var out []string
	for _, p := range parts {
		p = strings.TrimSpace(foldText(clean(p, false)))
		if r := []rune(p); len(r) > maxFilterEntry {
			p = strings.TrimSpace(string(r[:maxFilterEntry]))
		}
		if p != "" && !contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// foldText is text as the filter compares it, as in the web client: NFKC,
// lower case, format characters (zero-width joiners, direction marks)
// removed, runs of white space as one space.
func foldText(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Cf, r) {
			return -1
		}
		return r
	}, norm.NFKC.String(s))
	s = norm.NFKC.String(strings.ToLower(s))
	return strings.Join(strings.FieldsFunc(s, unicode.IsSpace), " ")
}

// filtered reports whether text holds an entry of the word filter as a
// whole word or phrase: "ass" hides "ASS!" but not "class".
func (m *Model) filtered(text string) bool {
	if len(m.filter) == 0 {
		return false
	}
	folded := foldText(text)
	for _, w := range m.filter {
		for at := 0; ; {
			i := strings.Index(folded[at:], w)
			if i < 0 {
				break
			}
			i += at
			if !wordRune(lastRune(folded[:i])) && !wordRune(firstRune(folded[i+len(w):])) {
				return true
			}
			_, size := utf8.DecodeRuneInString(folded[i:])
			at = i + size
		}
	}
	return false
}

func wordRune(r rune) bool {
	return r != 0 && (unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsMark(r))
}

// firstRune and lastRune return 0 for "".
func firstRune(s string) rune {
	if s == "" {
		return 0
	}
	r, _ := utf8.DecodeRuneInString(s)
	return r
}

func lastRune(s string) rune {
	if s == "" {
		return 0
	}
	r, _ := utf8.DecodeLastRuneInString(s)
	return r
}
