package cpu

import (
	"math"
	"sync"

	"github.com/crossrank/crossrank/ml"
)

// Rotary position embeddings (ml.RoPERun). The cos and sin of every
// (position, frequency) are computed once per (theta, head size) and kept:
// a 22-layer model calls RoPE 44 times per batch with two thetas, and
// 8,192 positions x 32 frequencies of sincos cost more than the rotation.

type ropeKey struct {
	theta float64
	dim   int
}

// ropeTable holds cos and sin of positions 0..n-1: cos[p*half+i].
type ropeTable struct {
	n        int
	cos, sin []float32
}

var (
	ropeMu     sync.Mutex
	ropeTables = map[ropeKey]*ropeTable{}
)

// ropeFor returns a table for at least n positions, computed as the
// reference computes each angle: float32(position) * InvFreq[i], then cos
// and sin in float64 rounded to float32.
func ropeFor(theta float64, dim, n int) *ropeTable {
	ropeMu.Lock()
	defer ropeMu.Unlock()
	k := ropeKey{theta, dim}
	if t := ropeTables[k]; t != nil && t.n >= n {
		return t
	}
	n = max(n, 512) // grow in steps, not one position at a time
	if t := ropeTables[k]; t != nil {
		n = max(n, 2*t.n)
	}
	inv := ml.InvFreq(theta, dim)
	half := dim / 2
	t := &ropeTable{n: n, cos: make([]float32, n*half), sin: make([]float32, n*half)}
	for p := range n {
		for i, f := range inv {
			ang := float64(float32(p) * f)
			t.cos[p*half+i] = float32(math.Cos(ang))
			t.sin[p*half+i] = float32(math.Sin(ang))
		}
	}
	ropeTables[k] = t // the old table stays valid for runs still reading it
	return t
}

// RoPE is ml.RoPERun.
func (r *fastRun) RoPE(x ml.Tensor, heads int, theta float64, offsets []int32) {
	if !r.ok() {
		return
	}
	xt := r.tensor(x)
	if xt == nil {
		return
	}
	if err := ml.CheckRoPE(xt, heads, theta, offsets); err != nil {
		r.fail("%v", err)
		return
	}
	longest := 0
	for s := 0; s+1 < len(offsets); s++ {
		longest = max(longest, int(offsets[s+1]-offsets[s]))
	}
	dim := xt.cols
	tab := ropeFor(theta, dim/heads, longest)
	// seq[t] would cost a slice per call; the parts find their sequence by
	// walking offsets from the part's first row.
	r.parallelFunc(xt.rows, dim, func(r0, r1 int) {
		s := 0
		for int(offsets[s+1]) <= r0 {
			s++
		}
		for t := r0; t < r1; t++ {
			for int(offsets[s+1]) <= t {
				s++
			}
			tab.rotate(xt.data[t*dim:(t+1)*dim], heads, t-int(offsets[s]))
		}
	})
}

// rotate rotates every one of the heads of row (one token's) by position p.
func (tab *ropeTable) rotate(row []float32, heads, p int) {
	hd := len(row) / heads
	half := hd / 2
	cos, sin := tab.cos[p*half:(p+1)*half], tab.sin[p*half:(p+1)*half]
	if hasMM4 {
		ropeAsm(row, cos, sin, heads)
		return
	}
	for h := range heads {
		x1, x2 := row[h*hd:h*hd+half], row[h*hd+half:(h+1)*hd]
		for i := range half {
			a, b := x1[i], x2[i]
			x1[i] = a*cos[i] - b*sin[i]
			x2[i] = b*cos[i] + a*sin[i]
		}
	}
}

// RoPEAt is ml.RoPEAtRun: RoPE's rotation, from the same table, with row i
// at positions[i].
func (r *fastRun) RoPEAt(x ml.Tensor, heads int, theta float64, positions []int32) {
	if !r.ok() {
		return
	}
	xt := r.tensor(x)
	if xt == nil {
		return
	}
	if err := ml.CheckRoPEAt(xt, heads, theta, positions); err != nil {
		r.fail("%v", err)
		return
	}
	longest := 0
	for _, p := range positions {
		longest = max(longest, int(p)+1)
	}
	dim := xt.cols
	tab := ropeFor(theta, dim/heads, longest)
	for t, p := range positions { // one row per sequence: too little to share out
		tab.rotate(xt.data[t*dim:(t+1)*dim], heads, int(p))
	}
}
