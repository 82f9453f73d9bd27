package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"veil/internal/vtest"
)

func writeCert(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	return certFile, keyFile
}

func TestServeTLS(t *testing.T) {
	certFile, keyFile := writeCert(t)
	url, stderr, stop := startServeTLS(t, certFile, keyFile)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := client.Get(url + "/healthz")
	if err != nil {
		t.Fatalf("GET over TLS: %v; stderr:\n%s", err, stderr)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Strict-Transport-Security") == "" {
		t.Fatalf("GET over TLS = %d, HSTS %q", resp.StatusCode, resp.Header.Get("Strict-Transport-Security"))
	}
	// A plain-HTTP client makes net/http log a TLS handshake error naming the
	// client's address; our error log scrubs it.
	if resp, err := http.Get("http" + url[len("https"):] + "/healthz"); err == nil {
		resp.Body.Close()
	}
	vtest.Poll(t, "the handshake error line", func() bool { return strings.Contains(stderr.String(), "handshake") })
	if code := stop(); code != 0 {
		t.Fatalf("serve exited %d", code)
	}
	if logs := stderr.String(); strings.Contains(logs, "127.0.0.1") || !strings.Contains(logs, "[address]") {
		t.Fatalf("log is not scrubbed:\n%s", logs)
	}
}

var tlsURLLine = regexp.MustCompile(`veil: serving on (https://127\.0\.0\.1:\d+)/`)

func startServeTLS(t *testing.T, certFile, keyFile string) (string, *vtest.SafeBuffer, func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &vtest.SafeBuffer{}, &vtest.SafeBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "-v", "--tls-cert", certFile, "--tls-key", keyFile}, nil, stdout, stderr)
	}()
	var url string
	vtest.Poll(t, "the URL line", func() bool {
		if m := tlsURLLine.FindStringSubmatch(stdout.String()); m != nil {
			url = m[1]
		}
		return url != ""
	})
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			cancel()
			<-done
		}
	})
	return url, stderr, func() int { stopped = true; cancel(); return <-done }
}
