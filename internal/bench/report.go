package bench

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Result is what one scenario run measured. Figures a run could not take
// (the server's CPU and memory without --pid) are null in JSON and "-" in
// the table.
type Result struct {
	Scenario string   `json:"scenario"`
	Modified []string `json:"modified"` // flags that changed the named scenario
	Kind     Kind     `json:"kind"`
	Servers  []string `json:"servers"`
	Clients  int      `json:"clients"` // asked for
	Rooms    int      `json:"rooms"`
	Senders  int      `json:"senders"` // in all rooms
	Rate     float64  `json:"rate"`    // offered envelopes per second per sender
	Window   int      `json:"window"`  // envelopes in flight per sender
	Size     int      `json:"size"`
	Open     bool     `json:"open"`

	Connected      int     `json:"connected"` // admitted (WELCOME)
	Held           int     `json:"held"`      // sockets still open at the end
	ConnectSeconds float64 `json:"connect_s"`
	Seconds        float64 `json:"seconds"` // the measured window

	Offered          int64   `json:"offered"` // open loop
	Sent             int64   `json:"sent"`
	SealedLive       int64   `json:"sealed_live"` // sealed during the run, past those sealed ahead
	Expected         int64   `json:"expected"`    // sent × (room members − 1)
	Delivered        int64   `json:"delivered"`
	DeliveriesPerSec float64 `json:"deliveries_per_s"`
	DeliveredPct     float64 `json:"delivered_pct"`
	Joins            int64   `json:"joins"`
	JoinsPerSec      float64 `json:"joins_per_s"`

	// Latency is from send (the scheduled time in open loop) to receipt;
	// for join-storm from dialling to WELCOME.
	Latency Latency `json:"latency_ms"`

	CPUSeconds *float64 `json:"server_cpu_s"`
	CPUPercent *float64 `json:"server_cpu_pct"` // of one core
	// The generator's own CPU, and that of the whole machine (every
	// process, all cores: 200 is two cores busy), over the same window:
	// a generator near 100 may be what was measured, and a machine busier
	// than server and generator together was doing other work.
	BenchCPUPercent   float64  `json:"bench_cpu_pct"`
	MachineCPUPercent float64  `json:"machine_cpu_pct"`
	RSSMiB            *float64 `json:"server_rss_mib"` // at the end
	RSSPerConnKiB     *float64 `json:"rss_per_conn_kib"`

	Errors     int64            `json:"errors"`
	ErrorKinds map[string]int64 `json:"error_kinds"`
}

// Latency percentiles in milliseconds.
type Latency struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

func (r *run) newResult() *Result {
	c := r.cfg
	return &Result{Scenario: c.Name, Modified: append([]string{}, c.Modified...), Kind: c.Kind, Servers: c.Servers,
		Clients: c.Clients, Rooms: c.Rooms, Rate: c.Rate, Window: c.Window, Size: c.Size, Open: c.Open,
		ErrorKinds: map[string]int64{}}
}

// setCPU fills the CPU figures of the window from a to b.
func (r *run) setCPU(res *Result, a, b meter) {
	wall := b.at.Sub(a.at).Seconds()
	if wall <= 0 {
		return
	}
	if a.serverOK && b.serverOK {
		s, pct := b.server-a.server, 100*(b.server-a.server)/wall
		res.CPUSeconds, res.CPUPercent = &s, &pct
	}
	res.BenchCPUPercent = 100 * (b.self - a.self) / wall
	res.MachineCPUPercent = 100 * (b.machine - a.machine) / wall
}

// setRSS fills the memory figures from the RSS before the run, after
// connecting, and at the end.
func (r *run) setRSS(res *Result, before, connected, end int64) {
	mib := float64(end) / (1 << 20)
	res.RSSMiB = &mib
	if res.Connected > 0 {
		kib := float64(connected-before) / 1024 / float64(res.Connected)
		res.RSSPerConnKiB = &kib
	}
}

func (res *Result) setLatency(h *histogram) {
	res.Latency = Latency{P50: h.Quantile(0.50), P90: h.Quantile(0.90), P99: h.Quantile(0.99), Max: h.Max()}
}

func (r *run) fillErrors(res *Result) {
	res.ErrorKinds, res.Errors = r.errs.snapshot()
}

// WriteTable writes results as a table with a few lines of notes under it.
func WriteTable(w io.Writer, results []*Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tclients\tdeliveries/s\tdelivered %\tp50 ms\tp90 ms\tp99 ms\tmax ms\tCPU s\tCPU %\tRSS MiB\tKiB/conn\terrors\t")
	for _, res := range results {
		name := res.Scenario
		if len(res.Modified) > 0 {
			name += "*"
		}
		deliv, pct := "-", "-"
		if res.Kind == Traffic {
			deliv, pct = group(int64(res.DeliveriesPerSec+0.5)), strconv.FormatFloat(res.DeliveredPct, 'f', 2, 64)
		}
		lat := [4]string{"-", "-", "-", "-"}
		if res.Kind == Traffic || res.Kind == JoinStorm {
			for i, v := range []float64{res.Latency.P50, res.Latency.P90, res.Latency.P99, res.Latency.Max} {
				lat[i] = ms(v)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", name, group(int64(res.Connected)), deliv, pct,
			lat[0], lat[1], lat[2], lat[3], opt(res.CPUSeconds, 2), opt(res.CPUPercent, 0), opt(res.RSSMiB, 1), opt(res.RSSPerConnKiB, 1), group(res.Errors))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, res := range results {
		fmt.Fprintf(w, "\n%s\n", res.notes())
	}
	return nil
}

// notes says in words what the row's numbers rest on, and lists the errors.
func (res *Result) notes() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s clients in %s rooms", res.Scenario, group(int64(res.Clients)), group(int64(res.Rooms)))
	switch res.Kind {
	case Traffic:
		if res.Rate > 0 {
			fmt.Fprintf(&b, "; %d senders offered %s envelopes of %d bytes (%s/s) and sent %s", res.Senders, group(res.Offered), res.Size,
				group(int64(float64(res.Senders)*res.Rate+0.5)), group(res.Sent))
		} else {
			fmt.Fprintf(&b, "; %d senders with %d in flight each sent %s envelopes of %d bytes", res.Senders, res.Window, group(res.Sent), res.Size)
		}
		fmt.Fprintf(&b, "; %s of %s deliveries in %.1f s", group(res.Delivered), group(res.Expected), res.Seconds)
		if res.Open {
			b.WriteString("; receivers opened and verified every envelope")
		}
		if res.SealedLive > 0 {
			fmt.Fprintf(&b, "; %s envelopes sealed during the run (the generator may be the bottleneck)", group(res.SealedLive))
		}
	case JoinStorm:
		fmt.Fprintf(&b, "; %s joins in %.1f s = %s joins/s (latency: dial to WELCOME)", group(res.Joins), res.Seconds, group(int64(res.JoinsPerSec+0.5)))
	}
	if res.Kind != JoinStorm {
		rate := 0.0
		if res.ConnectSeconds > 0 {
			rate = float64(res.Connected) / res.ConnectSeconds
		}
		fmt.Fprintf(&b, "; %s connected in %.1f s (%s/s), %s held at the end", group(int64(res.Connected)), res.ConnectSeconds, group(int64(rate+0.5)), group(int64(res.Held)))
	}
	fmt.Fprintf(&b, "; generator CPU %.0f%%, whole machine %.0f%% (all cores)", res.BenchCPUPercent, res.MachineCPUPercent)
	if len(res.Modified) > 0 {
		fmt.Fprintf(&b, "\n  * changed from the named scenario: %s", strings.Join(res.Modified, " "))
	}
	kinds := slices.SortedFunc(maps.Keys(res.ErrorKinds), func(a, b string) int {
		return cmp.Or(cmp.Compare(res.ErrorKinds[b], res.ErrorKinds[a]), cmp.Compare(a, b))
	})
	for _, k := range kinds {
		fmt.Fprintf(&b, "\n  error ×%s: %s", group(res.ErrorKinds[k]), k)
	}
	return b.String()
}

func ms(v float64) string {
	if v < 10 {
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

func opt(v *float64, prec int) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatFloat(*v, 'f', prec, 64)
}

// group writes n with thousands separators: 1,234,567.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
