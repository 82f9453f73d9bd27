package tui

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"veil/internal/client"
)

func TestSanitiseName(t *testing.T) {
	long := strings.Repeat("a", 300) + ".pdf"
	wide := strings.Repeat("é", 80) + ".txt" // 160 bytes of stem
	for name, tc := range map[string]struct{ in, want string }{
		"plain":             {"report.pdf", "report.pdf"},
		"spaces kept":       {"my report 2.pdf", "my report 2.pdf"},
		"unicode kept":      {"résumé 👋.txt", "résumé 👋.txt"},
		"parent dirs":       {"../../etc/passwd", "passwd"},
		"absolute":          {"/etc/cron.d/evil", "evil"},
		"backslashes":       {`..\..\windows\system32\evil.dll`, "evil.dll"},
		"trailing slash":    {"dir/", "file"},
		"hidden":            {".bashrc", "bashrc"},
		"dots only":         {"...", "file"},
		"dot dot":           {"..", "file"},
		"empty":             {"", "file"},
		"leading spaces":    {"  . x.txt ", "x.txt"},
		"escape sequence":   {"a\x1b]0;title\x07b.txt", "ab.txt"},
		"CSI":               {"\x1b[31mred\x1b[0m.txt", "red.txt"},
		"controls":          {"c\x00t\x7fl\x01.txt", "ctl.txt"},
		"C1":                {"a\u009b2Jb\u0085.txt", "ab.txt"},
		"newline and tab":   {"new\nline\ttab.txt", "new line tab.txt"},
		"bidi override":     {"invoice\u202eexe.pdf", "invoiceexe.pdf"},
		"invalid UTF-8":     {"a\xffb.bin", "a\ufffdb.bin"},
		"long keeps ext":    {long, strings.Repeat("a", 96) + ".pdf"},
		"wide cut at runes": {wide, strings.Repeat("é", 48) + ".txt"},
		"long extension":    {"x." + strings.Repeat("e", 200), "x." + strings.Repeat("e", 98)},
	} {
		got := sanitiseName(tc.in)
		if got != tc.want {
			t.Errorf("%s: sanitiseName(%q) = %q, want %q", name, tc.in, got, tc.want)
		}
		if len(got) > maxNameBytes || !utf8.ValidString(got) || strings.ContainsAny(got, `/\`) || strings.HasPrefix(got, ".") {
			t.Errorf("%s: sanitiseName(%q) = %q breaks a rule", name, tc.in, got)
		}
		for _, r := range got {
			if unicode.IsControl(r) || isBidiControl(r) {
				t.Errorf("%s: sanitiseName(%q) = %q holds %U", name, tc.in, got, r)
			}
		}
	}
}

func TestSaveFileNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for i := range 3 {
		p, err := SaveFile(dir, "../report.pdf", []byte(fmt.Sprint("version ", i)))
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	want := []string{"report.pdf", "report (2).pdf", "report (3).pdf"}
	for i, p := range paths {
		if p != filepath.Join(dir, want[i]) {
			t.Errorf("save %d wrote %s, want %s", i+1, p, filepath.Join(dir, want[i]))
		}
		b, err := os.ReadFile(p)
		if err != nil || string(b) != fmt.Sprint("version ", i) {
			t.Errorf("%s holds %q, %v", p, b, err)
		}
		st, err := os.Stat(p)
		if err != nil || st.Mode().Perm()&0o077 != 0 || !st.Mode().IsRegular() {
			t.Errorf("%s: mode %v, %v; want 0600 or less", p, st.Mode(), err)
		}
	}

	// A link or a directory in the way is not followed or replaced.
	target := filepath.Join(t.TempDir(), "target")
	if err := os.WriteFile(target, []byte("untouched"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(dir, "link.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "taken"), 0o700); err != nil {
		t.Fatal(err)
	}
	if p, err := SaveFile(dir, "link.txt", []byte("new")); err != nil || filepath.Base(p) != "link (2).txt" {
		t.Errorf("saveFile over a link = %s, %v", p, err)
	}
	if b, _ := os.ReadFile(target); string(b) != "untouched" {
		t.Errorf("a save wrote through a symbolic link: the target holds %q", b)
	}
	if p, err := SaveFile(dir, "taken", []byte("new")); err != nil || filepath.Base(p) != "taken (2)" {
		t.Errorf("saveFile over a directory = %s, %v", p, err)
	}

	// Numbering keeps a long name within bounds.
	long := strings.Repeat("x", 200) + ".bin"
	for range 2 {
		p, err := SaveFile(dir, long, nil)
		if err != nil || len(filepath.Base(p)) > maxNameBytes || !strings.HasSuffix(p, ".bin") {
			t.Errorf("SaveFile(long) = %s (%d bytes), %v", filepath.Base(p), len(filepath.Base(p)), err)
		}
	}
	if p, _ := SaveFile(dir, long, nil); !strings.HasSuffix(p, " (3).bin") {
		t.Errorf("third long save = %s", filepath.Base(p))
	}

	// A missing directory is an error, and nothing is created.
	if _, err := SaveFile(filepath.Join(dir, "missing"), "a.txt", []byte("x")); err == nil {
		t.Error("saveFile into a missing directory succeeded")
	}
}

func TestSizeText(t *testing.T) {
	for n, want := range map[int64]string{0: "0 bytes", 1: "1 byte", 1023: "1023 bytes", 1536: "1.5 KiB",
		1 << 20: "1 MiB", 1258291: "1.2 MiB", 100 << 20: "100 MiB", 100<<20 + 1: "100 MiB", 3 << 30: "3 GiB"} {
		if got := sizeText(n); got != want {
			t.Errorf("sizeText(%d) = %q, want %q", n, got, want)
		}
	}
}

// said types line and returns the text of the entries it added, as they
// read now.
func said(t *testing.T, m *Model, line string) string {
	t.Helper()
	n := len(m.entries)
	typeLine(t, m, line)
	var b strings.Builder
	for _, e := range m.entries[n:] {
		if e.x != nil {
			_, _, e.text = m.fileText(e.x)
		}
		b.WriteString(e.text + "\n")
	}
	return b.String()
}

func offer(from client.Member, tid uint32, name, typ string, size int64) EventMsg {
	return EventMsg{Type: "file-offer", From: from, File: &client.FileInfo{TID: tid, Name: name, Type: typ, Size: size}}
}

func progress(from client.Member, tid uint32, got int64) EventMsg {
	return EventMsg{Type: "file-progress", From: from, File: &client.FileInfo{TID: tid}, Progress: got}
}

func received(from client.Member, tid uint32, name, typ string, data []byte) EventMsg {
	return EventMsg{Type: "file", From: from, File: &client.FileInfo{TID: tid, Name: name, Type: typ, Size: int64(len(data))}, Data: data}
}

func TestReceiveAndSave(t *testing.T) {
	f := newFakeRoom()
	m, _ := newModel(t, f, 160, 40)
	f.join(bob)
	send(t, m, ev("join", bob, ""))
	data := bytes.Repeat([]byte("veil"), 300_000) // 1.1 MiB
	evil := "\x1b]0;PWNED\x07../.secret\u202ereport.pdf"
	send(t, m, offer(bob, 5, evil, "application/pdf\x1b[2J", int64(len(data))))
	send(t, m, progress(bob, 5, 1<<20))
	s := ansi.Strip(screen(m))
	if !strings.Contains(s, "file from bob: ../.secretreport.pdf (1.1 MiB, application/pdf) receiving [█████████████████░░░]\u00a087%") {
		t.Fatalf("no progress line:\n%s", s)
	}
	send(t, m, received(bob, 5, evil, "application/pdf", bytes.Clone(data))) // zeroed once saved
	s = screen(m)
	if !strings.Contains(ansi.Strip(s), "file #1 from bob: ../.secretreport.pdf (1.1 MiB, application/pdf) — /save 1 [DIR]") {
		t.Fatalf("no file entry:\n%s", ansi.Strip(s))
	}
	if rest := sgr.ReplaceAllString(s, ""); strings.ContainsAny(rest, "\x1b\x07\u202e") || strings.Contains(rest, "PWNED") {
		t.Fatalf("the file's name reached the view unclean: %q", rest)
	}
	if m.held != int64(len(data)) {
		t.Errorf("held %d, want %d", m.held, len(data))
	}

	dir := t.TempDir()
	for _, tc := range []struct{ line, want string }{
		{"/save", "Usage: /save N [DIR]"},
		{"/save 2 " + dir, "No file #2."},
		{"/save x", "Usage: /save N [DIR]"},
		{"/save 1 " + filepath.Join(dir, "missing"), "File #1 not saved: open " + filepath.Join(dir, "missing")},
		{"/save #1 '" + dir + "'", "Saved file #1 to " + filepath.Join(dir, "secretreport.pdf")},
		{"/save 1 " + dir, "File #1 was saved to " + filepath.Join(dir, "secretreport.pdf") + "; veil keeps no copy"},
	} {
		if got := said(t, m, tc.line); !strings.Contains(got, tc.want) {
			t.Errorf("%s said %q, want %q", tc.line, got, tc.want)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "secretreport.pdf"))
	if err != nil || !bytes.Equal(b, data) {
		t.Fatalf("the saved file: %d bytes, %v; want %d bytes", len(b), err, len(data))
	}
	if m.held != 0 || m.received[0].data != nil {
		t.Errorf("a saved file is still held: held %d", m.held)
	}
	if _, _, text := m.fileText(m.received[0]); !strings.HasSuffix(text, "— saved to "+filepath.Join(dir, "secretreport.pdf")) {
		t.Errorf("the entry does not say where it was saved: %q", text)
	}

	// A failure says why; it takes no number.
	send(t, m, offer(bob, 6, "broken.bin", "application/octet-stream", 3<<20))
	send(t, m, EventMsg{Type: "file-failed", From: bob, File: &client.FileInfo{TID: 6, Name: "broken.bin"}, Text: "a chunk does not open (it was altered)"})
	if s := ansi.Strip(screen(m)); !strings.Contains(s, "! file failed: a chunk does not open (it was altered) (broken.bin from bob)") {
		t.Errorf("no failure line:\n%s", s)
	}
	send(t, m, received(bob, 7, "next.txt", "text/plain", []byte("hi")))
	if s := ansi.Strip(screen(m)); !strings.Contains(s, "file #2 from bob: next.txt (2 bytes, text/plain) — /save 2 [DIR]") {
		t.Errorf("the next file is not #2:\n%s", s)
	}

	// A sender who leaves takes the rest of its file along.
	send(t, m, offer(bob, 8, "half.bin", "application/octet-stream", 3<<20))
	send(t, m, progress(bob, 8, 1<<20))
	f.leave(bob.Session)
	send(t, m, ev("leave", bob, "dropped"))
	if s := ansi.Strip(screen(m)); !strings.Contains(s, "! file failed: the sender left before the end (half.bin from bob)") {
		t.Errorf("no failure when the sender left:\n%s", s)
	}
	// The relay skipping chunks for a slow reader is said plainly.
	send(t, m, EventMsg{Type: "error", Code: 4011, Text: "file transfer skipped: you are reading too slowly"})
	if s := ansi.Strip(screen(m)); !strings.Contains(s, "! A file was cut short for you: the server skipped part of it") {
		t.Errorf("no word of the skipped chunks:\n%s", s)
	}

	// The room's end lets go of what is held.
	held := m.received[1].data
	send(t, m, EventMsg{Type: "closed", Code: 4009})
	if m.held != 0 || m.received != nil || held[0] != 0 {
		t.Errorf("files held after the room ended: held %d, %d files, data %q", m.held, len(m.received), held)
	}
}

// A file whose manifest never arrived is rejected chunk by chunk: one line
// says so, with a count.
func TestRepeatedWarningsCollapse(t *testing.T) {
	f := newFakeRoom()
	m, _ := newModel(t, f, 160, 40)
	for range 3 {
		send(t, m, ev("reject", client.Member{}, "envelope rejected: chunk of an unknown transfer"))
	}
	send(t, m, ev("msg", bob, "between"))
	send(t, m, ev("reject", client.Member{}, "envelope rejected: chunk of an unknown transfer"))
	s := ansi.Strip(screen(m))
	if n := strings.Count(s, "chunk of an unknown transfer"); n != 2 || !strings.Contains(s, "chunk of an unknown transfer (3\u00a0times)") {
		t.Fatalf("%d warnings:\n%s", n, s)
	}
}

func TestReceivedFilesAreBounded(t *testing.T) {
	f := newFakeRoom()
	m, _ := newModel(t, f, 100, 40)
	m.maxHeld = 25
	f.join(bob)
	var held [][]byte
	for i := range 4 {
		d := bytes.Repeat([]byte{byte('a' + i)}, 10)
		held = append(held, d)
		send(t, m, received(bob, uint32(i+1), fmt.Sprintf("f%d.txt", i+1), "text/plain", d))
	}
	// 40 bytes arrived: #1 and #2 went, oldest first.
	if m.held != 20 || m.received[0].data != nil || m.received[1].data != nil || m.received[2].data == nil || held[0][0] != 0 {
		t.Fatalf("held %d bytes; states %v %v %v", m.held, m.received[0].state, m.received[1].state, m.received[2].state)
	}
	s := ansi.Strip(screen(m))
	for _, want := range []string{"Let go of file #1 (f1.txt) unsaved", "Let go of file #2 (f2.txt) unsaved", "f1.txt (10 bytes, text/plain) — let go unsaved"} {
		if !strings.Contains(s, want) {
			t.Errorf("no %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "file #3 (f3.txt) unsaved") {
		t.Errorf("#3 was let go too:\n%s", s)
	}
	typeLine(t, m, "/save 1 "+t.TempDir())
	if e := m.entries[len(m.entries)-1]; !strings.Contains(e.text, "File #1 was let go unsaved") {
		t.Errorf("/save of a dropped file said %q", e.text)
	}
}

func TestSendFile(t *testing.T) {
	f := newFakeRoom()
	m, c := newModel(t, f, 120, 40)
	f.join(bob)
	f.dmSafety[bob.Session] = "1111 2222 3333"
	dir := t.TempDir()
	pdf := append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte{0xde, 0xad}, 700_000)...)
	path := filepath.Join(dir, "my report.pdf")
	if err := os.WriteFile(path, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	c.t = c.t.Add(time.Second)
	typeLine(t, m, "/file "+path)
	typeLine(t, m, "/dmfile bob '"+path+"'")
	if len(f.files) != 2 {
		t.Fatalf("sent %d files, want 2", len(f.files))
	}
	for i, want := range []uint32{0, bob.Session} {
		got := f.files[i]
		if got.to != want || got.name != "my report.pdf" || got.typ != "application/pdf" || !bytes.Equal(got.data, pdf) || got.voice {
			t.Errorf("file %d: to %d, %q, %q, %d bytes; want to %d", i, got.to, got.name, got.typ, len(got.data), want)
		}
	}
	s := ansi.Strip(screen(m))
	for _, want := range []string{"-- sent my report.pdf (1.3 MiB, application/pdf) to the room in 0s",
		"-- sent my report.pdf (1.3 MiB, application/pdf) to bob (direct) in 0s", "1111 2222 3333"} {
		if !strings.Contains(strings.ReplaceAll(s, "\u00a0", " "), want) {
			t.Errorf("no %q:\n%s", want, s)
		}
	}

	// Refusals, before anything is sent.
	big := filepath.Join(dir, "big.iso")
	if err := os.WriteFile(big, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, 150<<20); err != nil { // sparse: nothing to read
		t.Fatal(err)
	}
	for _, tc := range []struct{ line, want string }{
		{"/file", "Usage: /file PATH"},
		{"/dmfile bob", "Usage: /dmfile ALIAS PATH"},
		{"/dmfile nobody " + path, `No member called "nobody"`},
		{"/file " + big, "File not sent: " + big + " is 150 MiB, over the limit of 100 MiB (big.iso to the room)"},
		{"/file " + dir, "is not a regular file"},
		{"/file " + filepath.Join(dir, "missing"), "no such file or directory"},
	} {
		if got := said(t, m, tc.line); !strings.Contains(got, tc.want) {
			t.Errorf("%s said %q, want %q", tc.line, got, tc.want)
		}
	}
	if len(f.files) != 2 {
		t.Errorf("a refused file was sent: %d files", len(f.files))
	}
	f.fileErr = errors.New("client: closed")
	typeLine(t, m, "/file "+path)
	if s := ansi.Strip(screen(m)); !strings.Contains(s, "! File not sent: client: closed (my report.pdf to the room)") {
		t.Errorf("no failure:\n%s", s)
	}
}

// TestFilesOneAtATime: a second /file waits for the first, and messages
// typed meanwhile still go.
func TestFilesOneAtATime(t *testing.T) {
	f := newFakeRoom()
	m, c := newModel(t, f, 120, 40)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.txt"), filepath.Join(dir, "b.txt")
	os.WriteFile(a, []byte("first"), 0o600)
	os.WriteFile(b, []byte("second"), 0o600)

	send(t, m, tea.PasteMsg{Content: "/file " + a})
	_, read := m.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	_, sendA := m.Update(read()) // a is read; its send is under way
	typeLine(t, m, "/file "+b)   // waits
	typeLine(t, m, "still chatting")
	if len(f.said) != 1 || len(f.files) != 0 {
		t.Fatalf("said %q, files %d", f.said, len(f.files))
	}
	c.t = c.t.Add(3 * time.Second)
	send(t, m, tickMsg(c.t))
	s := ansi.Strip(screen(m))
	for _, want := range []string{"-- sending a.txt (5 bytes, text/plain; charset=utf-8) to the room… 3s", "-- b.txt waits to go to the room after the file before it"} {
		if !strings.Contains(s, want) {
			t.Errorf("no %q:\n%s", want, s)
		}
	}
	run(t, m, sendA) // a is written; b follows
	if len(f.files) != 2 || f.files[0].name != "a.txt" || f.files[1].name != "b.txt" {
		t.Fatalf("files %+v", f.files)
	}
	if s := ansi.Strip(screen(m)); !strings.Contains(s, "sent a.txt (5 bytes, text/plain; charset=utf-8) to the room in 3s") || !strings.Contains(s, "sent b.txt") {
		t.Errorf("not both sent:\n%s", s)
	}
}

// TestGoldenFiles lays out a room with files: one received (with the /save
// hint), one arriving (a progress bar), one that failed, one sent and one
// being sent.
func TestGoldenFiles(t *testing.T) {
	f := newFakeRoom()
	m, c := newModel(t, f, 80, 24)
	step := func(msg tea.Msg) {
		t.Helper()
		c.t = c.t.Add(20 * time.Second)
		send(t, m, msg)
	}
	f.join(bob)
	step(ev("join", bob, ""))
	f.join(carol)
	step(ev("join", carol, ""))
	step(ev("msg", bob, "the report, as promised"))
	step(offer(bob, 1, "Q3 report.pdf", "application/pdf", 1258291))
	step(progress(bob, 1, 1<<20))
	step(received(bob, 1, "Q3 report.pdf", "application/pdf", make([]byte, 1258291)))
	step(offer(carol, 2, "site-visit.mp4", "video/mp4", 40<<20))
	step(progress(carol, 2, 17<<20))
	step(offer(bob, 3, "\x1b[31mnotes.txt", "text/plain", 4096))
	step(EventMsg{Type: "file-failed", From: bob, File: &client.FileInfo{TID: 3}, Text: "a chunk does not open (it was altered)"})

	dir := t.TempDir()
	notes, plan := filepath.Join(dir, "minutes.txt"), filepath.Join(dir, "plan.png")
	os.WriteFile(notes, bytes.Repeat([]byte("minutes of the meeting\n"), 100), 0o600)
	os.WriteFile(plan, append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 300_000)...), 0o600)
	c.t = c.t.Add(20 * time.Second)
	typeLine(t, m, "/file "+notes)
	c.t = c.t.Add(20 * time.Second)
	send(t, m, tea.PasteMsg{Content: "/dmfile carol " + plan})
	_, read := m.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	m.Update(read()) // its send never ends here
	c.t = c.t.Add(4 * time.Second)
	send(t, m, tickMsg(c.t))

	s := screen(m)
	checkGeometry(t, s, 80, 24)
	golden(t, "files-80x24.golden", ansi.Strip(s)+"\n")
}
