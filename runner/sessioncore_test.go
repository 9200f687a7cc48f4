package runner

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunAgainstSessionCoreSlowdown copies the session core (go.mod, go.sum and
// sessioncore/*) into a temporary git repository, slows Session.Call down in the working
// tree, runs the quick suite of ../benchd.yaml with --against HEAD, and checks that the Call
// benchmarks, and nothing else, are flagged. It takes ~30 s and its verdicts depend on the
// machine's noise, so it runs only with BENCHD_SESSIONCORE=1 (BENCHD_SESSIONCORE_REV=REV takes the
// session core of commit REV instead of the working tree's).
func TestRunAgainstSessionCoreSlowdown(t *testing.T) {
	if os.Getenv("BENCHD_SESSIONCORE") != "1" {
		t.Skip("set BENCHD_SESSIONCORE=1 to run the session core with a deliberate slowdown")
	}
	proj, err := LoadProject("../benchd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	quick := proj.Suites["quick"]
	dir := copySessionCore(t)

	// The slowdown: a chain of 50 dependent multiply-adds (~70 ns) at the start of every
	// Session.Call, about +50% on a ~130 ns call.
	const slowdown = "\tif x := spin(50); x == 0 {\n\t\tbenchdSlowdown.Add(1)\n\t}\n"
	src := filepath.Join(dir, "sessioncore", "session.go")
	b, _ := os.ReadFile(src)
	const anchor = "\tr.st.calls.Add(1)\n"
	if !strings.Contains(string(b), anchor) {
		t.Skipf("Session.Call no longer has the line %q to slow down after", anchor)
	}
	slowed := strings.Replace(string(b), anchor, anchor+slowdown, 1)
	if err := os.WriteFile(src, []byte(slowed), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sessioncore", "zz_slowdown.go"),
		[]byte("package sessioncore\n\nimport \"sync/atomic\"\n\nvar benchdSlowdown atomic.Int64\n\n"+
			"func spin(n int) uint64 {\n\tx := uint64(n)\n\tfor range n {\n\t\tx = x*6364136223846793005 + 1442695040888963407\n\t}\n\treturn x\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	res, err := Run(context.Background(), RunConfig{Dir: dir, Package: quick.Package, Bench: quick.Bench, Count: quick.Count,
		Benchtime: quick.Benchtime, Timeout: quick.Timeout, Against: "HEAD"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.New.Failures) > 0 || len(res.Old.Failures) > 0 {
		t.Fatalf("failures: %v %v", res.Old.Failures, res.New.Failures)
	}
	res.Old.SetUnits(proj.Units)
	res.New.SetUnits(proj.Units)
	rules, _ := NewRules(proj.Thresholds)
	var flagged, others []string
	for _, v := range rules.Evaluate(CompareSets(res.Old, res.New, proj.Options), proj.Options) {
		if v.Status != StatusRegressed {
			continue
		}
		t.Logf("regressed: %s %s: %s", v.Name, v.Unit, v.Note)
		if strings.HasPrefix(v.Name, "Call/") {
			flagged = append(flagged, v.Name+" "+v.Unit)
		} else {
			others = append(others, v.Name+" "+v.Unit)
		}
	}
	if len(flagged) == 0 || len(others) > 0 {
		t.Errorf("got Call regressions %q and others %q, want Call flagged and nothing else", flagged, others)
	}
}
