package runner

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/perf/benchunit"
)

// This file is the instruction-counting measurement (RunConfig.Measure = MeasureInstructions,
// `benchd run --measure instructions`): each test binary runs under valgrind's callgrind,
// which counts the instructions the program executes, and every benchmark's result line gets
// an instructions/op figure for its timed region in place of its time.
//
// Note: written here, not taken from a library, because no Go library reads callgrind's
// per-event dumps, and what is needed is small: the summary line of each dump and the
// testing package's timer semantics, replayed below.
//
// Why: an instruction count does not depend on what else the machine is doing. On this
// project's shared 2-vCPU machines a wall-clock sample of Create/n=100 varies by ±16% from one
// pair to the next; its instruction count varies by well under 1% (docs/methodology.md). The
// price: it counts work, not time — a change that only makes memory accesses slower (cache
// misses, contention between cores, a lock held longer) does not change it — and the program
// runs ~50× slower under valgrind.

// Measure values of RunConfig.
const (
	// MeasureTime is Go's wall-clock time per op (the default).
	MeasureTime = "time"
	// MeasureInstructions is callgrind's count of executed instructions per op.
	MeasureInstructions = "instructions"
)

// InstructionsUnit is the unit of the instruction counts.
const InstructionsUnit = "instructions/op"

// measureConfig is the config line that says, in the output and every report of it, what
// was measured and how.
const measureConfig = "measure: instructions (callgrind, GOMAXPROCS=1 GOGC=off)"

// CheckMeasure returns an error unless s is "", MeasureTime or MeasureInstructions.
func CheckMeasure(s string) error {
	switch s {
	case "", MeasureTime, MeasureInstructions:
		return nil
	}
	return fmt.Errorf("measure %q: want %s or %s", s, MeasureTime, MeasureInstructions)
}

// instructionsEnv is the environment of a test binary under callgrind:
//   - GOMAXPROCS=1: one thread runs Go code at a time, as valgrind runs them anyway, and no
//     idle thread spins looking for work (spinning adds instructions that depend on timing);
//   - GOGC=off: the collector's pacing depends on time (its CPU share, the assist ratio), so
//     with it the count of a 20 ms sample varied by ±3.5%, without it by ±0.3% — allocation
//     still counts (the allocator runs), and B/op and allocs/op are reported beside it; a
//     benchmark that calls runtime.GC still collects. GOMEMLIMIT keeps a runaway benchmark
//     from filling the machine (the collector then runs when the heap nears it);
//   - GODEBUG=asyncpreemptoff=1: callgrind aborts on the signals Go's asynchronous
//     preemption sends (valgrind 3.19: "Assertion 'sigNum == ...' failed").
var instructionsEnv = []string{"GOMAXPROCS=1", "GOGC=off", "GOMEMLIMIT=8GiB", "GODEBUG=asyncpreemptoff=1"}

// callgrindArgs returns valgrind's options (before the test binary and its arguments): count
// with callgrind, and write its dumps and its own messages under dir. The dumps are the
// instrumented testing package's (see instrumentTesting): one at every timer event.
func callgrindArgs(dir string) []string {
	return []string{"--tool=callgrind", "--dump-instr=no", "--dump-line=no",
		"--callgrind-out-file=" + filepath.Join(dir, "cg"),
		"--log-file=" + filepath.Join(dir, "valgrind.log")}
}

// cgDump is one of callgrind's dumps: the event that triggered it ("benchd K N NAME" for the
// instrumented testing package's, see benchdMark) and the instructions executed since the
// previous dump.
type cgDump struct {
	trigger string
	ir      uint64
}

// readDumps reads the dumps callgrind wrote under dir (cg.1, cg.2, …, then cg at exit), in
// order. Only each file's header is read: its trigger and its summary line.
func readDumps(dir string) ([]cgDump, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	type file struct {
		part int
		name string
	}
	var files []file
	for _, e := range ents {
		n := e.Name()
		switch {
		case n == "cg":
			files = append(files, file{1 << 62, n}) // written at termination: last
		case strings.HasPrefix(n, "cg."):
			p, err := strconv.Atoi(n[3:])
			if err != nil {
				continue
			}
			files = append(files, file{p, n})
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].part < files[j].part })
	dumps := make([]cgDump, 0, len(files))
	for _, f := range files {
		d, err := readDumpHeader(filepath.Join(dir, f.name))
		if err != nil {
			return nil, err
		}
		dumps = append(dumps, d)
	}
	return dumps, nil
}

func readDumpHeader(path string) (cgDump, error) {
	f, err := os.Open(path)
	if err != nil {
		return cgDump{}, err
	}
	defer f.Close()
	var d cgDump
	sc := bufio.NewScanner(f)
	for i := 0; i < 64 && sc.Scan(); i++ {
		l := sc.Text()
		if t, ok := strings.CutPrefix(l, "desc: Trigger: "); ok {
			d.trigger = strings.TrimPrefix(t, "Client Request: ")
		}
		if s, ok := strings.CutPrefix(l, "summary: "); ok {
			v, err := strconv.ParseUint(strings.Fields(s)[0], 10, 64)
			if err != nil {
				return d, fmt.Errorf("%s: summary %q: %w", path, s, err)
			}
			d.ir = v
			return d, nil
		}
	}
	if err := sc.Err(); err != nil {
		return d, err
	}
	return d, fmt.Errorf("%s: no summary line in the callgrind dump", path)
}

// timedCount is the instructions a benchmark's timer saw in its last run, and that run's b.N.
type timedCount struct {
	ir uint64
	n  int64
}

// timedInstructions replays the testing package's timer over the dumps and returns, per
// benchmark name (b.Name(): "BenchmarkCreate/n=100"), the instructions executed while its
// timer was on in its last run — the run whose b.N the result line reports. The events are
// benchdMark's: s (StartTimer turned the timer on), p (StopTimer is turning it off), r
// (ResetTimer discarded what was timed) and e (a run ended, with its b.N). Instructions
// between two dumps count for every benchmark whose timer is on: a parent's includes its
// sub-benchmarks', but a parent prints no result line.
func timedInstructions(dumps []cgDump) (map[string]timedCount, error) {
	on := map[string]bool{}
	acc := map[string]uint64{}
	out := map[string]timedCount{}
	for _, d := range dumps {
		for name := range on {
			acc[name] += d.ir // executed between the previous event and this one
		}
		rest, ok := strings.CutPrefix(d.trigger, "benchd ")
		if !ok {
			continue // the dump at the program's end
		}
		f := strings.SplitN(rest, " ", 3)
		if len(f) != 3 || len(f[0]) != 1 {
			return nil, fmt.Errorf("callgrind dump described %q: not a benchd event", d.trigger)
		}
		name := f[2]
		switch f[0][0] {
		case 's':
			on[name] = true
		case 'p':
			delete(on, name)
		case 'r':
			acc[name] = 0
		case 'e':
			n, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("callgrind dump described %q: %w", d.trigger, err)
			}
			out[name] = timedCount{acc[name], n}
		}
	}
	return out, nil
}

// timeUnit reports whether a unit is a time or a rate per time (sec/op, ns/session,
// sessions/s, MB/s): figures that mean nothing under valgrind, which runs the program ~50×
// slower.
func timeUnit(unit string) bool {
	_, u := benchunit.Tidy(1, unit)
	num, per, _ := strings.Cut(u, "/")
	return num == "sec" || per == "s" || strings.HasSuffix(u, "/s")
}

// withInstructions rewrites the output of one test binary run under callgrind: each result
// line's time and time-derived metrics are replaced by its timed region's instruction count
// per op; the other metrics (B/op, allocs/op, B/session …) stay. counts are the run's
// timedInstructions. A config line saying what was measured and a Unit line declaring
// instructions/op lower-better precede the first result line.
func withInstructions(raw []byte, counts map[string]timedCount) ([]byte, error) {
	var out bytes.Buffer
	unitLine := false
	for _, l := range bytes.SplitAfter(raw, []byte("\n")) {
		f := strings.Fields(string(l))
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			out.Write(l)
			continue
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || n <= 0 {
			out.Write(l)
			continue
		}
		name := f[0]
		if _, procs := splitName(name); procs > 0 {
			name = name[:strings.LastIndexByte(name, '-')]
		}
		c, ok := counts[name]
		if !ok || c.n != n {
			return nil, fmt.Errorf("instruction counts: no count for %s's run of %d iterations (is the test binary built with benchd's instrumented testing package?)", name, n)
		}
		if !unitLine {
			out.WriteString(measureConfig + "\nUnit " + InstructionsUnit + " better=lower\n")
			unitLine = true
		}
		fmt.Fprintf(&out, "%s\t%d\t%.1f %s", f[0], n, float64(c.ir)/float64(n), InstructionsUnit)
		for j := 2; j+1 < len(f); j += 2 {
			if timeUnit(f[j+1]) {
				continue
			}
			fmt.Fprintf(&out, "\t%s %s", f[j], f[j+1])
		}
		out.WriteByte('\n')
	}
	return out.Bytes(), nil
}

// CheckValgrind returns nil when instructions can be counted here: valgrind (the command
// named) is on the PATH and this is amd64; else an error wrapping ErrNoValgrind, or saying
// which architecture is missing.
func CheckValgrind(valgrind string) error {
	if runtime.GOARCH != "amd64" {
		return fmt.Errorf("counting instructions works on amd64 only, not %s", runtime.GOARCH)
	}
	if _, err := exec.LookPath(valgrind); err != nil {
		return fmt.Errorf("%w: %v", ErrNoValgrind, err)
	}
	return nil
}

// ErrNoValgrind is returned when instruction counting is asked for without valgrind.
var ErrNoValgrind = errors.New("counting instructions needs valgrind (Debian: apt-get install valgrind)")

// runCountedTurns runs cfg.Count turns per side under callgrind, the sides in the order
// order gives each round, up to one turn per CPU at a time (the counts do not depend on the
// load, so a turn need not have the machine to itself), and appends each turn's rewritten
// output to its side in turn order.
func runCountedTurns(ctx context.Context, cfg RunConfig, sides []*side, order func(int) []*side, start time.Time) error {
	type job struct {
		turn int
		s    *side
		out  bytes.Buffer
		err  error
	}
	var jobs []*job
	for r := range cfg.Count {
		for _, s := range order(r) {
			jobs = append(jobs, &job{turn: len(jobs) + 1, s: s})
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex // serialises Progress calls
	pcfg := cfg
	if cfg.Progress != nil {
		pcfg.Progress = func(p Progress) {
			mu.Lock()
			defer mu.Unlock()
			cfg.Progress(p)
		}
	}
	sem := make(chan struct{}, max(1, runtime.NumCPU()))
	var wg sync.WaitGroup
	for _, j := range jobs {
		sem <- struct{}{}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			j.err = runCounted(ctx, pcfg, j.s, &j.out, j.turn, len(jobs), start)
			if j.err != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	for _, j := range jobs {
		if j.err != nil {
			return j.err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, j := range jobs {
		j.s.raw.Write(j.out.Bytes())
	}
	return nil
}

// runCounted runs one turn of s under callgrind into dst: every benchmark of the suite for
// the suite's benchtime (of valgrind's clock), its result lines rewritten to instructions/op.
func runCounted(ctx context.Context, cfg RunConfig, s *side, dst *bytes.Buffer, turn, turns int, start time.Time) error {
	dir, err := os.MkdirTemp(cfg.TempDir, "benchd-callgrind-")
	if err != nil {
		return fmt.Errorf("creating a directory for callgrind: %w", err)
	}
	defer os.RemoveAll(dir)
	report := progressReporter(cfg, s, turn, turns, start)
	report("")
	var raw bytes.Buffer
	wrap := append([]string{cfg.Valgrind}, callgrindArgs(dir)...)
	if err := runBinary(ctx, cfg, s, &raw, cfg.Bench, cfg.Benchtime, report, wrap, instructionsEnv); err != nil {
		return err
	}
	dumps, err := readDumps(dir)
	if err == nil {
		var counts map[string]timedCount
		if counts, err = timedInstructions(dumps); err == nil {
			var out []byte
			if out, err = withInstructions(raw.Bytes(), counts); err == nil {
				dst.Write(out)
				return nil
			}
		}
	}
	log, _ := os.ReadFile(filepath.Join(dir, "valgrind.log"))
	return fmt.Errorf("counting the instructions of %s in the %s: %w\n%s%s", cfg.Package, s.label, err,
		lastLines(raw.Bytes(), 10), lastLines(log, 20))
}

// lastLines returns the last n lines of b.
func lastLines(b []byte, n int) []byte {
	b = bytes.TrimRight(b, "\n")
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '\n' {
			if n--; n == 0 {
				return append(b[i+1:len(b):len(b)], '\n')
			}
		}
	}
	if len(b) == 0 {
		return nil
	}
	return append(b[:len(b):len(b)], '\n')
}
