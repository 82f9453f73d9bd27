package bench

import (
	"math"
	"os"
	"testing"
	"time"
)

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Millisecond)
	}
	for _, c := range []struct {
		q    float64
		want float64 // ms
	}{{0.5, 500}, {0.9, 900}, {0.99, 990}, {1, 1000}} {
		if got := h.Quantile(c.q); math.Abs(got-c.want)/c.want > 0.035 {
			t.Errorf("Quantile(%v) = %v ms, want %v within 3.5%%", c.q, got, c.want)
		}
	}
	if h.Max() != 1000 {
		t.Errorf("Max() = %v, want 1000", h.Max())
	}
	var o histogram
	o.Record(5 * time.Second)
	o.Record(-time.Second) // counts as 0
	h.Merge(&o)
	if h.n != 1002 || h.Max() != 5000 || h.Quantile(0.0001) != 0 {
		t.Errorf("after Merge: n %d, max %v, min %v; want 1002, 5000, 0", h.n, h.Max(), h.Quantile(0.0001))
	}
	var empty histogram
	if empty.Quantile(0.5) != 0 {
		t.Error("Quantile of no samples is not 0")
	}
}

// Every value falls in a bucket whose representative is within 3.2% of it.
func TestHistogramBuckets(t *testing.T) {
	for us := uint64(0); us < 1<<22; us = us*17/16 + 1 {
		i := bucketOf(us)
		if i < 0 || i >= histBuckets {
			t.Fatalf("bucketOf(%d) = %d, out of range", us, i)
		}
		if mid := bucketMid(i); math.Abs(mid-float64(us)) > 0.032*float64(us)+0.5 {
			t.Fatalf("bucketOf(%d) = %d whose middle is %v", us, i, mid)
		}
	}
	if i := bucketOf(math.MaxUint64); i != histBuckets-1 {
		t.Errorf("bucketOf(max) = %d, want the last bucket", i)
	}
}

func TestProc(t *testing.T) {
	pid := os.Getpid()
	if cpu, err := procCPU(pid); err != nil || cpu < 0 {
		t.Errorf("procCPU(self) = %v, %v", cpu, err)
	}
	if rss, err := procRSS(pid); err != nil || rss <= 0 {
		t.Errorf("procRSS(self) = %v, %v", rss, err)
	}
	if err := CheckPID(1 << 30); err == nil {
		t.Error("CheckPID of no process = nil")
	}
	if _, ok := (procs{}).CPU(); ok {
		t.Error("CPU() of no process reports a figure")
	}
}
