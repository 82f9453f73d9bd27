package e2ee

import (
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/hpke"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"

	"veil/internal/protocol"
)

// MaxReportNote is the longest note, in bytes, a report may carry.
const MaxReportNote = 500

// ErrReportTooLarge refuses to report a message that would not fit one
// envelope (a message in the 65,536-byte bucket).
var ErrReportTooLarge = errors.New("e2ee: this message is too large to report")

// ReportKey derives the room's report key pair from the owner key and the
// room's roster key (docs/protocol.md 9.3). The relay sees the owner key
// (OWNER, PURGE) but never the roster key, and members know the roster key
// but not the owner key: only the owner can compute the private half. The
// public half goes in the room meta.
func ReportKey(owner [32]byte, k Keys) (*ecdh.PrivateKey, error) {
	sk, err := hkdf.Key(sha256.New, owner[:], k.Roster[:], "veil/report-key"+string(k.RID[:]), 32)
	if err != nil {
		return nil, err
	}
	return ecdh.X25519().NewPrivateKey(sk)
}

// ReportInfo is the HPKE info binding a report to its room and reporter.
func ReportInfo(rid protocol.RID, reporter uint32) []byte {
	return binary.BigEndian.AppendUint32(append([]byte("veil/report"), rid[:]...), reporter)
}

// Report is an opened report: the reported envelope, the message key it
// opened with, and the reporter's note.
type Report struct {
	Header   protocol.Header // the kind-7 envelope's header; Sender is the reporter
	Envelope []byte          // the reported envelope, as the reporter received it
	MK       [32]byte
	Note     string
}

// SealReport seals a report of reported (opened with mk) to the room's
// report public key reportPub, as a kind-7 envelope with header h (Sender
// and Seq set by the caller), signed with priv.
func SealReport(h protocol.Header, reportPub []byte, priv ed25519.PrivateKey, reported []byte, mk [32]byte, note string) ([]byte, error) {
	if len(note) > MaxReportNote || !utf8.ValidString(note) {
		return nil, fmt.Errorf("e2ee: a report note is UTF-8 of at most %d bytes", MaxReportNote)
	}
	pt := make([]byte, 0, 32+4+len(reported)+len(note))
	pt = append(pt, mk[:]...)
	pt = binary.BigEndian.AppendUint32(pt, uint32(len(reported)))
	pt = append(append(pt, reported...), note...)
	if protocol.HeaderLen+32+len(pt)+protocol.TagLen+protocol.SigLen > protocol.MaxEnvelope {
		return nil, ErrReportTooLarge
	}
	pub, err := ecdh.X25519().NewPublicKey(reportPub)
	if err != nil {
		return nil, fmt.Errorf("report key: %w", err)
	}
	pk, err := hpke.NewDHKEMPublicKey(pub)
	if err != nil {
		return nil, err
	}
	h.Version, h.Suite, h.Kind, h.To, h.Epoch, h.Flags = protocol.Version, SuiteV2, protocol.KindReport, 0, 0, 0
	hdr := protocol.AppendHeader(nil, h)
	enc, s, err := hpke.NewSender(pk, hpkeKDF, hpkeAEAD, ReportInfo(h.RID, h.Sender))
	if err != nil {
		return nil, err
	}
	ct, err := s.Seal(hdr, pt)
	if err != nil {
		return nil, err
	}
	env := append(append(hdr, enc...), ct...)
	return append(env, ed25519.Sign(priv, env)...), nil
}

// OpenReport verifies a kind-7 envelope under the reporter's key and opens
// it with the report private key. It checks the report's own shape only;
// CheckReported then checks what it reports.
func OpenReport(env []byte, reportKey *ecdh.PrivateKey, reporterEd ed25519.PublicKey) (Report, error) {
	var r Report
	h, err := Verify(env, reporterEd)
	if err != nil {
		return r, err
	}
	r.Header = h
	if h.Kind != protocol.KindReport || h.Suite != SuiteV2 {
		return r, fmt.Errorf("%w: not a suite-2 report", ErrOpen)
	}
	body := env[protocol.HeaderLen : len(env)-protocol.SigLen]
	if len(body) < 32+protocol.TagLen {
		return r, fmt.Errorf("%w: report of %d bytes", ErrOpen, len(body))
	}
	k, err := hpke.NewDHKEMPrivateKey(reportKey)
	if err != nil {
		return r, err
	}
	rc, err := hpke.NewRecipient(body[:32], k, hpkeKDF, hpkeAEAD, ReportInfo(h.RID, h.Sender))
	if err != nil {
		return r, ErrOpen
	}
	pt, err := rc.Open(env[:protocol.HeaderLen], body[32:])
	if err != nil || len(pt) < 36 {
		return r, ErrOpen
	}
	copy(r.MK[:], pt)
	n := binary.BigEndian.Uint32(pt[32:36])
	if uint64(n) > uint64(len(pt)-36) {
		return r, fmt.Errorf("%w: reported envelope overruns the report", ErrOpen)
	}
	r.Envelope = pt[36 : 36+n]
	note := pt[36+n:]
	if len(note) > MaxReportNote || !utf8.Valid(note) {
		return r, fmt.Errorf("%w: report note is not UTF-8 of at most %d bytes", ErrOpen, MaxReportNote)
	}
	r.Note = string(note)
	return r, nil
}

// CheckReported checks the reported envelope of r: it names room rid, it
// is a group message or a direct message to the reporter, its signature
// verifies under the sender's key senderEd, and it opens under the message
// key. It returns the reported envelope's header and its plaintext data.
// senderEd is looked up by the caller from E's sender (EnvelopeSender).
func CheckReported(r Report, rid protocol.RID, senderEd ed25519.PublicKey) (protocol.Header, []byte, error) {
	h, err := Verify(r.Envelope, senderEd)
	if err != nil {
		return h, nil, err
	}
	if h.RID != rid {
		return h, nil, fmt.Errorf("%w: reported message is from another room", ErrOpen)
	}
	switch {
	case h.Kind == protocol.KindMsg:
	case h.Kind == protocol.KindDM && h.To == r.Header.Sender:
	default:
		return h, nil, fmt.Errorf("%w: reported envelope is not a message to the reporter", ErrOpen)
	}
	if h.Suite != SuiteV2 {
		return h, nil, fmt.Errorf("%w: reported message is not suite 2", ErrOpen)
	}
	data, err := Decrypt(r.Envelope, r.MK[:])
	return h, data, err
}

// EnvelopeSender returns the sender session named in env's header, or 0.
func EnvelopeSender(env []byte) uint32 {
	h, err := protocol.ParseHeader(env)
	if err != nil {
		return 0
	}
	return h.Sender
}
