package runner

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"testing"
	"time"
)

// TestRunnerOverhead measures the runner's own cost beyond `go test` (issue 4: under 5% of a
// suite's wall time). It alternates, BENCHD_OVERHEAD_ROUNDS times (default 6), the plain
// command a developer would type —
//
//	go test -run '^$' -bench RE -benchmem -count N [-benchtime T] PKG
//
// — with what `benchd run` does for the same suite: Run (go test -c, then the binary once per
// sample), Parse, NewReport and WriteText, and compares the medians of the two wall times. The
// alternation makes drift hit both alike. BENCHD_OVERHEAD=quick measures the session core's
// quick suite (../benchd.yaml) in a temporary copy; BENCHD_OVERHEAD=fixture the runner's
// fixture. It fails above 5%.
func TestRunnerOverhead(t *testing.T) {
	which := os.Getenv("BENCHD_OVERHEAD")
	if which == "" {
		t.Skip("set BENCHD_OVERHEAD=quick (the session core's quick suite, minutes) or BENCHD_OVERHEAD=fixture to measure the runner's overhead")
	}
	rounds := envPositive(t, "BENCHD_OVERHEAD_ROUNDS", 6)
	proj, cfg := measuredSuite(t, "BENCHD_OVERHEAD", which)
	cfg = cfg.withDefaults()
	rules, err := NewRules(proj.Thresholds)
	if err != nil {
		t.Fatal(err)
	}
	goTest := func() time.Duration {
		args := []string{"test", "-run", "^$", "-bench", cfg.Bench, "-benchmem", "-count", strconv.Itoa(cfg.Count), "-timeout", cfg.Timeout.String()}
		if cfg.Benchtime != "" {
			args = append(args, "-benchtime", cfg.Benchtime)
		}
		cmd := exec.Command("go", append(args, cfg.Package)...)
		cmd.Dir = cfg.Dir
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		if err := cmd.Run(); err != nil {
			t.Fatalf("go test: %v\n%s", err, out.Bytes())
		}
		return time.Since(start)
	}
	var build, bench, rest []time.Duration
	benchd := func() time.Duration {
		start := time.Now()
		res, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		res.New.SetUnits(proj.Units)
		rep := NewReport(nil, res.New, "", res.NewLabel, rules, proj.Options)
		if err := WriteText(io.Discard, rep, TextOptions{}); err != nil {
			t.Fatal(err)
		}
		d := time.Since(start)
		build, bench, rest = append(build, res.Build), append(bench, res.Bench), append(rest, d-res.Build-res.Bench)
		return d
	}
	goTest() // warm the build cache for both
	var plain, runner []time.Duration
	for round := 1; round <= rounds; round++ {
		// Alternate which goes first, so neither always follows the other.
		if round%2 == 1 {
			plain = append(plain, goTest())
			runner = append(runner, benchd())
		} else {
			runner = append(runner, benchd())
			plain = append(plain, goTest())
		}
		t.Logf("round %d: go test %v, runner %v (build %v, benchmarks %v, parse+report+cleanup %v)", round,
			plain[len(plain)-1].Round(time.Millisecond), runner[len(runner)-1].Round(time.Millisecond),
			build[len(build)-1].Round(time.Millisecond), bench[len(bench)-1].Round(time.Millisecond), rest[len(rest)-1].Round(time.Millisecond))
	}
	med := func(ds []time.Duration) time.Duration {
		s := slices.Clone(ds)
		slices.Sort(s)
		if len(s)%2 == 1 {
			return s[len(s)/2]
		}
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	overhead := float64(med(runner))/float64(med(plain)) - 1
	t.Logf("%s suite, %d rounds, medians: go test %v, runner %v (build %v, benchmarks %v, parse+report+cleanup %v): overhead %+.1f%%",
		which, rounds, med(plain).Round(time.Millisecond), med(runner).Round(time.Millisecond),
		med(build).Round(time.Millisecond), med(bench).Round(time.Millisecond), med(rest).Round(time.Millisecond), 100*overhead)
	if overhead > 0.05 {
		t.Errorf("runner overhead %+.1f%% of go test's wall time, target < 5%%", 100*overhead)
	}
}
