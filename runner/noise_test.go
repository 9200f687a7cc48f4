package runner

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestAANoise is the noise figure of issue 4: it runs a suite against itself (A/A) with the
// defaults and counts how many comparisons are flagged, out of how many were judged — every
// flag is a false alarm. Two designs, each BENCHD_AA_ROUNDS times (default 5):
//
//   - interleaved: `benchd run --against HEAD` on a clean checkout (HEAD and the working
//     tree are the same code), the design benchd recommends on shared machines;
//   - stored: one run saved as a baseline, then each round a fresh run compared with it
//     (`--save-baseline main`, then `--baseline main`), which compares two moments of the
//     machine as much as two versions of the code.
//
// BENCHD_AA_COUNT overrides the suite's count (samples per side); BENCHD_AA_ALPHA=A also
// judges the same samples at significance level A and reports both.
// BENCHD_AA=quick measures the session core's quick suite (../benchd.yaml) in a temporary copy;
// BENCHD_AA=fixture the runner's small fixture module. It fails when the interleaved design
// flags more than 1% of its comparisons (the target); the stored figure is reported only,
// since it depends on how the machine's load changes between runs.
func TestAANoise(t *testing.T) {
	which := os.Getenv("BENCHD_AA")
	if which == "" {
		t.Skip("set BENCHD_AA=quick (the session core's quick suite, minutes) or BENCHD_AA=fixture to measure the A/A noise figure")
	}
	rounds := envPositive(t, "BENCHD_AA_ROUNDS", 5)
	proj, cfg := measuredSuite(t, "BENCHD_AA", which)
	if which == "fixture" {
		proj.Units["bytes/s"] = HigherBetter
	}
	cfg.Count = envPositive(t, "BENCHD_AA_COUNT", cfg.Count)
	suite := proj.Suites["quick"]
	rules, err := NewRules(proj.Thresholds)
	if err != nil {
		t.Fatal(err)
	}
	alt := 0.0
	if s := os.Getenv("BENCHD_AA_ALPHA"); s != "" {
		a, err := strconv.ParseFloat(s, 64)
		if err != nil || a <= 0 || a >= 1 {
			t.Fatalf("BENCHD_AA_ALPHA=%q: want a number in (0, 1)", s)
		}
		alt = a
	}
	altFlagged := map[string]int{}
	// count judges new against old and returns how many comparisons were judged (a known
	// direction, samples on both sides) and how many of those were flagged either way.
	count := func(design string, round int, old, new *Set) (judged, regressed, improved int) {
		t.Helper()
		if len(old.Failures)+len(new.Failures) > 0 {
			t.Fatalf("%s round %d: failures %v %v", design, round, old.Failures, new.Failures)
		}
		old.SetUnits(proj.Units)
		new.SetUnits(proj.Units)
		opts := proj.Options
		opts.Paired = design == "interleaved" && !proj.Unpaired // as run --against judges
		cmps := CompareSets(old, new, opts)
		// The same samples judged at a stricter alpha, when BENCHD_AA_ALPHA asks (a
		// same-run comparison of the two settings).
		if alt > 0 {
			ao := opts
			ao.Alpha = alt
			for _, v := range rules.Evaluate(CompareSets(old, new, ao), ao) {
				if v.Status == StatusRegressed || v.Status == StatusImproved {
					altFlagged[design]++
					t.Logf("%s round %d: at alpha %g: %s %s %s: %s", design, round, alt, v.Name, v.Unit, v.Status, v.Note)
				}
			}
		}
		for i, v := range rules.Evaluate(cmps, opts) {
			c := cmps[i]
			if c.Old.N == 0 || c.New.N == 0 || c.Better == DirUnknown {
				continue
			}
			judged++
			switch {
			case v.Status == StatusRegressed:
				regressed++
				t.Logf("%s round %d: false alarm: %s %s regressed: %s", design, round, v.Name, v.Unit, v.Note)
			case v.Status == StatusImproved:
				improved++
				t.Logf("%s round %d: false alarm: %s %s improved: %s", design, round, v.Name, v.Unit, v.Note)
			}
		}
		return judged, regressed, improved
	}
	run := func(c RunConfig) *RunResult {
		t.Helper()
		res, err := Run(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	type tally struct{ judged, regressed, improved int }
	var inter, stored tally
	start := time.Now()
	base := run(cfg).New
	for round := 1; round <= rounds; round++ {
		ic := cfg
		ic.Against = "HEAD"
		if which == "quick" { // the suite's against: sampling, as run uses
			ic = suite.RunConfig(cfg.Dir, "HEAD")
			if os.Getenv("BENCHD_AA_COUNT") != "" {
				ic.Count = cfg.Count
			}
		}
		res := run(ic)
		j, r, i := count("interleaved", round, res.Old, res.New)
		inter = tally{inter.judged + j, inter.regressed + r, inter.improved + i}
		t.Logf("interleaved round %d: %d regressed, %d improved of %d judged", round, r, i, j)

		j, r, i = count("stored", round, cloneSet(base), run(cfg).New)
		stored = tally{stored.judged + j, stored.regressed + r, stored.improved + i}
		t.Logf("stored round %d: %d regressed, %d improved of %d judged", round, r, i, j)
	}
	pct := func(n, of int) float64 { return 100 * float64(n) / float64(max(of, 1)) }
	t.Logf("A/A %s, %d rounds, %v: interleaved (--against HEAD): %d regressed + %d improved of %d comparisons (%.1f%% flagged); stored baseline: %d regressed + %d improved of %d (%.1f%%)",
		which, rounds, time.Since(start).Round(time.Second),
		inter.regressed, inter.improved, inter.judged, pct(inter.regressed+inter.improved, inter.judged),
		stored.regressed, stored.improved, stored.judged, pct(stored.regressed+stored.improved, stored.judged))
	if alt > 0 {
		t.Logf("the same samples at alpha %g: interleaved %d of %d flagged (%.1f%%), stored %d of %d (%.1f%%)", alt,
			altFlagged["interleaved"], inter.judged, pct(altFlagged["interleaved"], inter.judged),
			altFlagged["stored"], stored.judged, pct(altFlagged["stored"], stored.judged))
	}
	if pct(inter.regressed+inter.improved, inter.judged) > 1 {
		t.Errorf("interleaved A/A flagged %.1f%% of comparisons, target ≤ 1%%", pct(inter.regressed+inter.improved, inter.judged))
	}
}

// cloneSet returns a copy of s whose results can be changed (SetUnits) without touching s.
func cloneSet(s *Set) *Set {
	c := *s
	c.Results = append([]Result(nil), s.Results...)
	return &c
}

// copySessionCore copies the session core (go.mod, go.sum and sessioncore/*.go) of the
// working tree, or of commit $BENCHD_SESSIONCORE_REV when set, into a fresh git repository,
// commits it and returns its directory.
func copySessionCore(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	copyFile := func(from, to string) {
		t.Helper()
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if rev := os.Getenv("BENCHD_SESSIONCORE_REV"); rev != "" {
		// The session core as committed at rev (when the working tree's does not build or its
		// benchmarks fail).
		for _, f := range []string{"go.mod", "go.sum"} {
			b, err := gitOut(context.Background(), "..", "show", rev+":"+f)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, f), []byte(b+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		names, err := gitOut(context.Background(), "..", "ls-tree", "--name-only", rev, "sessioncore/")
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range strings.Fields(names) {
			if !strings.HasSuffix(f, ".go") {
				continue
			}
			b, err := gitOut(context.Background(), "..", "show", rev+":"+f)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(dir, "sessioncore"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, f), []byte(b+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		gitCommitAll(t, dir, "session core at "+rev)
		return dir
	}
	copyFile("../go.mod", filepath.Join(dir, "go.mod"))
	copyFile("../go.sum", filepath.Join(dir, "go.sum"))
	files, _ := filepath.Glob("../sessioncore/*.go")
	if len(files) == 0 {
		t.Skip("no session core yet")
	}
	for _, f := range files {
		copyFile(f, filepath.Join(dir, "sessioncore", filepath.Base(f)))
	}
	gitCommitAll(t, dir, "session core")
	return dir
}

// gitCommitAll makes dir a git repository holding everything in it in one commit.
func gitCommitAll(t *testing.T, dir, msg string) {
	t.Helper()
	for _, args := range [][]string{{"init", "-q"}, {"add", "."}, {"commit", "-q", "-m", msg}} {
		out, err := gitOut(context.Background(), dir, append([]string{"-c", "user.email=t@example.com", "-c", "user.name=t"}, args...)...)
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// envPositive returns the positive integer in the environment variable name, or def when it
// is unset; anything else fails the test.
func envPositive(t *testing.T, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return n
}

// measuredSuite returns the project and the run configuration of the suite an opt-in
// measurement names in the environment variable env: "quick", the session core's quick suite
// (../benchd.yaml) in a temporary copy, or "fixture", the runner's fixture module.
func measuredSuite(t *testing.T, env, which string) (*Project, RunConfig) {
	t.Helper()
	switch which {
	case "quick":
		proj, err := LoadProject("../benchd.yaml")
		if err != nil {
			t.Fatal(err)
		}
		q := proj.Suites["quick"]
		return proj, RunConfig{Dir: copySessionCore(t), Package: q.Package, Bench: q.Bench, Count: q.Count, Benchtime: q.Benchtime, Timeout: q.Timeout}
	case "fixture":
		return DefaultProject(), RunConfig{Dir: copyFixture(t), Package: ".", Count: 6, Benchtime: "20ms"}
	}
	t.Fatalf("%s=%q: want quick or fixture", env, which)
	return nil, RunConfig{}
}
