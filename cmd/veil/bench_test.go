package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"veil/internal/vtest"
)

// benchServeFlags lift `veil serve`'s limits as docs/bench.md says.
var benchServeFlags = []string{"--conns-per-addr", "100000", "--max-conns", "100000", "--msg-rate", "1000000", "--msg-burst", "1000000",
	"--byte-rate", "1e12", "--byte-burst", "1099511627776", "--join-rate", "1000000", "--max-members", "1000", "--create-rate", "1000000"}

// A short max-fanout against `veil serve` with the limits lifted: every
// client connects, everything is delivered, and the JSON has every field.
func TestBenchJSON(t *testing.T) {
	url, _, _ := startServe(t, benchServeFlags...)
	pid := fmt.Sprint(os.Getpid()) // the server runs in this process
	code, out, errs := cli(t, "", "bench", "--server", url, "--scenario", "max-fanout", "--clients", "12", "--senders", "3",
		"--duration", "500ms", "--pid", pid, "--json")
	if code != 0 {
		t.Fatalf("bench = %d: %s", code, errs)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("bench --json printed %q: %v", out, err)
	}
	for _, k := range []string{"scenario", "modified", "kind", "servers", "clients", "rooms", "senders", "rate", "window", "size", "open",
		"connected", "held", "connect_s", "seconds", "offered", "sent", "sealed_live", "expected", "delivered", "deliveries_per_s",
		"delivered_pct", "joins", "joins_per_s", "latency_ms", "server_cpu_s", "server_cpu_pct", "bench_cpu_pct", "machine_cpu_pct", "server_rss_mib", "rss_per_conn_kib",
		"errors", "error_kinds"} {
		if _, ok := res[k]; !ok {
			t.Errorf("JSON has no %q: %s", k, out)
		}
	}
	lat, _ := res["latency_ms"].(map[string]any)
	for _, k := range []string{"p50", "p90", "p99", "max"} {
		if v, _ := lat[k].(float64); v <= 0 {
			t.Errorf("latency_ms.%s = %v, want > 0", k, lat[k])
		}
	}
	if res["scenario"] != "max-fanout" || res["connected"] != 12.0 || res["delivered_pct"] != 100.0 || res["errors"] != 0.0 {
		t.Errorf("scenario %v, connected %v, delivered %v%%, errors %v (%v); want max-fanout, 12, 100, 0",
			res["scenario"], res["connected"], res["delivered_pct"], res["errors"], res["error_kinds"])
	}
	if v, _ := res["deliveries_per_s"].(float64); v <= 0 {
		t.Errorf("deliveries_per_s = %v", res["deliveries_per_s"])
	}
	if v, _ := res["server_rss_mib"].(float64); v <= 0 {
		t.Errorf("server_rss_mib = %v with --pid", res["server_rss_mib"])
	}
}

// The table has its columns and a row per scenario; against a server with
// the default limits the refusals and drops are counted and named.
func TestBenchTableShowsErrors(t *testing.T) {
	url, _, _ := startServe(t)
	code, out, errs := cli(t, "", "bench", "--server", url, "--clients", "4", "--rooms", "2", "--senders", "1", "--rate", "100",
		"--duration", "500ms")
	if code != 0 {
		t.Fatalf("bench = %d: %s", code, errs)
	}
	lines := strings.Split(out, "\n")
	for _, col := range []string{"scenario", "clients", "deliveries/s", "delivered %", "p50 ms", "p90 ms", "p99 ms", "max ms", "CPU s", "CPU %", "RSS MiB", "KiB/conn", "errors"} {
		if !strings.Contains(lines[0], col) {
			t.Errorf("header %q has no column %q", lines[0], col)
		}
	}
	row := strings.Fields(lines[1])
	if len(row) != 13 || row[0] != "custom" || row[1] != "4" || row[len(row)-1] == "0" {
		t.Errorf("row %q: want custom, 4 clients, and errors", lines[1])
	}
	for _, want := range []string{"relay ERROR 4029 slow down", "deliveries missing"} {
		if !strings.Contains(out, want) {
			t.Errorf("output does not name %q:\n%s", want, out)
		}
	}
}

func TestBenchUsageErrors(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	for name, args := range map[string][]string{
		"nothing to run":       {},
		"unknown scenario":     {"--scenario", "nope"},
		"argument":             {"--scenario", "idle", "extra"},
		"https":                {"--server", "https://127.0.0.1:1", "--scenario", "idle"},
		"rate and window":      {"--scenario", "max-fanout", "--rate", "10", "--window", "2"},
		"window without loop":  {"--clients", "4", "--senders", "1"},
		"senders over members": {"--clients", "4", "--senders", "5", "--rate", "1"},
		"rooms over clients":   {"--clients", "2", "--rooms", "3"},
		"bad size":             {"--scenario", "big-room", "--size", "70000"},
		"bad duration":         {"--scenario", "idle", "--duration", "-1s"},
		"bad pid":              {"--scenario", "idle", "--pid", "x"},
		"no such pid":          {"--scenario", "idle", "--pid", "1073741824"},
		"source addrs":         {"--scenario", "idle", "--source-addrs", "300"},
		"max-conns not scale":  {"--scenario", "idle", "--max-conns", "10"},
		"scale with clients":   {"--scenario", "scale", "--clients", "10"},
		"one-node cluster":     {"--scenario", "cluster"},
		"senders on idle":      {"--scenario", "idle", "--senders", "1"},
		"undefined flag":       {"--nope"},
	} {
		code, _, errs := cli(t, "", append([]string{"bench", "--server", s.URL}, args...)...)
		if code != 2 || errs == "" {
			t.Errorf("%s: bench %q = %d (%q), want 2 and a reason", name, args, code, errs)
		}
	}
	if code, _, _ := cli(t, "", "bench", "--help"); code != 0 {
		t.Errorf("bench --help = %d, want 0", code)
	}
}

func TestBenchUnreachableServer(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	url := s.URL
	s.HTTP.Close()
	code, _, errs := cli(t, "", "bench", "--server", url, "--scenario", "idle", "--clients", "1", "--rooms", "1")
	if code != 1 || !strings.Contains(errs, "cannot reach") {
		t.Fatalf("bench against a closed server = %d (%q), want 1 and cannot reach", code, errs)
	}
}
