package tui

import (
	"context"
	"fmt"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"veil/internal/client"
)

// This file holds what the input line does: messages and slash commands.

// noticeMsg adds an entry from an action's result.
type noticeMsg entry

// dmSentMsg says a DM left for session to.
type dmSentMsg struct{ to uint32 }

func failed(what string, err error) tea.Msg {
	return noticeMsg{kind: kindError, text: clean(what+": "+err.Error(), false)}
}

// submit handles one line typed into the input.
func (m *Model) submit(line string) tea.Cmd {
	text := strings.TrimSpace(line)
	if text == "" {
		return nil
	}
	m.scroll = 0
	if strings.HasPrefix(text, "//") {
		return m.say(text[1:])
	}
	if !strings.HasPrefix(text, "/") {
		return m.say(text)
	}
	name, rest, _ := strings.Cut(text, " ")
	rest = strings.TrimSpace(rest)
	switch strings.ToLower(name) {
	case "/help", "/?":
		m.notice(helpText)
	case "/who":
		m.who()
	case "/dm", "/msg":
		return m.dm(rest)
	case "/verify":
		m.verify(rest)
	case "/file":
		if rest == "" {
			m.warn("Usage: /file PATH")
			return nil
		}
		return m.sendFile(rest, client.Member{})
	case "/dmfile":
		return m.dmFile(rest)
	case "/save":
		return m.save(rest)
	case "/purge":
		return m.purge(rest)
	case "/owner":
		return m.claimOwner(rest)
	case "/kick":
		return m.kick(rest)
	case "/lock":
		return m.lock(true)
	case "/unlock":
		return m.lock(false)
	case "/report":
		return m.report(rest)
	case "/mute":
		m.mute(rest)
	case "/unmute":
		m.unmute(rest)
	case "/filter":
		m.filterCommand(rest)
	case "/leave", "/quit", "/exit":
		return m.finish(Result{Ending: Left})
	case "/logout":
		m.loggingOut = true
		m.notice("Logging out…")
		return tea.Batch(m.act(func(ctx context.Context) tea.Msg {
			if err := m.room.Logout(ctx); err != nil {
				return logoutTimeout{}
			}
			return nil
		}), m.timer(5*time.Second, func(time.Time) tea.Msg { return logoutTimeout{} }))
	default:
		m.warn(fmt.Sprintf("Unknown command %s.", clean(name, false)))
		m.notice(helpText)
	}
	return nil
}

const helpText = `Commands:
  /dm ALIAS TEXT       a direct message to one member
  /who                 members with fingerprints and safety codes
  /verify ALIAS        mark a member verified, after comparing the safety code with them elsewhere
  /file PATH           send a file to the room (at most 100 MiB)
  /dmfile ALIAS PATH   send a file to one member
  /save N [DIR]        write received file N into DIR (default: the current directory)
  /purge [KEY]         end the room for everyone (KEY: the owner key, when only the owner may)
  /report ALIAS [NOTE] report ALIAS's last message here to the owner
  /mute ALIAS          hide a member's messages here (/unmute ALIAS)
  /filter add WORDS    hide messages with these words here
  /filter list, /filter clear   show or empty your word filter
  /leave, /quit        leave the room (Ctrl+C too)
  /logout              end your session for good
  /help                this list
Owner only:
  /owner KEY           prove the owner key (or use --owner-key-file)
  /kick ALIAS          remove a member from the room
  /lock, /unlock       keep anyone new out, or let them in again
Received files stay in memory (up to 256 MiB, oldest let go first) until you /save them or the room ends; /save is the only time veil writes to disk.
PgUp/PgDn scroll, Up/Down one line. Start a message with // to send a leading /.`

func (m *Model) say(text string) tea.Cmd {
	m.add(entry{kind: kindMsg, self: true, from: m.self, text: clean(text, true)})
	return m.act(func(ctx context.Context) tea.Msg {
		if err := m.room.Say(ctx, text, 0); err != nil {
			return failed("Not sent", err)
		}
		return nil
	})
}

// findMember resolves the alias that starts rest (aliases may hold
// spaces: the longest that matches wins), or a session number. It returns
// the member and what follows the alias.
func (m *Model) findMember(rest string) (client.Member, string, bool) {
	var best client.Member
	found := false
	lower := strings.ToLower(rest)
	for _, mb := range m.room.Members() {
		a := strings.ToLower(mb.Alias)
		if lower == a || strings.HasPrefix(lower, a+" ") {
			if !found || len(a) > len(best.Alias) {
				best, found = mb, true
			}
		}
	}
	if found {
		return best, strings.TrimSpace(rest[len(best.Alias):]), true
	}
	first, after, _ := strings.Cut(rest, " ")
	if mb, err := m.room.Member(first); err == nil {
		return mb, strings.TrimSpace(after), true
	}
	return client.Member{}, "", false
}

func (m *Model) dm(rest string) tea.Cmd {
	if rest == "" {
		m.warn("Usage: /dm ALIAS TEXT")
		return nil
	}
	to, text, ok := m.findMember(rest)
	if !ok {
		first, _, _ := strings.Cut(rest, " ")
		m.warn(fmt.Sprintf("No member called %q here. /who lists them.", clean(first, false)))
		return nil
	}
	if text == "" {
		m.warn("Usage: /dm ALIAS TEXT")
		return nil
	}
	m.add(entry{kind: kindDMOut, self: true, from: to, text: clean(text, true)})
	return m.act(func(ctx context.Context) tea.Msg {
		if err := m.room.DM(ctx, to.Session, text); err != nil {
			return failed("Direct message not sent", err)
		}
		return dmSentMsg{to.Session}
	})
}

func (m *Model) dmFile(rest string) tea.Cmd {
	to, path, ok := m.findMember(rest)
	if rest == "" || ok && path == "" {
		m.warn("Usage: /dmfile ALIAS PATH")
		return nil
	}
	if !ok {
		first, _, _ := strings.Cut(rest, " ")
		m.warn(fmt.Sprintf("No member called %q here. /who lists them.", clean(first, false)))
		return nil
	}
	return m.sendFile(path, to)
}

func (m *Model) verify(rest string) {
	if rest == "" {
		m.warn("Usage: /verify ALIAS")
		return
	}
	mb, after, ok := m.findMember(rest)
	if !ok || after != "" {
		m.warn(fmt.Sprintf("No member called %q here. /who lists them.", clean(rest, false)))
		return
	}
	if err := m.room.Verify(mb.Session); err != nil {
		m.warn("Could not verify: " + err.Error())
		return
	}
	m.members = m.room.Members()
	m.notice(fmt.Sprintf("Marked %s verified for this session (fingerprint %s, safety code %s). Do this only after comparing the safety code with them over another channel.",
		clean(mb.Alias, false), mb.Fingerprint, unbroken(mb.Safety)))
}

// who lists the members, one field a line so that nothing wraps.
func (m *Model) who() {
	ms := m.room.Members()
	var b strings.Builder
	fmt.Fprintf(&b, "%d in the room:\n", len(ms)+1)
	fmt.Fprintf(&b, "  %s (you)\n    fingerprint %s", m.self.Alias, m.self.Fingerprint)
	for _, mb := range ms {
		mark := ""
		if mb.Verified {
			mark = " ✓ verified"
		}
		fmt.Fprintf(&b, "\n  %s%s\n    fingerprint %s\n    safety code %s", clean(mb.Alias, false), mark, mb.Fingerprint, mb.Safety)
	}
	m.notice(b.String())
}

// unbroken keeps a safety code on one line: its spaces become no-break
// spaces, which wrap does not break at.
func unbroken(code string) string { return strings.ReplaceAll(code, " ", "\u00a0") }

func (m *Model) purge(rest string) tea.Cmd {
	owner := m.owner
	if rest != "" {
		k, err := client.ParseOwnerKey(rest)
		if err != nil {
			m.warn(err.Error())
			return nil
		}
		owner = k
	}
	m.notice("Purging the room…")
	return m.act(func(ctx context.Context) tea.Msg {
		if err := m.room.Purge(ctx, owner); err != nil {
			return failed("Not purged", err)
		}
		return nil
	})
}
