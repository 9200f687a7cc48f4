package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/benchd/benchd/db"
	"github.com/benchd/benchd/db/dbtest"
	"github.com/benchd/benchd/runner"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// TestRunDatabaseBaselines keeps baselines in a real PostgreSQL (`benchd run --database-url`):
// a missing baseline is exit 2 naming the fix; --save-baseline stores the run (every sample,
// the checkout's branch and commit, the testbed) and points the name at it; --baseline reads
// it back and compares; a baseline that is much faster than the code is a regression (exit 1).
func TestRunDatabaseBaselines(t *testing.T) {
	if testing.Short() {
		t.Skip("runs benchmarks")
	}
	d := dbtest.Schema(t)
	ctx := context.Background()
	dir := fixture(t)
	env := map[string]string{"BENCHD_PROJECT": "core"}
	args := []string{"run", "--dir", dir, "--bench", "Sum", "--count", "6", "--benchtime", "1000x", "--database-url", d.URL}

	_, stderr, code := invoke(t, "", env, append(args, "--baseline", "main")...)
	if code != 2 || !strings.Contains(stderr, "no such baseline") || !strings.Contains(stderr, "--save-baseline main") {
		t.Errorf("before saving, got exit %d %q, want exit 2: no such baseline, store one with --save-baseline main", code, stderr)
	}

	_, stderr, code = invoke(t, "", env, append(args, "--save-baseline", "main", "--branch", "trunk")...)
	if code != 0 || !strings.Contains(stderr, "saved baseline main in the database (project core, branch trunk") {
		t.Fatalf("saving: got exit %d\n%s", code, stderr)
	}
	bl, err := d.Store.GetBaseline(ctx, "core", "main")
	if err != nil {
		t.Fatalf("baseline main of core: %v", err)
	}
	run, err := d.Store.GetRun(ctx, bl.RunID)
	if err != nil {
		t.Fatal(err)
	}
	head := gitIn(ctx, dir, "rev-parse", "HEAD")
	if run.Branch != "trunk" || run.Commit != head || run.Trigger != db.TriggerCLI || run.Suite != "quick" || !strings.HasPrefix(run.Testbed, "linux/") {
		t.Errorf("stored run: got branch %q commit %q trigger %q suite %q testbed %q, want trunk, %s, cli, quick, linux/…",
			run.Branch, run.Commit, run.Trigger, run.Suite, run.Testbed, head)
	}
	results, err := d.Store.Results(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	units := map[string]bool{}
	for _, r := range results {
		units[r.Unit] = true
		if !strings.HasPrefix(r.Name, "Sum/n=") || len(r.Samples) != 6 || r.Summary.N != 6 {
			t.Errorf("stored result %s %s: %d samples, summary n=%d, want Sum/n=… with 6", r.Name, r.Unit, len(r.Samples), r.Summary.N)
		}
	}
	if len(results) != 6 || !units["sec/op"] || !units["B/op"] || !units["allocs/op"] {
		t.Errorf("stored %d results in units %v, want Sum/n=100 and n=1000 in sec/op, B/op, allocs/op", len(results), units)
	}

	out, stderr, code := invoke(t, "", env, append(args, "--baseline", "main", "--format", "json", "--fail-on", "never")...)
	if code != 0 {
		t.Fatalf("comparing: got exit %d\n%s", code, stderr)
	}
	var rep struct {
		Old     string
		Results []struct {
			Name, Unit string
			Old, New   *struct{ N int }
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("comparing: %v\n%s", err, out)
	}
	if want := fmt.Sprintf("baseline main (run %d)", run.ID); rep.Old != want || len(rep.Results) != 6 {
		t.Fatalf("comparing: got old %q and %d results, want %q (the judgement's baseline label) and 6", rep.Old, len(rep.Results), want)
	}
	for _, r := range rep.Results {
		if r.Old == nil || r.New == nil || r.Old.N != 6 || r.New.N != 6 {
			t.Errorf("for %s %s, got old %+v new %+v, want 6 samples each side", r.Name, r.Unit, r.Old, r.New)
		}
	}

	// A baseline 1000× faster than the code: the run is a regression, exit 1.
	fast := db.NewRun{Project: "core", Branch: "fast", Testbed: db.Testbed{Name: run.Testbed}, Trigger: db.TriggerCLI, Config: run.Config}
	for _, r := range results {
		if r.Unit != "sec/op" {
			continue
		}
		s := make([]float64, len(r.Samples))
		for i, v := range r.Samples {
			s[i] = v / 1000
		}
		res := r.Result
		res.Samples = s
		fast.Results = append(fast.Results, db.NewResult{Result: res, Summary: runner.Summarize(s, runner.Options{})})
	}
	fr, err := d.Store.InsertRun(ctx, fast)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Store.SetBaseline(ctx, "core", "fast", fr.ID); err != nil {
		t.Fatal(err)
	}
	out, stderr, code = invoke(t, "", env, append(args, "--baseline", "fast")...)
	if code != 1 || !strings.Contains(out, "REGRESSED [regression]") {
		t.Errorf("against a 1000× faster baseline, got exit %d\n%s\n%s\nwant exit 1 and regressions", code, out, stderr)
	}

	// History: trunk's Sum/n=100 ran at a fifth of today's time for 10 runs, then at today's
	// level for 5 runs and the saved baseline: with this run, a level shift for the worse 7
	// points ago, within the 8 newest, so the change-point rule fires on it (a warning).
	var today float64
	for _, r := range results {
		if r.Name == "Sum/n=100" && r.Unit == "sec/op" {
			today = r.Summary.Median
		}
	}
	start := run.StartedAt.Add(-time.Hour)
	for i := range 15 {
		level := today
		if i < 10 {
			level = today / 5
		}
		s := []float64{level, level * 1.01, level * 0.99}
		res := runner.Result{Name: "Sum/n=100", Procs: results[0].Procs, Unit: "sec/op", Better: runner.LowerBetter, Samples: s}
		if _, err := d.Store.InsertRun(ctx, db.NewRun{Project: "core", Branch: "trunk", Testbed: db.Testbed{Name: run.Testbed},
			Trigger: db.TriggerCI, StartedAt: start.Add(time.Duration(i) * time.Minute), Config: run.Config,
			Results: []db.NewResult{{Result: res, Summary: runner.Summarize(s, runner.Options{})}}}); err != nil {
			t.Fatal(err)
		}
	}
	// Fewer than 6 samples have no 95% interval (±Inf): the database stores it as unknown.
	if _, stderr, code := invoke(t, "", env, "run", "--dir", dir, "--bench", "Sum", "--count", "2", "--benchtime", "1000x",
		"--database-url", d.URL, "--branch", "small", "--save-baseline", "two"); code != 0 {
		t.Errorf("saving a 2-sample run: got exit %d\n%s", code, stderr)
	}

	rules := func(branch string) map[string]string {
		t.Helper()
		out, stderr, code := invoke(t, "", env, append(args, "--branch", branch, "--format", "json", "--fail-on", "never")...)
		var rep struct {
			Results []struct{ Name, Unit, Status, Rule, Note string }
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 {
			t.Fatalf("on branch %s: exit %d, %v\n%s", branch, code, err, stderr)
		}
		got := map[string]string{}
		for _, r := range rep.Results {
			// The change-point rule decides, or is named in the note when a more severe
			// rule (a regression against the branch's recent history) decided.
			if r.Rule == "changepoint" || strings.Contains(r.Note, "also changepoint: ") {
				got[r.Name+" "+r.Unit] = r.Status + ": " + r.Note
			}
		}
		if len(got) == 0 {
			t.Logf("on branch %s, the report:\n%s", branch, out)
		}
		return got
	}
	if got := rules("trunk"); len(got) != 1 || !strings.Contains(got["Sum/n=100 sec/op"], "level shifted +") {
		t.Errorf("on trunk, got change points %q, want a warning for Sum/n=100 sec/op alone", got)
	}
	if got := rules("other"); len(got) != 0 {
		t.Errorf("on a branch without history, got change points %q, want none", got)
	}
}

// TestRunDatabaseUsage: the database store's usage errors are exit 2 before anything runs.
func TestRunDatabaseUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--database-url", "postgres://x/y"}, nil, "no project"},
		{[]string{"--database-url", "postgres://x/y", "--server", "http://s", "--project", "p"}, nil, "give one"},
		{[]string{"--branch", "b"}, nil, "need --database-url"},
		{[]string{"--database-url", "postgres://127.0.0.1:1/none?connect_timeout=2"}, map[string]string{"BENCHD_PROJECT": "p"}, "opening the baseline database"},
	} {
		args := append([]string{"run", "--dir", "testdata", "--package", ".", "--baseline", "main"}, tc.args...)
		_, stderr, code := invoke(t, "", tc.env, args...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("for %v, got exit %d %q, want exit 2 mentioning %q", tc.args, code, stderr, tc.want)
		}
	}
}
