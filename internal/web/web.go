// Package web serves veil's embedded browser client and its small HTTP API
// (room creation and relay limits), with the security headers of DESIGN.md on
// every answer. It stores nothing and reads no secrets: a room is created
// from hashes the creator's browser computed.
package web

import (
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"time"

	"veil/internal/limit"
	"veil/internal/pow"
	"veil/internal/protocol"
	"veil/internal/room"
)

//go:embed static
var static embed.FS

// CSP is the Content-Security-Policy of every answer: nothing from another
// origin, no inline script or eval, HTML sinks only through the sanitizer's
// Trusted Types policy.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; " +
	"media-src 'self' blob:; connect-src 'self'; font-src 'self'; manifest-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'; " +
	"require-trusted-types-for 'script'; trusted-types dompurify"

// Config is what the handler needs.
type Config struct {
	Rooms *room.Registry
	Relay http.Handler // serves /ws
	TLS   bool         // add Strict-Transport-Security
	// CreateRate, when set, limits room creations per client address, as
	// Keyer keys them (nil: no limit).
	CreateRate *limit.Rates
	Keyer      *limit.Keyer
	// PoW, when enabled, asks a proof of work (header Veil-PoW) of every
	// room creation; GET /api/pow hands out challenges.
	PoW *pow.Gate
}

// Handler returns the whole HTTP surface of a veil server.
func Handler(cfg Config) http.Handler {
	sub := Static()
	files := http.FileServerFS(sub)
	mux := http.NewServeMux()
	mux.Handle("GET /ws", cfg.Relay)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /api/config", func(w http.ResponseWriter, r *http.Request) {
		maxTTL := cfg.Rooms.Limits().MaxTTL
		bits := 0
		if cfg.PoW.Enabled() {
			bits = cfg.PoW.Bits
		}
		writeJSON(w, http.StatusOK, map[string]int64{
			"max_ttl":     int64(maxTTL / time.Second),
			"default_ttl": int64(min(time.Hour, maxTTL) / time.Second),
			"pow":         int64(bits),
		})
	})
	mux.HandleFunc("GET /api/pow", func(w http.ResponseWriter, r *http.Request) {
		if !cfg.PoW.Enabled() {
			writeError(w, http.StatusNotFound, "this server asks for no proof of work")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"challenge": cfg.PoW.Challenge(time.Now()), "bits": cfg.PoW.Bits})
	})
	create := http.NewCrossOriginProtection().Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if cfg.CreateRate != nil && cfg.Keyer != nil {
			var le *limit.Error
			if err := cfg.CreateRate.Allow(cfg.Keyer.Key(r), time.Now()); errors.As(err, &le) {
				writeError(w, le.Status, le.Msg)
				return
			}
		}
		if err := cfg.PoW.Check(r.Header.Get("Veil-PoW"), time.Now()); err != nil {
			status := http.StatusPreconditionRequired
			if err == pow.ErrBusy {
				status = http.StatusServiceUnavailable
			}
			writeError(w, status, err.Error())
			return
		}
		createRoom(cfg.Rooms, w, r)
	}))
	mux.Handle("POST /api/rooms", create)
	mux.HandleFunc("GET /{path...}", func(w http.ResponseWriter, r *http.Request) {
		p := r.PathValue("path")
		if p == "" {
			p = "index.html"
		}
		if _, err := fs.Stat(sub, p); err != nil || p == "index.html" && r.URL.Path != "/" {
			http.Error(w, "404 not found", http.StatusNotFound)
			return
		}
		files.ServeHTTP(w, r)
	})
	return headers(cfg.TLS, mux)
}

func headers(tls bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(self), geolocation=(), payment=(), usb=(), interest-cohort=()")
		h.Set("Cache-Control", "no-store")
		if tls {
			h.Set("Strict-Transport-Security", "max-age=63072000")
		}
		next.ServeHTTP(w, r)
	})
}

type createRequest struct {
	RID      string `json:"rid"`
	Verifier string `json:"verifier"`
	Owner    string `json:"owner"`
	TTL      int64  `json:"ttl"`
	Purge    string `json:"purge"`
	Meta     string `json:"meta"`
}

func decodeField(name, s string, n int) ([]byte, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || n > 0 && len(b) != n {
		return nil, fmt.Errorf("%s must be %d bytes of unpadded base64url", name, n)
	}
	return b, nil
}

func createRoom(rooms *room.Registry, w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	var req createRequest
	err := dec.Decode(&req)
	if err == nil {
		// One JSON object and nothing after it.
		if _, extra := dec.Token(); extra != io.EOF {
			err = errors.New("trailing data")
		}
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "request body over 4096 bytes")
			return
		}
		writeError(w, http.StatusBadRequest, "body is not the JSON of docs/protocol.md section 3")
		return
	}
	var spec room.Spec
	rid, err := decodeField("rid", req.RID, protocol.RIDLen)
	if err == nil {
		copy(spec.RID[:], rid)
		var v, o []byte
		if v, err = decodeField("verifier", req.Verifier, 32); err == nil {
			copy(spec.Verifier[:], v)
			if o, err = decodeField("owner", req.Owner, 32); err == nil {
				copy(spec.OwnerHash[:], o)
			}
		}
	}
	if err == nil && req.Meta != "" {
		spec.Meta, err = decodeField("meta", req.Meta, 0)
		if err == nil && len(spec.Meta) > protocol.MaxMeta {
			err = errors.New("meta over 1024 bytes")
		}
	}
	if err == nil {
		switch req.Purge {
		case "anyone", "":
			spec.Policy = protocol.PolicyAnyone
		case "owner":
			spec.Policy = protocol.PolicyOwner
		default:
			err = errors.New(`purge must be "anyone" or "owner"`)
		}
	}
	if minTTL := rooms.Limits().MinTTL; err == nil && (req.TTL < int64(minTTL/time.Second) || req.TTL > 1<<31) {
		err = fmt.Errorf("ttl must be at least %d seconds and at most %d", int64(minTTL/time.Second), int64(1)<<31)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	spec.TTL = time.Duration(req.TTL) * time.Second
	rm, err := rooms.Create(spec)
	switch {
	case errors.Is(err, room.ErrExists):
		writeError(w, http.StatusConflict, "a room with this id exists")
		return
	case errors.Is(err, room.ErrCapacity):
		writeError(w, http.StatusServiceUnavailable, "this server holds its maximum number of rooms; try again later")
		return
	case errors.Is(err, room.ErrUnavailable):
		writeError(w, http.StatusServiceUnavailable, "the server cannot make a room right now; try again in a moment")
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, map[string]int64{
		"ttl":           int64(rm.TTL() / time.Second),
		"expires_in_ms": int64(rm.Remaining() / time.Millisecond),
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// Static returns the embedded client files.
func Static() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	return sub
}
