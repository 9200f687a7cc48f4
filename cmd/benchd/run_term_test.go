package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/benchd/benchd/runner"
)

func TestProgressLine(t *testing.T) {
	var b bytes.Buffer
	p := &progressLine{w: &b}
	p.update(runner.Progress{Turn: 3, Turns: 12, Side: "main", Benchmark: "Create/n=100", Elapsed: 14 * time.Second, ETA: 65 * time.Second})
	want := "\r\x1b[K[3/12 main] Create/n=100  0:14 elapsed, ~1:05 left"
	if b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
	b.Reset()
	p.clear()
	p.clear()
	if b.String() != "\r\x1b[K" {
		t.Errorf("clear wrote %q, want one erase", b.String())
	}
	if isTerminal(&b) {
		t.Error("a buffer is not a terminal")
	}
}

// TestRunSilentWhenNotATerminal checks that run writes nothing but the report when stderr
// is not a terminal (CI logs stay clean).
func TestRunSilentWhenNotATerminal(t *testing.T) {
	if testing.Short() {
		t.Skip("runs benchmarks")
	}
	dir := fixture(t)
	out, stderr, code := invoke(t, "", nil, "run", "--dir", dir, "--bench", "Sum", "--count", "1", "--benchtime", "100x", "--format", "markdown")
	if code != 0 || stderr != "" {
		t.Errorf("got exit %d and stderr %q, want 0 and nothing", code, stderr)
	}
	if !strings.HasPrefix(out, "### benchd:") {
		t.Errorf("got %q, want a markdown report", out)
	}
}
