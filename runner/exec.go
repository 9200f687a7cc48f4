package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// RunConfig says what to run and where. Zero fields take the defaults given.
type RunConfig struct {
	// Dir is the directory of the working tree to run in (the project root). Default ".".
	Dir string
	// Package is the one package to benchmark, relative to Dir ("./sessioncore").
	Package string
	// Bench is the -bench regular expression. Default ".".
	Bench string
	// Count is the number of samples per benchmark. Default 6.
	Count int
	// Benchtime is the -benchtime value ("100ms", "1000x"). Default "" (go test's 1s).
	Benchtime string
	// Timeout is the -timeout of each test binary run (one sample of every benchmark).
	// Default 10m.
	Timeout time.Duration
	// Ref, when set, runs the benchmarks of a git worktree at this commit instead of the
	// working tree.
	Ref string
	// Against, when set, also builds the benchmarks at this git ref and runs the two
	// binaries interleaved (ref, working tree, ref, working tree, …) Count times each, so
	// machine drift hits both sides alike.
	Against string
	// Interleave says how samples are taken: InterleaveTurn (each turn runs every benchmark
	// of one side once, for Benchtime) or InterleaveBenchmark (a discarded warm-up turn per
	// side, then each sample is one benchmark alone for a fixed number of iterations that
	// lasts about Benchtime, the same on both sides; with Against the two sides' samples of
	// a benchmark run back to back, so a pair is seconds closer in time). With Against both
	// alternate the order of the sides from one round to the next (ABBA), so that a cost of
	// running second falls on both alike. Default InterleaveTurn.
	Interleave string
	// Budget, with InterleaveBenchmark, keeps taking rounds of samples after Count until
	// the sampling has run for Budget (at most 10·Count rounds): more pairs where the
	// machine allows. The stopping rule looks at the clock only, never at the samples, so
	// it does not inflate false alarms the way stopping at significance would. Default 0:
	// exactly Count rounds.
	Budget time.Duration
	// Env is added to the test binary's environment ("GOGC=off"). Default none.
	Env []string
	// Measure is MeasureTime (Go's wall-clock time per op) or MeasureInstructions (each test
	// binary runs under valgrind's callgrind and every result reports instructions/op for its
	// timed region instead of its time; see instructions.go). Instruction counts do not
	// depend on the machine's load, so their turns run in parallel, one per CPU, and always
	// by turn. Default MeasureTime.
	Measure string
	// Valgrind is the valgrind command for MeasureInstructions. Default "valgrind".
	Valgrind string
	// Progress, when non-nil, is called after every benchmark line and every turn.
	Progress func(Progress)
	// Go is the go command. Default "go".
	Go string
	// TempDir is where the run's test binaries and worktrees go (in a directory of their own,
	// removed when Run returns). Default "": the system's temporary directory.
	TempDir string
}

// Interleave values of RunConfig.
const (
	InterleaveTurn      = "turn"
	InterleaveBenchmark = "benchmark"
)

// CheckInterleave returns an error unless s is "", InterleaveTurn or InterleaveBenchmark.
func CheckInterleave(s string) error {
	switch s {
	case "", InterleaveTurn, InterleaveBenchmark:
		return nil
	}
	return fmt.Errorf("interleave %q: want %s or %s", s, InterleaveTurn, InterleaveBenchmark)
}

// Progress is what a progress line shows.
type Progress struct {
	// Turn is the 1-based run of a test binary; Turns their total (Count, or 2·Count with
	// Against).
	Turn, Turns int
	// Side is the label of the checkout being run ("working tree" or the ref).
	Side string
	// Benchmark is the name of the last benchmark that finished ("" at a turn's start).
	Benchmark string
	// Elapsed is the time since the first turn started; ETA the estimated time left
	// (0 before the first turn ends).
	Elapsed, ETA time.Duration
}

// RunResult is the output of Run.
type RunResult struct {
	// New is the parsed output of the working tree (or of Ref).
	New *Set
	// Old is the parsed output of Against (nil without Against).
	Old *Set
	// NewRaw and OldRaw are the full outputs of the test binaries, turn after turn.
	NewRaw, OldRaw []byte
	// NewLabel and OldLabel name the sides ("working tree", a ref).
	NewLabel, OldLabel string
	// ParseErrors are the lines of output benchfmt could not read (a benchmark printing to
	// stdout): kept as data, they do not stop the run.
	ParseErrors []string
	// Build is the time spent compiling test binaries; Bench the time spent running them.
	Build, Bench time.Duration
	// Paired says that Old's and New's samples were measured in pairs (interleaved wall
	// clock: sample i of each side within the same minute), so that the paired test applies.
	// Instruction counts are never paired: they do not drift with the machine, and the U test
	// needs fewer samples than the signed-rank test to reach a small p.
	Paired bool
}

// side is one checkout to build and run.
type side struct {
	label  string
	root   string // the checkout's directory corresponding to cfg.Dir
	binary string
	raw    bytes.Buffer
}

// Run builds the test binary of cfg.Package (and, with Against, of the same package at that
// ref in a temporary git worktree), runs its benchmarks Count times with -count 1 per turn
// and -benchmem, and parses the outputs. A benchmark that fails or panics appears in the
// Set's Failures; Run itself fails only when a binary cannot be built or started, or ctx
// ends.
func Run(ctx context.Context, cfg RunConfig) (*RunResult, error) {
	cfg = cfg.withDefaults()
	if strings.Contains(cfg.Package, "...") {
		return nil, fmt.Errorf("package %q: benchd runs one package per suite, not a pattern", cfg.Package)
	}
	if cfg.Package != "." && !strings.HasPrefix(cfg.Package, "./") {
		// The test binary runs in the package's directory, found relative to Dir.
		return nil, fmt.Errorf("package %q: want a directory relative to the project root, such as ./sessioncore", cfg.Package)
	}
	if cfg.Measure == MeasureInstructions {
		// Before any worktree or build: without valgrind nothing below is of use.
		if err := CheckValgrind(cfg.Valgrind); err != nil {
			return nil, err
		}
	}
	tmp, err := os.MkdirTemp(cfg.TempDir, "benchd-run-")
	if err != nil {
		return nil, fmt.Errorf("creating a temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)

	var sides []*side
	newSide := &side{label: "working tree", root: cfg.Dir}
	if cfg.Ref != "" {
		root, cleanup, err := worktree(ctx, cfg.Dir, cfg.Ref, filepath.Join(tmp, "ref"))
		if err != nil {
			return nil, err
		}
		defer cleanup()
		newSide = &side{label: cfg.Ref, root: root}
	}
	if cfg.Against != "" {
		root, cleanup, err := worktree(ctx, cfg.Dir, cfg.Against, filepath.Join(tmp, "against"))
		if err != nil {
			return nil, err
		}
		defer cleanup()
		sides = append(sides, &side{label: cfg.Against, root: root})
	}
	sides = append(sides, newSide)

	res := &RunResult{NewLabel: newSide.label, Paired: cfg.Against != "" && cfg.Measure == MeasureTime}
	start := time.Now()
	for i, s := range sides {
		s.binary = filepath.Join(tmp, "bench"+strconv.Itoa(i)+".test")
		if err := build(ctx, cfg, s); err != nil {
			return nil, err
		}
	}
	res.Build = time.Since(start)

	start = time.Now()
	if err := runTurns(ctx, cfg, sides, start); err != nil {
		return nil, err
	}
	res.Bench = time.Since(start)

	var perr error
	res.New, perr = Parse(bytes.NewReader(newSide.raw.Bytes()), newSide.label)
	res.NewRaw = newSide.raw.Bytes()
	res.ParseErrors = appendErrs(res.ParseErrors, perr)
	if cfg.Against != "" {
		old := sides[0]
		res.Old, perr = Parse(bytes.NewReader(old.raw.Bytes()), old.label)
		res.OldRaw, res.OldLabel = old.raw.Bytes(), old.label
		res.ParseErrors = appendErrs(res.ParseErrors, perr)
	}
	for _, set := range []*Set{res.New, res.Old} {
		if set != nil {
			set.Failures = dedupeFailures(set.Failures)
		}
	}
	return res, nil
}

// runTurns runs the sides' binaries Count times each, interleaved as cfg says.
func runTurns(ctx context.Context, cfg RunConfig, sides []*side, start time.Time) error {
	// order is the sides of round r: reversed every other round (ABBA).
	order := func(r int) []*side {
		if r%2 == 0 || len(sides) < 2 {
			return sides
		}
		return []*side{sides[1], sides[0]}
	}
	if cfg.Measure == MeasureInstructions {
		return runCountedTurns(ctx, cfg, sides, order, start)
	}
	if cfg.Interleave != InterleaveBenchmark {
		turns := cfg.Count * len(sides)
		turn := 0
		for r := range cfg.Count {
			for _, s := range order(r) {
				turn++
				if err := runTurn(ctx, cfg, s, cfg.Bench, cfg.Benchtime, turn, turns, start); err != nil {
					return err
				}
			}
		}
		return nil
	}
	// Benchmark at a time: a warm-up turn per side (discarded) names the benchmarks and
	// measures their time per op; then every sample is one benchmark alone, run for a
	// fixed number of iterations — the same on both sides — that lasts about the suite's
	// benchtime, both sides back to back.
	var warm []*side
	for _, s := range sides {
		warm = append(warm, &side{label: s.label, root: s.root, binary: s.binary})
	}
	turns := len(sides)
	turn := 0
	for _, s := range warm {
		turn++
		if err := runTurn(ctx, cfg, s, cfg.Bench, cfg.Benchtime, turn, turns, start); err != nil {
			return err
		}
	}
	type bench struct {
		name, benchtime string
	}
	var benches []bench
	perOp := map[string][]float64{}
	var names []string
	for _, s := range warm {
		set, _ := Parse(bytes.NewReader(s.raw.Bytes()), s.label)
		for _, r := range set.Results {
			if r.Unit != "sec/op" {
				continue
			}
			if _, ok := perOp[r.Name]; !ok {
				names = append(names, r.Name)
			}
			perOp[r.Name] = append(perOp[r.Name], r.Samples...)
		}
		// The warm-up's results are dropped, its failures (and config lines) kept.
		sides[slices.Index(warm, s)].raw.Write(withoutResults(s.raw.Bytes()))
	}
	for _, n := range names {
		benches = append(benches, bench{n, fixedBenchtime(cfg.Benchtime, perOp[n])})
	}
	perRound := len(sides) * len(benches)
	turns += cfg.Count * perRound
	sampling := time.Now()
	for r := 0; r < cfg.Count || (cfg.Budget > 0 && time.Since(sampling) < cfg.Budget && r < 10*cfg.Count); r++ {
		if r >= cfg.Count {
			// Beyond Count: one more round, as long as the budget lasts (the ETA grows).
			turns = max(turns, len(sides)+(r+1)*perRound)
		}
		for _, b := range benches {
			for _, s := range order(r) {
				turn++
				if err := runTurn(ctx, cfg, s, BenchRegexp(b.name), b.benchtime, turn, turns, start); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// fixedBenchtime is the -benchtime of one sample of a benchmark whose warm-up measured
// perOp seconds per op: benchtime itself when it is a count ("1000x"), else the count of
// ops that lasts benchtime (100ms when "") at the warm-up's mean time per op, at least 1.
func fixedBenchtime(benchtime string, perOp []float64) string {
	if strings.HasSuffix(benchtime, "x") {
		return benchtime
	}
	d := 100 * time.Millisecond
	if benchtime != "" {
		if v, err := time.ParseDuration(benchtime); err == nil {
			d = v
		}
	}
	mean := 0.0
	for _, v := range perOp {
		mean += v / float64(len(perOp))
	}
	if !(mean > 0) {
		return benchtime
	}
	return strconv.Itoa(max(1, int(math.Round(d.Seconds()/mean)))) + "x"
}

// withoutResults returns raw without its result lines ("BenchmarkX-2  100  12 ns/op …").
func withoutResults(raw []byte) []byte {
	var out []byte
	for _, l := range bytes.SplitAfter(raw, []byte("\n")) {
		if bytes.HasPrefix(l, []byte("Benchmark")) && bytes.Contains(l, []byte(" ns/op")) {
			continue
		}
		out = append(out, l...)
	}
	return out
}

func (c RunConfig) withDefaults() RunConfig {
	if c.Dir == "" {
		c.Dir = "."
	}
	if c.Bench == "" {
		c.Bench = "."
	}
	if c.Count <= 0 {
		c.Count = 6
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Minute
	}
	if c.Go == "" {
		c.Go = "go"
	}
	if c.Package == "" {
		c.Package = "."
	}
	if c.Measure == "" {
		c.Measure = MeasureTime
	}
	if c.Valgrind == "" {
		c.Valgrind = "valgrind"
	}
	return c
}

// build compiles s's test binary with `go test -c`.
func build(ctx context.Context, cfg RunConfig, s *side) error {
	args, err := buildArgs(ctx, cfg, s)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, cfg.Go, args...)
	cmd.Dir = s.root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("building the benchmarks of %s in the %s: %w\n%s", cfg.Package, s.label, err, bytes.TrimSpace(out))
	}
	if _, err := os.Stat(s.binary); err != nil {
		return fmt.Errorf("building the benchmarks of %s in the %s: package has no test files", cfg.Package, s.label)
	}
	return nil
}

// runTurn runs s's binary once (-count 1), appending its output to s.raw. A non-zero exit
// is not an error: the output says which benchmark failed.
func runTurn(ctx context.Context, cfg RunConfig, s *side, bench, benchtime string, turn, turns int, start time.Time) error {
	report := progressReporter(cfg, s, turn, turns, start)
	report("")
	return runBinary(ctx, cfg, s, &s.raw, bench, benchtime, report, nil, nil)
}

// progressReporter returns the function that reports the progress of one turn.
func progressReporter(cfg RunConfig, s *side, turn, turns int, start time.Time) func(string) {
	return func(bench string) {
		if cfg.Progress == nil {
			return
		}
		el := time.Since(start)
		p := Progress{Turn: turn, Turns: turns, Side: s.label, Benchmark: bench, Elapsed: el}
		if turn > 1 {
			p.ETA = time.Duration(float64(el) / float64(turn-1) * float64(turns-turn+1))
		}
		cfg.Progress(p)
	}
}

// runBinary runs s's test binary once with the given -bench and -benchtime, writing its
// output to dst and calling report with the name of every benchmark that prints a result.
// A non-empty wrap is a command line that runs the binary (valgrind and its options); env
// is added to the environment after cfg.Env.
func runBinary(ctx context.Context, cfg RunConfig, s *side, dst *bytes.Buffer, bench, benchtime string, report func(string), wrap, env []string) error {
	args := []string{s.binary, "-test.run", "^$", "-test.bench", bench, "-test.benchmem", "-test.count", "1",
		"-test.timeout", cfg.Timeout.String()}
	if benchtime != "" {
		args = append(args, "-test.benchtime", benchtime)
	}
	args = append(slices.Clip(wrap), args...)
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = filepath.Join(s.root, cfg.Package) // tests run in their package directory
	if extra := append(slices.Clip(cfg.Env), env...); len(extra) > 0 {
		cmd.Env = append(os.Environ(), extra...)
	}
	w := &lineWriter{buf: dst, line: func(l []byte) {
		if bytes.HasPrefix(l, []byte("Benchmark")) {
			if f := bytes.Fields(l); len(f) >= 3 {
				name, _ := splitName(string(f[0]))
				report(name)
			}
		}
	}}
	cmd.Stdout, cmd.Stderr = w, w
	err := cmd.Run()
	w.flush()
	if ctx.Err() != nil {
		return fmt.Errorf("running the benchmarks of %s in the %s: %w", cfg.Package, s.label, ctx.Err())
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return fmt.Errorf("running the benchmarks of %s in the %s: %w", cfg.Package, s.label, err)
	}
	if dst.Len() > 0 && dst.Bytes()[dst.Len()-1] != '\n' {
		dst.WriteByte('\n')
	}
	return nil
}

// worktree checks out ref into dir with `git worktree add --detach` and returns the
// directory corresponding to projectDir inside it, and a function that removes it.
func worktree(ctx context.Context, projectDir, ref, dir string) (string, func(), error) {
	top, err := gitOut(ctx, projectDir, "rev-parse", "--show-toplevel")
	if err != nil {
		return "", nil, fmt.Errorf("finding the git repository of %s: %w", projectDir, err)
	}
	absDir, err := filepath.Abs(projectDir)
	if err != nil {
		return "", nil, fmt.Errorf("resolving %s: %w", projectDir, err)
	}
	absDir, _ = filepath.EvalSymlinks(absDir)
	top, _ = filepath.EvalSymlinks(top)
	rel, err := filepath.Rel(top, absDir)
	if err != nil {
		return "", nil, fmt.Errorf("locating %s in %s: %w", projectDir, top, err)
	}
	// A run killed before its cleanup leaves a registered worktree whose directory is gone.
	_, _ = gitOut(ctx, projectDir, "worktree", "prune")
	if _, err := gitOut(ctx, projectDir, "worktree", "add", "--detach", "--quiet", dir, ref); err != nil {
		return "", nil, fmt.Errorf("checking out %s in a git worktree: %w", ref, err)
	}
	cleanup := func() {
		// A fresh context: the worktree must go even when ctx was cancelled.
		_, _ = gitOut(context.Background(), projectDir, "worktree", "remove", "--force", dir)
	}
	return filepath.Join(dir, rel), cleanup, nil
}

// gitOut runs git in dir and returns its trimmed stdout.
func gitOut(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return strings.TrimSpace(string(out)), nil
}

// lineWriter appends everything to buf and calls line for every complete line.
type lineWriter struct {
	buf     *bytes.Buffer
	line    func([]byte)
	partial []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf.Write(p)
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		w.line(w.partial[:i])
		w.partial = w.partial[i+1:]
	}
	return len(p), nil
}

func (w *lineWriter) flush() {
	if len(w.partial) > 0 {
		w.line(w.partial)
		w.partial = nil
	}
}

var _ io.Writer = (*lineWriter)(nil)

// appendErrs appends the lines of a joined parse error.
func appendErrs(dst []string, err error) []string {
	if err == nil {
		return dst
	}
	return append(dst, strings.Split(err.Error(), "\n")...)
}

// dedupeFailures keeps the first failure of each benchmark and kind: with one binary run per
// turn, a broken benchmark fails in every turn.
func dedupeFailures(fs []Failure) []Failure {
	type key struct {
		name string
		kind FailureKind
	}
	seen := make(map[key]bool)
	var out []Failure
	for _, f := range fs {
		k := key{f.Name, f.Kind}
		if !seen[k] {
			seen[k] = true
			out = append(out, f)
		}
	}
	return out
}
