package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"

	"golang.org/x/net/proxy"
)

// proxyHTTPClient returns an HTTP client that dials through the SOCKS5
// proxy at proxyURL (socks5://HOST:PORT or socks5h://HOST:PORT, as Tor's
// 127.0.0.1:9050). Host names are handed to the proxy unresolved, so no DNS
// query leaves this machine and .onion addresses work. An empty proxyURL
// gives nil: dial directly.
func proxyHTTPClient(proxyURL string) (*http.Client, error) {
	if proxyURL == "" {
		return nil, nil
	}
	u, err := url.Parse(proxyURL)
	if err != nil || (u.Scheme != "socks5" && u.Scheme != "socks5h") || u.Host == "" {
		return nil, fmt.Errorf("--proxy must be socks5://HOST:PORT, not %q", proxyURL)
	}
	var auth *proxy.Auth
	if u.User != nil {
		pw, _ := u.User.Password()
		auth = &proxy.Auth{User: u.User.Username(), Password: pw}
	}
	d, err := proxy.SOCKS5("tcp", u.Host, auth, &net.Dialer{})
	if err != nil {
		return nil, fmt.Errorf("--proxy: %w", err)
	}
	cd, ok := d.(proxy.ContextDialer)
	if !ok {
		return nil, fmt.Errorf("--proxy: the SOCKS5 dialer cannot take a context")
	}
	return &http.Client{Transport: &http.Transport{
		Proxy: nil, // never an HTTP proxy from the environment
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return cd.DialContext(ctx, network, addr)
		},
		ForceAttemptHTTP2: false,
	}}, nil
}
