package tui

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"veil/internal/client"
)

// This file holds files: sending them (/file, /dmfile), receiving them
// (one entry per file that shows its progress), holding them in memory,
// and writing one to disk when the person asks (/save), the only write the
// interface ever makes.

// maxHeld bounds the received files held in memory, waiting for /save:
// past it the oldest go.
const maxHeld = 256 << 20

// maxNameBytes bounds the name /save gives a file.
const maxNameBytes = 100

// xfer is one file on its way in or out, shown as one entry of the pane
// whose text follows its state. Only the update loop touches it: the
// commands that read, send and save get copies of what they need.
type xfer struct {
	out   bool
	n     int           // the number /save takes, once received
	peer  client.Member // the sender (in), or the DM recipient (out; Session 0: the room)
	name  string        // as the sender named it: cleaned to show, sanitised to save
	typ   string        // MIME type, as the sender saw it
	size  int64
	voice bool
	got   int64 // bytes received so far
	state xferState
	why   string    // for xFailed, cleaned
	data  []byte    // received and held; nil once saved, dropped or the room ended
	path  string    // where /save wrote it
	start time.Time // out: when sending began
	took  time.Duration
	src   string // out: the path to read
}

type xferState int

const (
	xQueued    xferState = iota // out: waiting for the file before it
	xReading                    // out: being read from disk
	xSending                    // out: chunks being written
	xSent                       // out: every chunk written
	xReceiving                  // in: chunks arriving
	xReceived                   // in: verified, held for /save
	xSaving                     // in: being written by /save
	xSaved                      // in: written to disk and let go
	xDropped                    // in: let go unsaved, to bound memory
	xFailed                     // either way: see why
)

// transferKey names a file on its way in: a sender has one at a time.
type transferKey struct{ session, tid uint32 }

// fileReadMsg is a file to send, read from disk (or why it was not).
type fileReadMsg struct {
	x    *xfer
	data []byte
	typ  string
	err  error
}

// fileSentMsg is the end of a send.
type fileSentMsg struct {
	x   *xfer
	err error
}

// fileSavedMsg is the end of a /save: the path written, or the error and
// the data back, to keep for another try.
type fileSavedMsg struct {
	x    *xfer
	path string
	data []byte
	err  error
}

// fileEvent handles the file events of a room.
func (m *Model) fileEvent(e client.Event) {
	if e.File == nil {
		return
	}
	k := transferKey{e.From.Session, e.File.TID}
	x := m.incoming[k]
	if x == nil {
		x = &xfer{peer: e.From, name: e.File.Name, typ: e.File.Type, size: e.File.Size, voice: e.File.Voice, state: xReceiving}
		if e.Type == "file-progress" || e.Type == "file-offer" {
			m.incoming[k] = x
		}
		m.add(entry{kind: kindFile, x: x})
	}
	switch e.Type {
	case "file-progress":
		x.got = min(e.Progress, x.size)
	case "file":
		delete(m.incoming, k)
		if _, muted := m.muted[e.From.Fingerprint]; muted {
			// Hidden, so not held either: a muted member's files would
			// push out the ones worth keeping.
			clear(e.Data)
			x.state, x.why = xFailed, "not kept: you muted its sender"
			break
		}
		m.fileSeq++
		x.n, x.state, x.got, x.data = m.fileSeq, xReceived, x.size, e.Data
		m.received = append(m.received, x)
		m.held += int64(len(x.data))
		m.bound()
	case "file-failed":
		delete(m.incoming, k)
		x.state, x.why = xFailed, clean(e.Text, false)
	}
	m.changed()
}

// senderLeft fails the files a member who left was sending: the rest of
// them will not come.
func (m *Model) senderLeft(session uint32) {
	for k, x := range m.incoming {
		if k.session == session {
			delete(m.incoming, k)
			x.state, x.why = xFailed, "the sender left before the end"
			m.changed()
		}
	}
}

// bound lets go of the oldest received files while more than maxHeld bytes
// are held, saying so.
func (m *Model) bound() {
	for _, x := range m.received {
		if m.held <= m.maxHeld {
			return
		}
		if x.state != xReceived {
			continue
		}
		m.release(x)
		x.state = xDropped
		m.warn(fmt.Sprintf("Let go of file #%d (%s) unsaved: received files are held in memory up to %s until /save. It can no longer be saved.",
			x.n, showName(x.name), sizeText(m.maxHeld)))
	}
}

// release zeroes and forgets a received file's content.
func (m *Model) release(x *xfer) {
	m.held -= int64(len(x.data))
	clear(x.data)
	x.data = nil
}

// dropFiles forgets every received file: the room has ended for this
// session.
func (m *Model) dropFiles() {
	for _, x := range m.received {
		m.release(x)
	}
	m.received, m.incoming = nil, map[transferKey]*xfer{}
}

// changed marks the pane's layout stale after an entry changed in place.
func (m *Model) changed() {
	m.lines = nil
	m.clampScroll()
}

// sendFile queues the file at path for the room (to = 0) or one member.
// Files leave one at a time (a member's next manifest follows its previous
// file's last chunk); messages typed meanwhile are not held up.
func (m *Model) sendFile(path string, to client.Member) tea.Cmd {
	path = expandHome(unquote(path))
	x := &xfer{out: true, peer: to, name: filepath.Base(path), src: path, state: xQueued}
	m.add(entry{kind: kindNotice, x: x})
	m.fileQueue = append(m.fileQueue, x)
	return m.nextFile()
}

func (m *Model) nextFile() tea.Cmd {
	if m.sending != nil || len(m.fileQueue) == 0 {
		return nil
	}
	x := m.fileQueue[0]
	m.fileQueue = m.fileQueue[1:]
	m.sending, x.state = x, xReading
	m.changed()
	src := x.src
	return func() tea.Msg {
		data, typ, err := readToSend(src)
		return fileReadMsg{x: x, data: data, typ: typ, err: err}
	}
}

// readToSend reads the regular file at path, of at most
// client.DefaultMaxFile bytes, and detects its MIME type.
func readToSend(path string) ([]byte, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, "", err
	}
	if !st.Mode().IsRegular() {
		return nil, "", fmt.Errorf("%s is not a regular file", path)
	}
	tooBig := func(n int64) error {
		return fmt.Errorf("%s is %s, over the limit of %s", path, sizeText(n), sizeText(client.DefaultMaxFile))
	}
	if st.Size() > client.DefaultMaxFile {
		return nil, "", tooBig(st.Size())
	}
	b := bytes.NewBuffer(make([]byte, 0, st.Size()+bytes.MinRead))
	if _, err := b.ReadFrom(io.LimitReader(f, client.DefaultMaxFile+1)); err != nil {
		return nil, "", err
	}
	if b.Len() > client.DefaultMaxFile { // it grew since Stat
		return nil, "", tooBig(int64(b.Len()))
	}
	return b.Bytes(), http.DetectContentType(b.Bytes()), nil
}

// fileRead starts sending a file that was read.
func (m *Model) fileRead(msg fileReadMsg) tea.Cmd {
	x := msg.x
	if msg.err != nil {
		x.state, x.why = xFailed, clean(msg.err.Error(), false)
		m.sending = nil
		m.changed()
		return m.nextFile()
	}
	x.state, x.typ, x.size, x.start = xSending, msg.typ, int64(len(msg.data)), m.now()
	m.changed()
	to, name, typ, data := x.peer.Session, x.name, x.typ, msg.data
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), sendTimeout(int64(len(data))))
		defer cancel()
		return fileSentMsg{x: x, err: m.room.SendFile(ctx, to, name, typ, data, false)}
	}
}

// sendTimeout bounds one file's send generously: the relay paces a room's
// files to about 8 MiB/s, shared by its senders.
func sendTimeout(size int64) time.Duration {
	return time.Minute + time.Duration(size/(256<<10))*time.Second
}

// fileSent ends a send and starts the next.
func (m *Model) fileSent(msg fileSentMsg) tea.Cmd {
	x := msg.x
	x.took = m.now().Sub(x.start)
	if msg.err != nil {
		x.state, x.why = xFailed, clean(msg.err.Error(), false)
	} else {
		x.state = xSent
		if x.peer.Session != 0 {
			m.dmPending[x.peer.Session] = true
			m.announcePendingDMs()
		}
	}
	m.sending = nil
	m.changed()
	return m.nextFile()
}

// save starts writing received file n into dir (rest is "N [DIR]").
func (m *Model) save(rest string) tea.Cmd {
	first, dir, _ := strings.Cut(rest, " ")
	n, err := strconv.Atoi(strings.TrimPrefix(first, "#"))
	if err != nil {
		m.warn("Usage: /save N [DIR], N as in the file's entry (file #N).")
		return nil
	}
	var x *xfer
	for _, r := range m.received {
		if r.n == n {
			x = r
		}
	}
	switch {
	case x == nil:
		m.warn(fmt.Sprintf("No file #%d. Received files are numbered as they arrive.", n))
		return nil
	case x.state == xSaving:
		m.warn(fmt.Sprintf("File #%d is being saved.", n))
		return nil
	case x.state == xSaved:
		m.warn(fmt.Sprintf("File #%d was saved to %s; veil keeps no copy once a file is saved.", n, clean(x.path, false)))
		return nil
	case x.state == xDropped:
		m.warn(fmt.Sprintf("File #%d was let go unsaved, to bound memory; it can no longer be saved.", n))
		return nil
	}
	dir = expandHome(unquote(strings.TrimSpace(dir)))
	if dir == "" {
		dir = "."
	}
	// The command owns the content while it writes.
	data, name := x.data, x.name
	m.held -= int64(len(data))
	x.data, x.state = nil, xSaving
	m.changed()
	return func() tea.Msg {
		path, err := SaveFile(dir, name, data)
		if err != nil {
			return fileSavedMsg{x: x, data: data, err: err}
		}
		clear(data)
		return fileSavedMsg{x: x, path: path}
	}
}

// fileSaved ends a /save.
func (m *Model) fileSaved(msg fileSavedMsg) {
	x := msg.x
	if msg.err != nil {
		x.state, x.data = xReceived, msg.data
		m.held += int64(len(x.data))
		m.add(entry{kind: kindError, text: clean(fmt.Sprintf("File #%d not saved: %v", x.n, msg.err), false)})
		m.bound()
		return
	}
	x.state, x.path = xSaved, msg.path
	m.notice(fmt.Sprintf("Saved file #%d to %s", x.n, clean(msg.path, false)))
	m.changed()
}

// SaveFile writes data to a new file in dir, named after name made safe
// (sanitiseName), with mode 0600. It never replaces anything: where the
// name is taken (by a file, a directory or a link) it adds " (2)", " (3)"
// and so on before the extension. It returns the path written, absolute
// where it can tell.
func SaveFile(dir, name string, data []byte) (string, error) {
	base := sanitiseName(name)
	for i := 1; i <= 1000; i++ {
		p := filepath.Join(dir, numbered(base, i))
		// O_EXCL: fails on anything already there, a symbolic link included.
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		_, err = f.Write(data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(p)
			return "", err
		}
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		return p, nil
	}
	return "", fmt.Errorf("%s and 999 numbered variants exist in %s", base, dir)
}

// sanitiseName turns a name a peer chose into a safe file name: the last
// path element only, with no escape sequences, control or bidirectional
// characters, no leading dots or spaces, at most maxNameBytes bytes of
// valid UTF-8 (the extension kept where it can be), never empty.
func sanitiseName(name string) string {
	s := clean(name, false)
	if i := strings.LastIndexAny(s, `/\`); i >= 0 {
		s = s[i+1:]
	}
	s = strings.TrimRight(strings.TrimLeft(s, ". "), " ")
	if s == "" {
		return "file"
	}
	return fitName(s, "")
}

// numbered is name for i = 1, else name with " (i)" before its extension,
// held to maxNameBytes.
func numbered(name string, i int) string {
	if i == 1 {
		return name
	}
	return fitName(name, fmt.Sprintf(" (%d)", i))
}

// fitName puts suffix before name's extension, cutting the stem so that
// the whole is at most maxNameBytes bytes.
func fitName(name, suffix string) string {
	ext := filepath.Ext(name)
	if len(ext) > 16 || ext == name {
		ext = ""
	}
	stem := name[:len(name)-len(ext)]
	room := maxNameBytes - len(ext) - len(suffix)
	for len(stem) > room {
		_, n := utf8.DecodeLastRuneInString(stem)
		stem = stem[:len(stem)-n]
	}
	if stem == "" {
		stem = "file"
	}
	return stem + suffix + ext
}

// unquote strips one pair of matching quotes around a path, as terminals
// add when a file is dropped on them.
func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '\'' || s[0] == '"') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

// expandHome reads a leading ~/ as the home directory.
func expandHome(p string) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return p
}

// sizeText is a size for a person: "512 bytes", "1.2 KiB", "1 MiB".
func sizeText(n int64) string {
	unit := func(v float64, u string) string {
		return strings.TrimSuffix(fmt.Sprintf("%.1f", v), ".0") + " " + u
	}
	switch {
	case n == 1:
		return "1 byte"
	case n < 1<<10:
		return fmt.Sprintf("%d bytes", n)
	case n < 1<<20:
		return unit(float64(n)/(1<<10), "KiB")
	case n < 1<<30:
		return unit(float64(n)/(1<<20), "MiB")
	}
	return unit(float64(n)/(1<<30), "GiB")
}

// showName is a peer's file name fit to show: cleaned, and cut short.
func showName(name string) string {
	if s := ansi.Truncate(strings.TrimSpace(clean(name, false)), 100, "…"); s != "" {
		return s
	}
	return "(no name)"
}

// bar is a progress bar of width cells for done of total.
func bar(done, total int64, width int) string {
	fill := width
	if total > 0 {
		fill = int(done * int64(width) / total)
	}
	return "[" + strings.Repeat("█", fill) + strings.Repeat("░", width-fill) + "]"
}

// fileText is what x's entry says now: its kind, the label that starts
// it (for files from a peer) and its text.
func (m *Model) fileText(x *xfer) (entryKind, string, string) {
	what := showName(x.name)
	if x.state != xQueued && x.state != xReading {
		details := sizeText(x.size) + ", " + ansi.Truncate(clean(x.typ, false), 60, "…")
		if x.voice {
			details += ", voice note"
		}
		what += " (" + details + ")"
	}
	if x.out {
		to := "the room"
		if x.peer.Session != 0 {
			to = clean(x.peer.Alias, false) + " (direct)"
		}
		switch x.state {
		case xQueued:
			return kindNotice, "", fmt.Sprintf("%s waits to go to %s after the file before it", what, to)
		case xReading:
			return kindNotice, "", fmt.Sprintf("reading %s to send to %s…", what, to)
		case xSending:
			return kindNotice, "", fmt.Sprintf("sending %s to %s… %s", what, to, m.now().Sub(x.start).Round(time.Second))
		case xSent:
			return kindNotice, "", fmt.Sprintf("sent %s to %s in %s", what, to, x.took.Round(100*time.Millisecond))
		}
		return kindError, "", fmt.Sprintf("File not sent: %s (%s to %s)", x.why, showName(x.name), to)
	}
	from := clean(x.peer.Alias, false)
	label := fmt.Sprintf("file #%d", x.n)
	switch x.state {
	case xReceiving:
		pct := 100
		if x.size > 0 {
			pct = int(x.got * 100 / x.size)
		}
		// A no-break space keeps the percentage with its bar.
		return kindFile, "file", fmt.Sprintf("%s receiving %s\u00a0%d%%", what, bar(x.got, x.size, 20), pct)
	case xReceived:
		return kindFile, label, fmt.Sprintf("%s — /save %d [DIR]", what, x.n)
	case xSaving:
		return kindFile, label, what + " — saving…"
	case xSaved:
		return kindFile, label, what + " — saved to " + clean(x.path, false)
	case xDropped:
		return kindFile, label, what + " — let go unsaved"
	}
	return kindWarning, "", fmt.Sprintf("file failed: %s (%s from %s)", x.why, showName(x.name), from)
}
