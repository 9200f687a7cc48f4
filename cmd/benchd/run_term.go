package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/benchd/benchd/runner"
)

// isTerminal reports whether w is a character device (a terminal), not a file or a pipe.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progressLine keeps one updating status line on a terminal:
// "[3/12 working tree] Create/n=100  0:14 elapsed, ~0:40 left".
type progressLine struct {
	mu    sync.Mutex
	w     io.Writer
	shown bool
}

func (p *progressLine) update(pr runner.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	eta := ""
	if pr.ETA > 0 {
		eta = ", ~" + clock(pr.ETA) + " left"
	}
	line := fmt.Sprintf("[%d/%d %s] %s  %s elapsed%s", pr.Turn, pr.Turns, pr.Side, pr.Benchmark, clock(pr.Elapsed), eta)
	if len(line) > 100 {
		line = line[:100]
	}
	fmt.Fprintf(p.w, "\r\x1b[K%s", line)
	p.shown = true
}

// clear erases the line so the report starts on a clean line.
func (p *progressLine) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.shown = false
	}
}

// clock formats d as m:ss.
func clock(d time.Duration) string {
	s := int(d.Round(time.Second).Seconds())
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
