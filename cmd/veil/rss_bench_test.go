package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"veil/internal/client"
	"veil/internal/vtest"
)

// BenchmarkFileRSS sends one file to 9 other members through a real
// `veil serve` process and reports the server's peak resident memory
// (VmHWM from /proc) and the transfer time. The relay holds a few chunks per
// receiver, whatever the file's size, so the peak must not grow with it.
//
// Target: peak RSS under 64 MiB for both 10 MiB and 100 MiB files (the
// relay's queues for 10 members are 10 x 2 MiB of chunks at most).
func BenchmarkFileRSS(b *testing.B) {
	for _, mib := range []int{10, 100} {
		b.Run(fmt.Sprintf("%dMiB-10members", mib), func(b *testing.B) {
			for b.Loop() {
				peak, took := fileRSS(b, mib<<20, 10)
				b.ReportMetric(float64(peak)/(1<<20), "peak-RSS-MiB")
				b.ReportMetric(took.Seconds(), "s/transfer")
			}
		})
	}
}

var serving = regexp.MustCompile(`serving on (http://[0-9.:]+)/`)

func fileRSS(b *testing.B, size, members int) (peak int64, took time.Duration) {
	cmd, url := serveBinary(b)
	defer func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	room, err := client.Create(ctx, url, client.CreateOptions{})
	if err != nil {
		b.Fatal(err)
	}
	var cs []*client.Client
	for i := range members {
		c, err := client.Dial(ctx, client.Config{Link: room.Link, Alias: fmt.Sprintf("m%d", i)})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		cs = append(cs, c)
	}
	for _, c := range cs {
		vtest.Poll(b, "every member to know the others", func() bool { return len(c.Members()) == members-1 })
	}
	data := make([]byte, size)
	rand.Read(data)
	var wg sync.WaitGroup
	errs := make(chan error, members)
	for _, c := range cs[1:] {
		wg.Go(func() {
			for e := range c.Events() {
				switch e.Type {
				case "file":
					if len(e.Data) != size {
						errs <- fmt.Errorf("got %d bytes", len(e.Data))
					}
					return
				case "file-failed":
					errs <- fmt.Errorf("file failed: %s", e.Text)
					return
				}
			}
		})
	}
	stop := make(chan struct{})
	peakc := make(chan int64)
	go func() {
		var p int64
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			if v := procKB(cmd.Process.Pid, "VmHWM"); v > p {
				p = v
			}
			select {
			case <-stop:
				peakc <- p * 1024
				return
			case <-t.C:
			}
		}
	}()
	start := time.Now()
	if err := cs[0].SendFile(ctx, 0, "big.bin", "application/octet-stream", data, false); err != nil {
		b.Fatal(err)
	}
	wg.Wait()
	took = time.Since(start)
	close(stop)
	peak = <-peakc
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	return peak, took
}

// serveBinary builds veil and starts `veil serve` on a free loopback port
// with flags, and returns the process and the URL it serves on.
func serveBinary(b *testing.B, flags ...string) (*exec.Cmd, string) {
	bin := filepath.Join(b.TempDir(), "veil")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0"}, flags...)...)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	var url string
	for sc.Scan() {
		if m := serving.FindStringSubmatch(sc.Text()); m != nil {
			url = m[1]
			break
		}
	}
	go func() {
		for sc.Scan() {
		}
	}()
	return cmd, url
}

// procKB reads a "kB" field of /proc/PID/status.
func procKB(pid int, field string) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// settledRSS returns the resident memory of process pid, in KiB, once it
// has moved by less than 1% over ten readings 100 ms apart (within 30 s).
func settledRSS(b *testing.B, pid int) int64 {
	b.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last []int64
	for time.Now().Before(deadline) {
		last = append(last, procKB(pid, "VmRSS"))
		if n := len(last); n >= 10 {
			lo, hi := slices.Min(last[n-10:]), slices.Max(last[n-10:])
			if float64(hi-lo) < 0.01*float64(hi) {
				return last[n-1]
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.Fatalf("the server's RSS did not settle in 30 s: last readings %v KiB", last[max(0, len(last)-10):])
	return 0
}

// BenchmarkIdleRSS joins 2,000 members, 20 in each of 100 rooms, to a real
// `veil serve` process, each after its hello sending nothing more, and
// reports the server's resident memory per connection: (RSS with them
// connected - RSS before) / members. It is issue 8's "idle" figure.
//
// Target: at most 14 KiB per connection (0.6 x a minimal broadcast relay
// on the same WebSocket library, about 23 KB).
func BenchmarkIdleRSS(b *testing.B) {
	const rooms, perRoom = 100, 20
	for b.Loop() {
		cmd, url := serveBinary(b, "--conns-per-addr", "100000", "--max-conns", "100000", "--join-rate", "100000", "--create-rate", "100000")
		srv := vtest.Attach(url)
		var rms []*vtest.Room
		for range rooms {
			rms = append(rms, srv.CreateRoom(b, vtest.CreateOptions{}))
		}
		before := settledRSS(b, cmd.Process.Pid)
		var cs []*vtest.Client
		for _, rm := range rms {
			for i := range perRoom {
				c, err := srv.Join(b, rm, fmt.Sprint("m", i), vtest.DialOptions{})
				if err != nil {
					b.Fatal(err)
				}
				cs = append(cs, c)
			}
		}
		// The hellos' fan-out ends, and the heap with it.
		after := settledRSS(b, cmd.Process.Pid)
		b.ReportMetric(float64(after-before)/float64(len(cs)), "KiB/conn")
		b.ReportMetric(float64(after)/1024, "RSS-MiB")
		for _, c := range cs {
			c.WS.CloseNow()
		}
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}
}
