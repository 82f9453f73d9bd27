package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ConnectOptions say how a node reaches NATS. Empty fields are not used.
type ConnectOptions struct {
	URLs string // one or more server URLs, comma-separated

	// At most one way to authenticate: a credentials file (JWT and seed),
	// an nkey seed file, or a user and password.
	CredsFile string
	NKeyFile  string
	User      string
	Password  string // never from the command line: it would show in ps

	// TLS: a CA file to check the servers by, and a client certificate
	// and key. Any of them turns TLS on.
	TLSCA   string
	TLSCert string
	TLSKey  string

	// Name is the connection's name as the servers show it; "veil" if
	// empty. It names no host.
	Name string

	// Logger, if not nil, hears of disconnections, reconnections and
	// asynchronous errors (with room ids cut out).
	Logger *slog.Logger
}

// ErrNoJetStream means the servers answer but have no JetStream for this
// account, so they cannot hold the rooms bucket.
var ErrNoJetStream = errors.New("cluster: JetStream is not enabled on the NATS servers for this account")

// Connect dials NATS once through the listed servers and returns the
// connection, or an error if none of them took it: it does not wait for an
// absent server to appear. Once connected, it reconnects forever, quickly,
// so a node rides out a server's restart. The caller closes (or drains) it.
func Connect(o ConnectOptions) (*nats.Conn, error) {
	if o.URLs == "" {
		return nil, errors.New("cluster: no NATS URL")
	}
	name := o.Name
	if name == "" {
		name = "veil"
	}
	opts := []nats.Option{
		nats.Name(name),
		nats.NoEcho(),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.RetryOnFailedConnect(false),
		nats.Timeout(5 * time.Second),
		// A connection that died without a word is noticed within about
		// 15 s rather than the default 4 minutes: until then, the other
		// nodes already count this one dead while its members wait.
		nats.PingInterval(5 * time.Second),
		nats.DrainTimeout(5 * time.Second),
	}
	auth := 0
	for _, f := range []string{o.CredsFile, o.NKeyFile, o.User} {
		if f != "" {
			auth++
		}
	}
	if auth > 1 {
		return nil, errors.New("cluster: use one of a credentials file, an nkey or a user")
	}
	if (o.TLSCert == "") != (o.TLSKey == "") {
		return nil, errors.New("cluster: a TLS client certificate and its key go together")
	}
	if o.CredsFile != "" {
		// nats.go reads the file only when it dials; say so now if it is
		// not there, rather than as a failed connection.
		if err := readable(o.CredsFile); err != nil {
			return nil, fmt.Errorf("nats credentials: %w", err)
		}
		opts = append(opts, nats.UserCredentials(o.CredsFile))
	}
	if o.NKeyFile != "" {
		opt, err := nats.NkeyOptionFromSeed(o.NKeyFile)
		if err != nil {
			return nil, fmt.Errorf("nats nkey: %w", err)
		}
		opts = append(opts, opt)
	}
	if o.User != "" {
		opts = append(opts, nats.UserInfo(o.User, o.Password))
	}
	if o.TLSCA != "" {
		opts = append(opts, nats.RootCAs(o.TLSCA))
	}
	if o.TLSCert != "" {
		opts = append(opts, nats.ClientCert(o.TLSCert, o.TLSKey))
	}
	if o.TLSCA != "" || o.TLSCert != "" {
		opts = append(opts, nats.Secure())
	}
	if l := o.Logger; l != nil {
		opts = append(opts,
			nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
				if err != nil {
					l.Warn("nats disconnected", "err", redact(err))
				}
			}),
			nats.ReconnectHandler(func(*nats.Conn) { l.Info("nats reconnected") }),
			nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
				l.Warn("nats", "err", redact(err))
			}),
		)
	}
	nc, err := nats.Connect(o.URLs, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS: %w", err)
	}
	return nc, nil
}

// readable reports why file cannot be opened for reading, if it cannot.
func readable(file string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	return f.Close()
}

// CheckJetStream asks the servers about this account's JetStream until
// they answer. It returns ErrNoJetStream at once if they say it is not
// enabled (or nobody answers for it), and ctx's error, wrapped, if ctx
// ends first (a cluster still electing its JetStream leader stays silent).
func CheckJetStream(ctx context.Context, nc *nats.Conn) error {
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err = js.AccountInfo(actx)
		cancel()
		if err == nil {
			return nil
		}
		if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
			return ErrNoJetStream
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("JetStream did not answer: %w", err)
		case <-time.After(wait):
		}
	}
}

// ridHex matches a room id as it appears in subjects and keys.
var ridHex = regexp.MustCompile(`[0-9a-fA-F]{32}`)

// redact returns err's text with room ids cut out: a NATS error may name
// the subject or key it is about, and logs never name a room.
func redact(err error) string {
	return ridHex.ReplaceAllString(err.Error(), "…")
}
