package main

import (
	"math"
)

// Latency histogram.
//
// Every process uses the same fixed log-bucket scheme, so that histograms
// from several load processes can be merged by adding counts:
//
//	bucket i, for i = 0 … 479, has the upper bound (in nanoseconds)
//	    U(i) = ceil(1000 × 1.04^i)          (Go: math.Ceil(1000*math.Pow(1.04, float64(i))))
//	and holds the values v with U(i-1) < v ≤ U(i); bucket 0 holds every
//	value ≤ 1000 ns (1 µs), the last bucket (U(479) ≈ 144 s) every value
//	above U(478).
//
// U(0) = 1000, U(1) = 1040, U(2) = 1082, … Adjacent bounds differ by a
// factor of 1.04, so reporting a value as its bucket's upper bound
// overstates it by less than 4% from 1 µs to 144 s.
//
// In the JSON line, "hist" lists the non-empty buckets in increasing order
// as [U(i), count] pairs. To merge histograms, add the counts of equal
// upper bounds (they are exact integers, the same in every process). A
// quantile q (p50_us: q = 0.5, p99_us: 0.99, p999_us: 0.999) is the
// smallest upper bound U whose cumulative count reaches
// max(1, ceil(q × total)), capped at the exact maximum (max_us, which is
// tracked separately: merge it with max), divided by 1000 for µs.
const (
	histBuckets = 480
	histBase    = 1000.0
	histGrowth  = 1.04
	// histChunk is the number of buckets per lazily allocated chunk of a
	// per-connection histogram.
	histChunk = 64
)

// histBounds[i] is U(i), the upper bound of bucket i in nanoseconds.
var histBounds = func() (b [histBuckets]int64) {
	for i := range b {
		b[i] = int64(math.Ceil(histBase * math.Pow(histGrowth, float64(i))))
	}
	return b
}()

// invLogGrowth is 1/ln(1.04), to estimate a bucket index.
var invLogGrowth = 1 / math.Log(histGrowth)

// bucketOf returns the index of the bucket that holds v nanoseconds.
func bucketOf(v int64) int {
	if v <= histBounds[0] {
		return 0
	}
	i := int(math.Ceil(math.Log(float64(v)/histBase) * invLogGrowth))
	i = min(max(i, 0), histBuckets-1)
	// The estimate can be one off at a bound: settle it on the table.
	for i > 0 && v <= histBounds[i-1] {
		i--
	}
	for i < histBuckets-1 && v > histBounds[i] {
		i++
	}
	return i
}

// hist is a per-goroutine latency histogram: recording takes no lock.
// Its buckets are allocated in chunks on first use, so that thousands of
// connections that each see a narrow range of latencies stay small.
type hist struct {
	chunks [(histBuckets + histChunk - 1) / histChunk]*[histChunk]uint64
	n      uint64
	max    int64
}

// record adds one value in nanoseconds (negative values count as 0).
func (h *hist) record(v int64) {
	v = max(v, 0)
	i := bucketOf(v)
	c := h.chunks[i/histChunk]
	if c == nil {
		c = new([histChunk]uint64)
		h.chunks[i/histChunk] = c
	}
	c[i%histChunk]++
	h.n++
	h.max = max(h.max, v)
}

// histTotal is a merged histogram.
type histTotal struct {
	counts [histBuckets]uint64
	n      uint64
	max    int64
}

// add merges h into t.
func (t *histTotal) add(h *hist) {
	for ci, c := range h.chunks {
		if c == nil {
			continue
		}
		for j, n := range c {
			t.counts[ci*histChunk+j] += n
		}
	}
	t.n += h.n
	t.max = max(t.max, h.max)
}

// quantile returns the q-quantile in nanoseconds: the upper bound of the
// bucket where the cumulative count reaches max(1, ceil(q × n)), capped at
// the maximum. It is 0 for an empty histogram.
func (t *histTotal) quantile(q float64) int64 {
	if t.n == 0 {
		return 0
	}
	rank := max(uint64(math.Ceil(q*float64(t.n))), 1)
	var cum uint64
	for i, n := range t.counts {
		cum += n
		if cum >= rank {
			return min(histBounds[i], t.max)
		}
	}
	return t.max
}

// pairs returns the non-empty buckets as [upper bound ns, count] pairs.
func (t *histTotal) pairs() [][2]int64 {
	var out [][2]int64
	for i, n := range t.counts {
		if n > 0 {
			out = append(out, [2]int64{histBounds[i], int64(n)})
		}
	}
	return out
}

// fill writes the histogram and its percentiles into res.
func (t *histTotal) fill(res *result) {
	res.Samples = t.n
	res.P50us = float64(t.quantile(0.50)) / 1e3
	res.P99us = float64(t.quantile(0.99)) / 1e3
	res.P999us = float64(t.quantile(0.999)) / 1e3
	res.MaxUs = float64(t.max) / 1e3
	res.Hist = t.pairs()
}

// fillLatency merges the histogram of every connection (nil entries are
// connections that never dialed) into res.
func fillLatency[C any](res *result, conns []*C, h func(*C) *hist) {
	var lat histTotal
	for _, c := range conns {
		if c != nil {
			lat.add(h(c))
		}
	}
	lat.fill(res)
}
