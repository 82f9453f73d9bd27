package bench

import (
	"math/bits"
	"time"
)

// histogram counts durations in microseconds in log-linear buckets: exact
// below 64 µs, then 32 buckets per power of two (within about 3%). Its size
// is fixed (about 11 KB) whatever the number of samples.
type histogram struct {
	counts [histBuckets]uint64
	n      uint64
	max    uint64 // µs
}

const (
	histSub     = 32 // buckets per power of two
	histOctaves = 40 // up to 2^45 µs
	histBuckets = 2*histSub + histOctaves*histSub
)

func bucketOf(us uint64) int {
	if us < 2*histSub {
		return int(us)
	}
	e := bits.Len64(us) - 6 // us>>e is in [32, 64)
	i := 2*histSub + (e-1)*histSub + int(us>>e) - histSub
	return min(i, histBuckets-1)
}

// bucketMid is a representative value of bucket i, in µs.
func bucketMid(i int) float64 {
	if i < 2*histSub {
		return float64(i)
	}
	e := (i-2*histSub)/histSub + 1
	lo := uint64(histSub+(i-2*histSub)%histSub) << e
	return float64(lo) + float64(uint64(1)<<e)/2
}

// Record adds one duration; a negative one counts as zero.
func (h *histogram) Record(d time.Duration) {
	us := uint64(max(d, 0) / time.Microsecond)
	h.counts[bucketOf(us)]++
	h.n++
	h.max = max(h.max, us)
}

// Merge adds o's samples to h.
func (h *histogram) Merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// Quantile returns the q-quantile (0 < q <= 1) in milliseconds, or 0 for
// no samples. It never exceeds the largest sample.
func (h *histogram) Quantile(q float64) float64 {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.999999)
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(bucketMid(i), float64(h.max)) / 1000
		}
	}
	return float64(h.max) / 1000
}

// Max returns the largest sample in milliseconds.
func (h *histogram) Max() float64 { return float64(h.max) / 1000 }
