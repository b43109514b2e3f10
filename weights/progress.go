package weights

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// progress draws a one-line progress bar for one file, redrawn with '\r' at
// most every redrawEvery. A nil *progress, or one with no writer, does nothing.
type progress struct {
	mu      sync.Mutex
	w       io.Writer
	name    string
	total   int64
	got     int64
	start   time.Time
	startAt int64
	last    time.Time
}

const redrawEvery = 200 * time.Millisecond

func newProgress(w io.Writer, name string, total, have int64) *progress {
	p := &progress{w: w, name: name, total: total, got: have, start: time.Now(), startAt: have}
	p.draw(true)
	return p
}

func (p *progress) Write(b []byte) (int, error) {
	if p == nil || p.w == nil {
		return len(b), nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.got += int64(len(b))
	p.drawLocked(false)
	return len(b), nil
}

func (p *progress) reset() {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.got, p.startAt, p.start = 0, 0, time.Now()
	p.mu.Unlock()
}

func (p *progress) draw(force bool) {
	if p == nil || p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drawLocked(force)
}

func (p *progress) drawLocked(force bool) {
	now := time.Now()
	if !force && now.Sub(p.last) < redrawEvery && p.got < p.total {
		return
	}
	p.last = now
	const width = 30
	frac := 1.0
	if p.total > 0 {
		frac = float64(p.got) / float64(p.total)
	}
	filled := int(frac * width)
	bar := make([]byte, width)
	for i := range bar {
		if i < filled {
			bar[i] = '='
		} else {
			bar[i] = ' '
		}
	}
	rate := ""
	if el := now.Sub(p.start).Seconds(); el > 0.5 {
		rate = fmt.Sprintf(" %s/s", humanBytes(int64(float64(p.got-p.startAt)/el)))
	}
	name := p.name
	if len(name) > 32 {
		name = "…" + name[len(name)-31:]
	}
	fmt.Fprintf(p.w, "\r%-32s [%s] %3.0f%% %s/%s%s   ", name, bar, 100*frac, humanBytes(p.got), humanBytes(p.total), rate)
}

func (p *progress) done() {
	if p == nil || p.w == nil {
		return
	}
	p.draw(true)
	fmt.Fprintln(p.w)
}

// humanBytes formats a byte count with a binary unit.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
