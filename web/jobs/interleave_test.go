package jobs

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/benchd/benchd/db"
	"github.com/benchd/benchd/runner"
	"github.com/benchd/benchd/web"
)

// commitSlowdown commits, in repo, a version of the benchmark that does 3× the work per op (an
// injected slowdown large enough to be seen on a loaded 2-core machine: this checks the
// wiring; docs/methodology.md has the detector's power), and returns the new head.
func commitSlowdown(t *testing.T, repo string) string {
	t.Helper()
	p := filepath.Join(repo, "bench/bench_test.go")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	slow := strings.Replace(string(b), "range 1000", "range 3000", 1)
	if slow == string(b) {
		t.Fatal("the fixture benchmark has no loop to slow down")
	}
	if err := os.WriteFile(p, []byte(slow), 0o644); err != nil {
		t.Fatal(err)
	}
	return commitAll(t, repo, "slower")
}

// TestWebhookPushMeasuredInterleaved: a push whose after is slower than its before is built
// and measured interleaved with before by the worker (both sides on the same machine, turn by
// turn); the run is judged against that side, flagged, and keeps the before side's samples.
func TestWebhookPushMeasuredInterleaved(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs two versions of a benchmark")
	}
	h := newHarness(t, true)
	repo, before := gitRepo(t)
	// Eight samples a side of ~5 ms each, so that the comparison can reach significance.
	yaml := filepath.Join(repo, "benchd.yaml")
	y, _ := os.ReadFile(yaml)
	y = []byte(strings.Replace(strings.Replace(string(y), "count: 2", "count: 8", 1), "benchtime: 200x", "benchtime: 20000x", 1))
	if err := os.WriteFile(yaml, y, 0o644); err != nil {
		t.Fatal(err)
	}
	after := commitSlowdown(t, repo)
	ctx := context.Background()
	r := pushAndWait(t, h, repo, before, after)
	if r.Commit != after || r.Baseline == nil || r.Baseline.Source != "interleaved:"+before || r.Baseline.Commit != before {
		t.Fatalf("got run %s judged against %+v, want after (%s) against interleaved %s", r.Commit, r.Baseline, after, before)
	}
	results, err := h.d.Store.Results(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, res := range results {
		if res.Name != "Sum" || res.Unit != "sec/op" {
			continue
		}
		found = true
		if res.Verdict == nil || res.Verdict.Status != "regressed" || res.Verdict.Delta < 0.5 {
			t.Errorf("for Sum sec/op, got verdict %+v, want regressed by about +200%%", res.Verdict)
		}
		if len(res.BaselineSamples) != 8 || len(res.Samples) != 8 {
			t.Errorf("for Sum sec/op, got %d samples and %d baseline samples, want 8 of each", len(res.Samples), len(res.BaselineSamples))
		}
	}
	if !found {
		t.Fatalf("the run has no Sum sec/op result: %+v", results)
	}
	if cs, err := h.d.Store.Commits(ctx, "bench", []string{after}); err != nil || cs[after].Message != "slower" || cs[after].CommittedAt.IsZero() {
		t.Errorf("for the measured commit, got %+v (%v), want its message \"slower\" and commit time from git", cs[after], err)
	}
	alerts, err := h.d.Store.ListAlerts(ctx, db.AlertFilter{Project: "bench", Status: db.AlertActive})
	if err != nil || len(alerts) != 1 || alerts[0].Benchmark != "Sum" || alerts[0].Unit != "sec/op" {
		t.Errorf("got active alerts %+v (%v), want one for Sum sec/op", alerts, err)
	}
}

// pushAndWait delivers a push of before..after to main and waits (3 minutes at most) for the
// worker to store the run of after.
func pushAndWait(t *testing.T, h *harness, repo, before, after string) db.Run {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := h.client.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() {
		sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer scancel()
		h.client.Stop(sctx)
	}()
	push := pushPayload(repo, "refs/heads/main", before, after)
	if status, out := h.deliver(t, "push", "slow-1", push, web.Sign([]byte(secret), push)); status != 202 {
		t.Fatalf("for a push, got %d %v, want 202", status, out)
	}
	deadline := time.Now().Add(3 * time.Minute)
	var runs []db.Run
	for time.Now().Before(deadline) && len(runs) == 0 {
		time.Sleep(200 * time.Millisecond)
		var err error
		if runs, err = h.d.Store.ListRuns(ctx, db.RunFilter{Project: "bench"}); err != nil {
			t.Fatal(err)
		}
	}
	if len(runs) != 1 {
		var state, errs string
		h.pool.QueryRow(ctx, "SELECT state, coalesce(errors::text, '') FROM river_job").Scan(&state, &errs)
		t.Fatalf("after the push, got %d runs (job %s %s), want the one of after", len(runs), state, errs)
	}
	return runs[0]
}

// TestWebhookPushCountsInstructions: with the suite's measure: instructions the worker counts
// both sides under valgrind (in parallel), judges after against before with the U test, and
// stores instructions/op, not times.
func TestWebhookPushCountsInstructions(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs two versions of a benchmark under valgrind")
	}
	if err := runner.CheckValgrind("valgrind"); err != nil && os.Getenv("CI") != "" {
		t.Fatal(err, " (.ci/run installs valgrind)")
	} else if err != nil {
		t.Skip(err)
	}
	h := newHarness(t, true)
	repo, before := gitRepo(t)
	yaml := filepath.Join(repo, "benchd.yaml")
	y, _ := os.ReadFile(yaml)
	y = append(y, "    measure: instructions\n    instructions: {count: 6, benchtime: 50ms}\n"...)
	if err := os.WriteFile(yaml, y, 0o644); err != nil {
		t.Fatal(err)
	}
	before = commitAll(t, repo, "count instructions")
	after := commitSlowdown(t, repo)
	r := pushAndWait(t, h, repo, before, after)
	if r.Baseline == nil || r.Baseline.Source != "interleaved:"+before {
		t.Fatalf("got run judged against %+v, want interleaved %s", r.Baseline, before)
	}
	results, err := h.d.Store.Results(context.Background(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	units := map[string]bool{}
	for _, res := range results {
		units[res.Unit] = true
		if res.Name != "Sum" || res.Unit != "instructions/op" {
			continue
		}
		// 3× the loop: about +200% of the instructions, with 6 counts a side.
		if res.Verdict == nil || res.Verdict.Status != "regressed" || res.Verdict.Delta < 1.5 || res.Verdict.Delta > 2.5 {
			t.Errorf("for Sum instructions/op, got verdict %+v, want regressed by about +200%%", res.Verdict)
		}
		if len(res.BaselineSamples) != 6 || len(res.Samples) != 6 {
			t.Errorf("got %d samples and %d baseline samples, want 6 of each", len(res.Samples), len(res.BaselineSamples))
		}
	}
	if !units["instructions/op"] || units["sec/op"] {
		t.Errorf("the run's units are %v, want instructions/op and no time", units)
	}
}
