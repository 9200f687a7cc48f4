package runner

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// copyFixture copies testdata/fixture into a fresh git repository and commits it.
func copyFixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	entries, err := os.ReadDir("testdata/fixture")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("testdata/fixture", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.email=t@example.com", "-c", "user.name=t"}, args...)...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q")
	git("add", ".")
	git("commit", "-q", "-m", "fixture")
	return dir
}

// TestRunAgainstCatchesSlowdown injects a slowdown into one operation of the fixture module
// (in a temporary copy), runs the benchmarks interleaved against the committed code, and
// checks that exactly the slowed benchmark is flagged, at a significance level robust to a
// loaded machine (below).
func TestRunAgainstCatchesSlowdown(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs benchmarks")
	}
	dir := copyFixture(t)
	src := filepath.Join(dir, "fixture.go")
	b, _ := os.ReadFile(src)
	// Hash some 40 times slower (+4210% measured): a burst of load can make an unchanged
	// sample several times slower (on a 2-core machine at load average 8, a 5× slowdown no
	// longer separated its 10 samples from the unchanged side's), hardly forty times.
	slowed := strings.Replace(string(b), "// SLOWDOWN", "for range 19 * n { h ^= h>>7 + 1; h *= 1099511628211 }", 1)
	if err := os.WriteFile(src, []byte(slowed), 0o644); err != nil {
		t.Fatal(err)
	}
	var turns []int
	res, err := Run(context.Background(), RunConfig{Dir: dir, Package: ".", Count: 16, Benchtime: "20ms", Against: "HEAD",
		Progress: func(p Progress) {
			if p.Benchmark == "" {
				turns = append(turns, p.Turn)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if len(turns) != 32 {
		t.Errorf("got %d turns reported, want 32 (16 per side, interleaved)", len(turns))
	}
	if res.Old == nil || len(res.Old.Failures)+len(res.New.Failures) > 0 {
		t.Fatalf("got old %v, failures %v %v", res.Old, res.Old.Failures, res.New.Failures)
	}
	p := DefaultProject()
	// "Only that one" is a claim about 12 other comparisons on a machine that may be loaded
	// (CI runs every package's tests at once on 2 cores): there a timing's noise can dwarf the
	// 5% minimum effect, and at the default alpha 0.05 up to one unchanged comparison in 80
	// was flagged even interleaved (TestAANoise, BENCHD_AA=fixture: 3 of 260 at load 5–7).
	// At alpha 1e-4 with 16 samples a side (exact U test: U ≤ 30 of 256 pairs) chance flags
	// about 1 comparison in 23,000 in the worse direction, and the slowed benchmark is still
	// significant when a burst or two push unchanged samples above slowed ones.
	p.Options.Alpha = 1e-4
	res.Old.SetUnits(map[string]Direction{"bytes/s": HigherBetter})
	res.New.SetUnits(map[string]Direction{"bytes/s": HigherBetter})
	rules, _ := NewRules(p.Thresholds)
	vs := rules.Evaluate(CompareSets(res.Old, res.New, p.Options), p.Options)
	var flagged []string
	for _, v := range vs {
		if strings.HasPrefix(v.Name, "Hash/") {
			t.Logf("%s %s: %s delta %+.1f%% p=%.3f %s", v.Name, v.Unit, v.Status, 100*v.Delta, v.P, v.Note)
		}
		if v.Status == StatusRegressed {
			flagged = append(flagged, v.Name+" "+v.Unit)
			t.Logf("%s %s: %s", v.Name, v.Unit, v.Note)
		}
	}
	want := "Hash/n=1000 sec/op,Hash/n=1000 bytes/s"
	if strings.Join(flagged, ",") != want {
		t.Errorf("got regressions %q, want %q", flagged, want)
	}
}

func TestRunReportsFailures(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs benchmarks")
	}
	dir := copyFixture(t)
	bad := "package fixture\n\nimport \"testing\"\n\nfunc BenchmarkBroken(b *testing.B) { b.Fatal(\"cannot connect\") }\n"
	if err := os.WriteFile(filepath.Join(dir, "broken_test.go"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), RunConfig{Dir: dir, Package: ".", Bench: "Broken|Sum", Count: 2, Benchtime: "1x"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.New.Failures) != 1 || res.New.Failures[0].Name != "Broken" || res.New.Failures[0].Message != "broken_test.go:5: cannot connect" {
		t.Errorf("got failures %+v, want one for Broken", res.New.Failures)
	}
	if r := find(res.New, "Sum/n=100", "sec/op"); r == nil || len(r.Samples) != 2 {
		t.Errorf("for Sum/n=100, got %+v, want 2 samples despite the failure", r)
	}
}
