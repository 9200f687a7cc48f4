package runner

import (
	"bytes"
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// needValgrind skips the test without valgrind, except in CI, where .ci/run installs it.
func needValgrind(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs benchmarks under valgrind")
	}
	if err := CheckValgrind("valgrind"); err != nil && os.Getenv("CI") != "" {
		t.Fatal(err, " (.ci/run installs valgrind)")
	} else if err != nil {
		t.Skip(err)
	}
}

func TestMarkBenchmarkSourceOfThisGo(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(runtime.GOROOT(), "src", "testing", "benchmark.go"))
	if err != nil {
		t.Skip("no testing source: ", err)
	}
	out, err := markBenchmarkSource(string(src))
	if err != nil {
		t.Fatalf("this Go's testing package cannot be instrumented: %v", err)
	}
	for _, k := range []string{"'s'", "'p'", "'r'", "'e'"} {
		if n := strings.Count(out, "benchdMark(b, "+k+")"); n != 1 {
			t.Errorf("mark %s inserted %d times, want 1", k, n)
		}
	}
	// StartTimer marks after it reads the memory statistics, StopTimer before.
	start := out[strings.Index(out, "func (b *B) StartTimer() {"):]
	start = start[:strings.Index(start, "\n}\n")]
	if strings.Index(start, "benchdMark") < strings.Index(start, "ReadMemStats") {
		t.Errorf("StartTimer marks before ReadMemStats:\n%s", start)
	}
	stop := out[strings.Index(out, "func (b *B) StopTimer() {"):]
	stop = stop[:strings.Index(stop, "\n}\n")]
	if strings.Index(stop, "benchdMark") > strings.Index(stop, "ReadMemStats") {
		t.Errorf("StopTimer marks after ReadMemStats:\n%s", stop)
	}
}

func TestMarkBenchmarkSourceRefusesAnUnknownTestingPackage(t *testing.T) {
	src := "package testing\n\nfunc (b *B) StartTimer() {\n\tb.started = true\n}\n"
	_, err := markBenchmarkSource(src)
	if err == nil || !strings.Contains(err.Error(), "b.timerOn = true") {
		t.Fatalf("err = %v, want one naming the missing anchor", err)
	}
}

// dumps builds a dump sequence from "kind n name ir" quadruples: ir is what ran before the event.
func dumps(evs ...string) []cgDump {
	var out []cgDump
	for _, e := range evs {
		f := strings.SplitN(e, "|", 2)
		var ir uint64
		for _, c := range f[1] {
			ir = ir*10 + uint64(c-'0')
		}
		out = append(out, cgDump{trigger: f[0], ir: ir})
	}
	return out
}

func TestTimedInstructionsReplaysTheTimer(t *testing.T) {
	d := dumps(
		"benchd r 1 Main|100", "benchd s 1 Main|5",
		// A parent whose only sub-benchmark runs b.N-style twice (n=1, then n=50).
		"benchd r 1 BenchmarkP|7", "benchd s 1 BenchmarkP|3",
		"benchd r 1 BenchmarkP/c|1000", "benchd s 1 BenchmarkP/c|2",
		"benchd r 1 BenchmarkP/c|400", // setup, then b.ResetTimer: discarded
		"benchd p 1 BenchmarkP/c|30", "benchd e 1 BenchmarkP/c|9",
		"benchd r 50 BenchmarkP/c|1000", "benchd s 50 BenchmarkP/c|2",
		"benchd p 50 BenchmarkP/c|1500", // 30 an op
		"benchd e 50 BenchmarkP/c|9",
		"benchd p 1 BenchmarkP|4", "benchd e 1 BenchmarkP|3",
		// A b.Loop benchmark that stops its timer for a refill inside the loop.
		"benchd r 1 BenchmarkL|8", "benchd s 1 BenchmarkL|2",
		"benchd r 0 BenchmarkL|70",                                 // b.Loop's first call
		"benchd p 0 BenchmarkL|600", "benchd s 0 BenchmarkL|99999", // the refill
		"benchd p 0 BenchmarkL|400", // loop ends: b.N = 10 from here
		"benchd e 10 BenchmarkL|5",
		"benchd p 1 Main|4", "benchd e 1 Main|6", "Program termination|77",
	)
	got, err := timedInstructions(d)
	if err != nil {
		t.Fatal(err)
	}
	if c := got["BenchmarkP/c"]; c != (timedCount{1500, 50}) {
		t.Errorf("BenchmarkP/c = %+v, want its last run: 1500 instructions over 50 ops", c)
	}
	if c := got["BenchmarkL"]; c != (timedCount{1000, 10}) {
		t.Errorf("BenchmarkL = %+v, want 600+400 timed instructions (not the refill) over 10 ops", c)
	}
	if _, err := timedInstructions(dumps("benchd x|1")); err == nil {
		t.Error("a malformed event was accepted")
	}
}

func TestWithInstructionsRewritesResultLines(t *testing.T) {
	raw := "goos: linux\nBenchmarkHash/n=1000\t200\t812 ns/op\t1.23 MB/s\t1231 bytes/s\t4096 B/op\t2 allocs/op\t8.0 ns/session\t3.0 full/op\nPASS\n"
	out, err := withInstructions([]byte(raw), map[string]timedCount{"BenchmarkHash/n=1000": {ir: 800000, n: 200}})
	if err != nil {
		t.Fatal(err)
	}
	want := "goos: linux\nmeasure: instructions (callgrind, GOMAXPROCS=1 GOGC=off)\nUnit instructions/op better=lower\nBenchmarkHash/n=1000\t200\t4000.0 instructions/op\t4096 B/op\t2 allocs/op\t3.0 full/op\nPASS\n"
	if string(out) != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
	if _, err := withInstructions([]byte(raw), map[string]timedCount{"BenchmarkHash/n=1000": {ir: 1, n: 3}}); err == nil {
		t.Error("a count of another run (n=3, line says 200) was used")
	}
}

func TestTimeUnit(t *testing.T) {
	for u, want := range map[string]bool{"ns/op": true, "sec/op": true, "ns/session": true, "sessions/s": true,
		"MB/s": true, "B/op": false, "allocs/op": false, "B/session": false, "instructions/op": false, "full/op": false} {
		if got := timeUnit(u); got != want {
			t.Errorf("timeUnit(%q) = %v, want %v", u, got, want)
		}
	}
}

// TestInstructionsOfTheFixture runs the fixture's benchmarks under callgrind, as
// `benchd run --measure instructions` does, and checks what the figures say: Sum's loop of
// 1000 costs ten times its loop of 100, each within 10% from turn to turn (typically 1–3%:
// what varies is the runtime's own background work, which grows with the wall time a run
// takes under valgrind), and no time is reported.
func TestInstructionsOfTheFixture(t *testing.T) {
	needValgrind(t)
	res, err := Run(context.Background(), RunConfig{Dir: "testdata/fixture", Package: ".", Count: 3, Benchtime: "100ms",
		Measure: MeasureInstructions})
	if err != nil {
		t.Fatal(err)
	}
	get := func(name, unit string) []float64 {
		for _, r := range res.New.Results {
			if r.Name == name && r.Unit == unit {
				return r.Samples
			}
		}
		t.Fatalf("no %s %s in\n%s", name, unit, res.NewRaw)
		return nil
	}
	for _, r := range res.New.Results {
		if timeUnit(r.Unit) {
			t.Errorf("%s reports %s under valgrind", r.Name, r.Unit)
		}
	}
	small, big := get("Sum/n=100", InstructionsUnit), get("Sum/n=1000", InstructionsUnit)
	if len(big) != 3 {
		t.Fatalf("%d samples, want 3", len(big))
	}
	for _, s := range [][]float64{small, big} {
		lo, hi := s[0], s[0]
		for _, v := range s {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		if hi/lo > 1.10 {
			t.Errorf("instruction counts spread %.1f%% from turn to turn: %v", 100*(hi/lo-1), s)
		}
	}
	if r := median(big) / median(small); r < 8 || r > 11 {
		t.Errorf("Sum/n=1000 / Sum/n=100 = %.2f instructions, want ≈ 10 (the loop is 10× longer)", r)
	}
	if v := median(big); v < 1000 || v > 10000 {
		t.Errorf("Sum/n=1000 = %.0f instructions/op, want 1–10 per iteration of its loop", v)
	}
	if a := get("Fill/n=1000", "allocs/op"); a[0] != 0 {
		t.Errorf("Fill allocs/op = %v, want 0 (its slice stays on the stack): the timer's marks must not allocate", a)
	}
	if !bytes.Contains(res.NewRaw, []byte("Unit instructions/op better=lower")) {
		t.Error("the output does not declare instructions/op lower-better")
	}
	if res.Paired {
		t.Error("instruction counts are marked paired")
	}
}

// TestInstrumentedBinaryRunsNatively: outside valgrind the marks are no-ops; the instrumented
// binary prints the same benchmarks and units as a plain one.
func TestInstrumentedBinaryRunsNatively(t *testing.T) {
	if testing.Short() {
		t.Skip("builds test binaries")
	}
	if runtime.GOARCH != "amd64" {
		t.Skip("instruction counting is amd64 only")
	}
	dir := t.TempDir()
	shape := func(measure string) string {
		s := &side{label: measure, root: "testdata/fixture", binary: filepath.Join(dir, measure+".test")}
		cfg := RunConfig{Dir: "testdata/fixture", Package: ".", Measure: measure}.withDefaults()
		if err := build(context.Background(), cfg, s); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(s.binary, "-test.run", "^$", "-test.bench", ".", "-test.benchmem", "-test.benchtime", "100x").CombinedOutput()
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		set, err := Parse(bytes.NewReader(out), measure)
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, r := range set.Results {
			keys = append(keys, r.Name+" "+r.Unit)
		}
		return strings.Join(keys, ", ")
	}
	plain, marked := shape(MeasureTime), shape(MeasureInstructions)
	if plain != marked || !strings.Contains(plain, "Hash/n=1000 sec/op") {
		t.Errorf("instrumented binary's results differ from a plain one's:\n%s\n%s", marked, plain)
	}
}
