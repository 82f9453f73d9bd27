// Package tui is veil's terminal client, the interface of `veil chat`: a
// Bubble Tea program over internal/client with a message pane and
// scrollback, a member list with fingerprints, safety codes and verified
// marks, an input line with slash commands, the room's countdown, and the
// room-life events of the web client (purge, expiry and logout wipe the
// screen), and moderation: the owner's kick, lock and reports, and each
// person's own mute and word filter, which stay on this screen. Every string a peer controls is shown as plain text: Markdown is
// not interpreted, and escape sequences and control characters never reach
// the terminal. Files come and go in memory: it writes to disk only when the
// person asks, with /save. It does not dial, parse flags, read passwords or
// pick exit codes (cmd/veil does).
package tui

import (
	"context"
	"fmt"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"veil/internal/client"
)

// Room is the session the interface drives. *client.Client implements it;
// the view tests use a fake with fixed keys and clock, so no network is
// needed to lay out a screen.
type Room interface {
	Alias() string
	Fingerprint() string
	RoomName() string
	Remaining() time.Duration
	Members() []client.Member
	Member(aliasOrSession string) (client.Member, error)
	Verify(session uint32) error
	DMSafety(session uint32) string
	Say(ctx context.Context, text string, ttl int) error
	DM(ctx context.Context, to uint32, text string) error
	// SendFile sends data as a file to the room (to = 0) or to one member,
	// returning once every chunk is written.
	SendFile(ctx context.Context, to uint32, name, mimeType string, data []byte, voice bool) error
	Logout(ctx context.Context) error
	Purge(ctx context.Context, owner *[32]byte) error
	Close() error

	// Moderation (docs/protocol.md 9). A "state" event follows ClaimOwner
	// with a right key and every Lock; Kick's result is the member's leave.
	ClaimOwner(ctx context.Context, key [32]byte) error
	Kick(ctx context.Context, session uint32) error
	Lock(ctx context.Context, locked bool) error
	// Active tells the relay the person is there, so the session is not
	// closed as idle.
	Active(ctx context.Context) error
	// Report sends the received message id to the owner; Forget erases what
	// reporting it needs, once it left the screen.
	Report(ctx context.Context, id, note string) error
	Forget(id string)
	CanReport() bool
	IsOwner() bool
	Locked() bool
}

// Config describes the session to show.
type Config struct {
	Room Room
	// Owner is the room's owner key (from --owner-key-file): the session
	// claims ownership with it as it starts, and /purge sends it when given
	// none. Nil: none.
	Owner *[32]byte
	// Now is the clock for message times; nil means time.Now.
	Now func() time.Time
}

// Ending says how a session ended.
type Ending int

// Endings.
const (
	Running   Ending = iota // not ended
	Left                    // /leave, /quit, Ctrl+C or a signal
	LoggedOut               // /logout, confirmed by the relay or timed out
	Closed                  // the relay ended the session; Result.Code says why
	Lost                    // the connection ended without a close code
)

// Result is how the session ended.
type Result struct {
	Ending Ending
	Code   int    // the WebSocket close code, for Closed
	Reason string // the relay's reason, cleaned, for Closed and Lost
}

// Close codes the interface treats specially (docs/protocol.md 4.4).
const (
	codeNormal       = 1000
	codeGoingAway    = 1001
	codeRestart      = 1012
	codeNotFound     = 4004
	codeSessionEnded = 4007
	codeExpired      = 4008
	codePurged       = 4009
	codeNotAllowed   = 4010
	codeTooSlow      = 4011
	codeRemoved      = 4012
	codeNoOwner      = 4014
	codeIdle         = 4015
	codeNoMember     = 4016
)

// Wiped reports whether the ending wiped the screen: the room was purged
// or expired, or this session logged out. The caller then clears the
// terminal as well, after the interface has left the alternate screen.
func (r Result) Wiped() bool {
	return r.Ending == LoggedOut || r.Ending == Closed && (r.Code == codePurged || r.Code == codeExpired)
}

// Message is the sentence for a person about how the session ended.
func (r Result) Message() string {
	switch r.Ending {
	case Left, Running:
		return "You left the room."
	case LoggedOut:
		return "You logged out. You need the link to come back."
	case Lost:
		if r.Reason != "" {
			return "The connection to the server was lost: " + r.Reason + "."
		}
		return "The connection to the server was lost."
	}
	switch r.Code {
	case codeNormal:
		return "The server closed the session."
	case codeGoingAway:
		return "The server is restarting or shutting down. Try the link again in a moment."
	case codeRestart:
		return "The server went away and no other took the session over in time. Open the link again to rejoin."
	case codeNotFound:
		return "This room does not exist any more: it expired, was purged, or the link is wrong."
	case codeSessionEnded:
		return "Your session has ended. Open the link again to rejoin."
	case codeExpired:
		return "This room has expired. Everything in it is gone."
	case codePurged:
		return "This room was purged. Everything in it is gone."
	case codeTooSlow:
		return "Your connection could not keep up with the room, so the server closed it."
	case codeRemoved:
		return "The owner removed you from this room."
	case codeIdle:
		return "You were disconnected after a long time without activity."
	}
	if r.Reason != "" {
		return fmt.Sprintf("The connection closed: %s (code %d).", r.Reason, r.Code)
	}
	return fmt.Sprintf("The connection closed (code %d).", r.Code)
}

// Model is the Bubble Tea model of a chat session. Feed it client events as
// EventMsg; run it with Run.
type Model struct {
	// set at construction
	room  Room
	owner *[32]byte
	now   func() time.Time
	timer func(time.Duration, func(time.Time) tea.Msg) tea.Cmd // tea.Tick; tests stop time
	name  string                                               // the room's name, cleaned
	self  client.Member                                        // this session: alias (cleaned) and fingerprint

	width, height int
	input         input
	entries       []entry
	members       []client.Member
	lines         []string // entries laid out for the pane's width; nil: stale
	linesWidth    int
	scroll        int // lines scrolled up from the bottom; 0 follows new lines

	// sending: actions run one at a time, in order (see act)
	queue []action
	busy  bool

	// files (file.go)
	incoming  map[transferKey]*xfer // files on their way in
	received  []*xfer               // files received, numbered, oldest first
	fileSeq   int                   // the number of the last file received
	held      int64                 // bytes of received files held in memory
	maxHeld   int64                 // the most held; past it the oldest go
	fileQueue []*xfer               // files waiting to be sent, one at a time
	sending   *xfer                 // the file being read or sent, or nil

	// moderation (moderation.go)
	isOwner, locked bool
	claim           *[32]byte         // a key sent with /owner, not yet confirmed
	kicking         map[uint32]bool   // sessions this owner asked the relay to remove
	muted           map[string]string // fingerprint to cleaned alias: hidden here
	filter          []string          // the word filter's entries, folded; empty: off
	lastActive      time.Time         // when ACTIVE was last sent (or the session began)

	dmShown    map[uint32]string // the DM safety code last announced per session
	dmPending  map[uint32]bool   // DMs sent whose safety code is not known yet
	loggingOut bool
	result     Result
	wiped      bool
}

// EventMsg carries a room event into the model.
type EventMsg client.Event

// eventsEnded says the room's event channel closed.
type eventsEnded struct{}

// tickMsg drives the countdown and message self-destruction.
type tickMsg time.Time

// logoutTimeout ends a logout the relay did not confirm.
type logoutTimeout struct{}

// action is one call on the room, run off the update loop; its result
// comes back as a message.
type action func(ctx context.Context) tea.Msg

// actionDone is the end of one action, carrying its result (or nil).
type actionDone struct{ msg tea.Msg }

// actionTimeout bounds one call on the room.
const actionTimeout = 20 * time.Second

// New returns the model for cfg.
func New(cfg Config) *Model {
	m := &Model{room: cfg.Room, owner: cfg.Owner, now: cfg.Now, timer: tea.Tick, dmShown: map[uint32]string{}, dmPending: map[uint32]bool{},
		incoming: map[transferKey]*xfer{}, maxHeld: maxHeld, kicking: map[uint32]bool{}, muted: map[string]string{}}
	if m.now == nil {
		m.now = time.Now
	}
	m.lastActive = m.now()
	m.isOwner, m.locked = m.room.IsOwner(), m.room.Locked()
	m.input = newInput()
	m.members = m.room.Members()
	m.name = clean(m.room.RoomName(), false)
	m.self = client.Member{Alias: clean(m.room.Alias(), false), Fingerprint: m.room.Fingerprint()}
	name := m.name
	if name == "" {
		name = "this room"
	}
	m.notice(fmt.Sprintf("You joined %s as %s (fingerprint %s). Messages are end-to-end encrypted and vanish with the room. /help lists the commands.",
		name, m.self.Alias, m.self.Fingerprint))
	return m
}

// Result returns how the session ended, or Running.
func (m *Model) Result() Result { return m.result }

// Init starts the one-second tick and, given the owner key, claims
// ownership.
func (m *Model) Init() tea.Cmd { return tea.Batch(m.tick(), m.claimAtStart()) }

func (m *Model) tick() tea.Cmd {
	return m.timer(time.Second, func(t time.Time) tea.Msg { return tickMsg(t) })
}

// Update handles one message.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if m.result.Ending != Running {
		return m, nil
	}
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.lines = nil
		m.clampScroll()
		return m, nil
	case tickMsg:
		m.members = m.room.Members()
		m.expire()
		m.announcePendingDMs()
		if m.sending != nil {
			m.changed() // the time it has taken so far
		}
		return m, m.tick()
	case EventMsg:
		return m, m.event(client.Event(msg))
	case eventsEnded:
		return m, m.finish(Result{Ending: Lost})
	case actionDone:
		m.busy = false
		var cmd tea.Cmd
		if msg.msg != nil {
			_, cmd = m.Update(msg.msg)
		}
		return m, tea.Batch(cmd, m.next())
	case noticeMsg:
		m.add(entry(msg))
		return m, nil
	case fileReadMsg:
		return m, m.fileRead(msg)
	case fileSentMsg:
		return m, m.fileSent(msg)
	case fileSavedMsg:
		m.fileSaved(msg)
		return m, nil
	case dmSentMsg:
		m.dmPending[msg.to] = true
		m.announcePendingDMs()
		return m, nil
	case logoutTimeout:
		return m, m.finish(Result{Ending: LoggedOut})
	case tea.KeyPressMsg:
		return m, tea.Batch(m.touch(), m.key(msg))
	case tea.PasteMsg:
		m.input.Update(msg)
		return m, m.touch()
	}
	return m, nil
}

func (m *Model) key(k tea.KeyPressMsg) tea.Cmd {
	switch k.String() {
	case "ctrl+c":
		return m.finish(Result{Ending: Left})
	case "enter":
		line := m.input.Value()
		m.input.Reset()
		return m.submit(line)
	case "pgup":
		m.scrollBy(m.paneHeight() - 1)
		return nil
	case "pgdown":
		m.scrollBy(-(m.paneHeight() - 1))
		return nil
	case "up":
		m.scrollBy(1)
		return nil
	case "down":
		m.scrollBy(-1)
		return nil
	}
	m.input.Update(k)
	return nil
}

// event handles one room event.
func (m *Model) event(e client.Event) tea.Cmd {
	from := clean(e.From.Alias, false)
	switch e.Type {
	case "join":
		m.members = m.room.Members()
		m.notice(fmt.Sprintf("%s joined · fingerprint %s", from, e.From.Fingerprint))
	case "leave":
		m.members = m.room.Members()
		delete(m.dmShown, e.From.Session)
		delete(m.dmPending, e.From.Session)
		m.senderLeft(e.From.Session)
		how := map[string]string{"left": "left", "logged out": "logged out", "dropped": "lost the connection and left",
			"too slow": "could not keep up and was dropped", "removed by the owner": "was removed by the owner",
			"idle": "left (idle)"}[e.Text]
		if how == "" {
			how = "left"
		}
		if e.Text == "removed by the owner" && m.kicking[e.From.Session] {
			if m.locked {
				m.notice(fmt.Sprintf("You removed %s from the room. It is locked, so they cannot join again.", from))
			} else {
				m.notice(fmt.Sprintf("You removed %s from the room. They still have the link: /lock keeps anyone new out.", from))
			}
		} else {
			m.notice(from + " " + how)
		}
		delete(m.kicking, e.From.Session)
	case "msg":
		m.add(entry{kind: kindMsg, from: e.From, id: e.ID, text: clean(e.Text, true), expires: m.expiry(e.TTL)})
	case "dm":
		if e.Safety != "" && m.dmShown[e.From.Session] != e.Safety {
			m.dmShown[e.From.Session] = e.Safety
			delete(m.dmPending, e.From.Session)
			m.notice(dmSafetyNotice(from, e.Safety, e.Hybrid))
		}
		m.add(entry{kind: kindDMIn, from: e.From, id: e.ID, text: clean(e.Text, true), expires: m.expiry(e.TTL)})
	case "file-offer", "file-progress", "file", "file-failed":
		m.fileEvent(e)
	case "state":
		m.state(e.Owner, e.Locked)
	case "report":
		m.reported(e)
	case "gap":
		what := "messages"
		if e.Missing == 1 {
			what = "message"
		}
		m.warn(fmt.Sprintf("%d %s missing from %s (lost or withheld on the way)", e.Missing, what, from))
	case "reject":
		m.warn("Ignored an envelope that did not verify: " + clean(strings.TrimPrefix(e.Text, "envelope rejected: "), false))
	case "warning":
		if from != "" {
			m.warn(from + ": " + clean(e.Text, false))
		} else {
			m.warn(clean(e.Text, false))
		}
	case "error":
		if e.Code == codeNotFound {
			// Something addressed to a member who had just left (a key, a
			// handshake or a DM).
			m.notice("Not delivered: " + clean(e.Text, false) + ".")
		} else if e.Code == codeNotAllowed && e.Text == "wrong owner key" {
			m.claim = nil
			m.warn("The owner key was refused: it is not this room's owner key.")
		} else if e.Code == codeNotAllowed {
			hint := ""
			if strings.Contains(e.Text, "owner") {
				hint = " Give the owner key: /owner KEY (or /purge KEY), or start veil chat with --owner-key-file."
			}
			m.warn("Not allowed: " + clean(e.Text, false) + "." + hint)
		} else if e.Code == codeNoOwner {
			m.warn("Your report reached nobody: the owner is not in the room right now.")
		} else if e.Code == codeNoMember {
			clear(m.kicking)
			m.warn("Not removed: that member is not in the room any more.")
		} else if e.Code == codeTooSlow {
			// The relay skips a file's chunks for a member who reads too
			// slowly rather than hold up the room; the file then fails.
			m.warn("A file was cut short for you: the server skipped part of it because this connection was reading too slowly.")
		} else {
			m.warn("The server refused: " + clean(e.Text, false))
		}
	case "reconnecting":
		m.warn("Connection lost; reconnecting…")
	case "reconnected":
		m.notice("Reconnected; the session resumed.")
	case "closed":
		r := Result{Ending: Closed, Code: e.Code, Reason: clean(e.Text, false)}
		if e.Code == 0 {
			r.Ending = Lost
		}
		if m.loggingOut && (e.Code == codeNormal || e.Code == 0) {
			r = Result{Ending: LoggedOut}
		}
		return m.finish(r)
	}
	return nil
}

func dmSafetyNotice(alias, safety string, hybrid bool) string {
	how := "X25519"
	if hybrid {
		how = "X25519 + ML-KEM-768"
	}
	return fmt.Sprintf("Direct messages with %s are end-to-end encrypted (%s). DM safety code: %s", alias, how, unbroken(safety))
}

// announcePendingDMs shows the safety code of DM sessions this side opened
// once their handshake completes.
func (m *Model) announcePendingDMs() {
	for s := range m.dmPending {
		code := m.room.DMSafety(s)
		if code == "" {
			continue
		}
		delete(m.dmPending, s)
		if m.dmShown[s] == code {
			continue
		}
		m.dmShown[s] = code
		alias := fmt.Sprint(s)
		if mb, err := m.room.Member(fmt.Sprint(s)); err == nil {
			alias = clean(mb.Alias, false)
		}
		m.notice(fmt.Sprintf("Direct messages with %s are end-to-end encrypted. DM safety code: %s", alias, unbroken(code)))
	}
}

// finish ends the session: it lets go of the received files, wipes the
// screen when the ending calls for it and quits the program.
func (m *Model) finish(r Result) tea.Cmd {
	m.result = r
	m.dropFiles()
	if r.Wiped() {
		m.wipe()
	}
	return tea.Quit
}

// wipe forgets every message and blanks the view.
func (m *Model) wipe() {
	for i := range m.entries {
		m.entries[i] = entry{}
	}
	m.entries, m.lines = nil, nil
	m.input.Reset()
	m.wiped = true
}

func (m *Model) expiry(ttl int) time.Time {
	if ttl <= 0 {
		return time.Time{}
	}
	return m.now().Add(time.Duration(ttl) * time.Second)
}

// expire removes self-destructing messages whose time is up.
func (m *Model) expire() {
	now := m.now()
	kept := m.entries[:0]
	changed := false
	for _, e := range m.entries {
		if !e.expires.IsZero() {
			changed = true // the remaining time shown changes too
			if !now.Before(e.expires) {
				m.forget(e)
				continue
			}
		}
		kept = append(kept, e)
	}
	for i := len(kept); i < len(m.entries); i++ {
		m.entries[i] = entry{}
	}
	m.entries = kept
	if changed {
		m.lines = nil
		m.clampScroll()
	}
}

// act queues a call on the room. Calls run one at a time in the order they
// were queued, so messages leave in the order they were typed.
func (m *Model) act(a action) tea.Cmd {
	m.queue = append(m.queue, a)
	return m.next()
}

func (m *Model) next() tea.Cmd {
	if m.busy || len(m.queue) == 0 {
		return nil
	}
	a := m.queue[0]
	m.queue = m.queue[1:]
	m.busy = true
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), actionTimeout)
		defer cancel()
		return actionDone{a(ctx)}
	}
}

func (m *Model) notice(text string) { m.add(entry{kind: kindNotice, text: text}) }

// warn adds a warning. One just like the last entry bumps its count
// instead: a file whose manifest was lost is rejected chunk by chunk, up
// to 1600 times, and would flood the scrollback.
func (m *Model) warn(text string) {
	if n := len(m.entries); n > 0 {
		if last := &m.entries[n-1]; last.kind == kindWarning && last.x == nil && last.text == text {
			last.repeat++
			m.changed()
			return
		}
	}
	m.add(entry{kind: kindWarning, text: text})
}

// maxEntries bounds the scrollback; the oldest entries go first.
const maxEntries = 5000

func (m *Model) add(e entry) {
	e.at = m.now()
	before := len(m.layout())
	m.entries = append(m.entries, e)
	if len(m.entries) > maxEntries {
		m.forget(m.entries[0])
		m.entries[0] = entry{}
		m.entries = m.entries[1:]
	}
	m.lines = nil
	if m.scroll > 0 {
		// Keep a reader's place while new lines arrive below it.
		m.scroll += len(m.layout()) - before
		m.clampScroll()
	}
}
