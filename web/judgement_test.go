package web

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/benchd/benchd/db"
)

// stepRun is the JSON body of run i (1-based) of the step scenario: Create/n=100 costs 25%
// more from run stepAt on (until backAt, when it is back), Call/n=50 and Memory/n=100 are
// steady; every sample carries ±2% noise.
func stepRun(t *testing.T, rng *rand.Rand, i, stepAt, backAt int, branch string) string {
	t.Helper()
	noisy := func(v float64) []float64 {
		out := make([]float64, 6)
		for k := range out {
			out[k] = v * (1 + 0.04*(rng.Float64()-0.5))
		}
		return out
	}
	create := 2.69e-7
	if i >= stepAt && (backAt == 0 || i < backAt) {
		create *= 1.25
	}
	body := map[string]any{
		"branch": branch, "commit": fmt.Sprintf("c%06d", i), "testbed": "tb",
		"started_at": time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Hour),
		"results": []map[string]any{
			{"name": "Create/n=100", "unit": "sec/op", "samples": noisy(create)},
			{"name": "Call/n=50", "unit": "sec/op", "samples": noisy(9.1e-7)},
			{"name": "Memory/n=100", "unit": "B/session", "better": -1, "samples": noisy(217)},
		},
	}
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestStepRaisesOneAlertUntilFixed posts 60 runs on main with a 25% step in one benchmark
// from run 40, once with a named baseline (run 1) and once without: the step opens exactly
// one alert, with the commit range c39..c40, later runs update it, the dashboard of run 60
// lists it whatever run 60's own comparison says, and the first run back at the old level
// resolves it.
func TestStepRaisesOneAlertUntilFixed(t *testing.T) {
	for _, named := range []bool{true, false} {
		t.Run(fmt.Sprintf("named_baseline=%v", named), func(t *testing.T) {
			e := newEnv(t, Config{}, nil)
			rng := rand.New(rand.NewPCG(1, 2))
			post := func(i, backAt int) IngestReply {
				t.Helper()
				var rep IngestReply
				status, raw := e.api(t, "POST", "/api/v1/projects/sessioncore/runs", e.token, "application/json",
					stepRun(t, rng, i, 40, backAt, "main"), &rep)
				if status != 201 {
					t.Fatalf("posting run %d: got %d %s, want 201", i, status, raw)
				}
				return rep
			}
			first := post(1, 0)
			if named {
				if status, raw := e.api(t, "PUT", "/api/v1/projects/sessioncore/baselines/main", e.token, "application/json",
					fmt.Sprintf(`{"run_id": %d}`, first.RunID), nil); status != 200 {
					t.Fatalf("naming baseline main: got %d %s", status, raw)
				}
			}
			var last IngestReply
			for i := 2; i <= 60; i++ {
				last = post(i, 0)
				wantSource := "history:main"
				if named {
					wantSource = "baseline:main"
				}
				if last.Baseline == nil || last.Baseline.Source != wantSource || last.Baseline.Label == "" {
					t.Fatalf("for run %d, got baseline %+v, want source %s with a label", i, last.Baseline, wantSource)
				}
				for _, v := range last.Verdicts {
					if v.Against != last.Baseline.Label {
						t.Fatalf("for run %d, verdict of %s names baseline %q, want %q", i, v.Name, v.Against, last.Baseline.Label)
					}
				}
			}

			var list struct{ Alerts []AlertView }
			if status, raw := e.api(t, "GET", "/api/v1/projects/sessioncore/alerts?status=active", e.token, "", "", &list); status != 200 {
				t.Fatalf("listing alerts: %d %s", status, raw)
			}
			alerts := list.Alerts
			if len(alerts) != 1 {
				t.Fatalf("after 60 runs, got %d active alerts %+v, want exactly one (Create/n=100 sec/op)", len(alerts), alerts)
			}
			a := alerts[0]
			if a.Benchmark != "Create/n=100" || a.Unit != "sec/op" || a.Commit != "c000040" || a.LastGoodCommit != "c000039" {
				t.Errorf("got alert %s %s at %s..%s, want Create/n=100 sec/op at c39..c40", a.Benchmark, a.Unit, a.LastGoodCommit, a.Commit)
			}
			if a.Runs != 21 || a.LastRunID != last.RunID || a.Delta < 0.20 || a.Delta > 0.30 || a.LatestDelta < 0.20 {
				t.Errorf("got alert seen in %d runs with delta %+.3f (latest %+.3f), want 21 runs and about +25%%", a.Runs, a.Delta, a.LatestDelta)
			}

			var dash DashboardData
			if status, raw := e.api(t, "GET", "/api/v1/projects/sessioncore/dashboard?branch=main", e.token, "", "", &dash); status != 200 {
				t.Fatalf("dashboard: %d %s", status, raw)
			}
			if dash.Latest == nil || dash.Latest.ID != last.RunID || len(dash.OpenRegressions) != 1 {
				t.Fatalf("dashboard at run 60: got latest %+v and open regressions %+v, want run %d and one", dash.Latest, dash.OpenRegressions, last.RunID)
			}
			if o := dash.OpenRegressions[0]; o.Name != "Create/n=100" || o.Unit != "sec/op" || o.FirstBadCommit != "c000040" ||
				o.LastGoodCommit != "c000039" || o.Delta < 0.20 || o.Link == "" {
				t.Errorf("dashboard open regression: got %+v, want Create/n=100 sec/op c39..c40 about +25%%", o)
			}

			// The HTML dashboard shows the same open regression first.
			_, _, html := do(t, "GET", e.ts.URL+"/?project=sessioncore&branch=main", nil, "Accept", "text/html")
			sec, _, _ := strings.Cut(html[strings.Index(html, `id="open-regressions"`)+1:], "</section>")
			if !strings.Contains(html, `id="open-regressions"`) || !strings.Contains(sec, "Create/n=100") || !strings.Contains(sec, "&#43;2") || !strings.Contains(sec, "c000039") {
				t.Errorf("the HTML dashboard at run 60 does not list Create/n=100 under open regressions:\n%s", sec)
			}

			// The level comes back: the first run back resolves the alert, and no new one opens.
			back := post(61, 61)
			resolved := false
			for _, ch := range back.AlertChanges {
				if ch.ID == a.ID && ch.Action == "resolve" {
					resolved = true
				}
			}
			if !resolved {
				t.Errorf("run 61 (back at the old level): got alert changes %+v, want alert %d resolved", back.AlertChanges, a.ID)
			}
			for i := 62; i <= 64; i++ {
				post(i, 61)
			}
			list.Alerts = nil
			if status, _ := e.api(t, "GET", "/api/v1/projects/sessioncore/alerts?status=active", e.token, "", "", &list); status != 200 || len(list.Alerts) != 0 {
				t.Errorf("after the level came back, got %d active alerts %+v, want none", len(list.Alerts), list.Alerts)
			}
			if status, _ := e.api(t, "GET", "/api/v1/projects/sessioncore/dashboard?branch=main", e.token, "", "", &dash); status != 200 || len(dash.OpenRegressions) != 0 {
				t.Errorf("dashboard after the fix: got open regressions %+v, want none", dash.OpenRegressions)
			}
		})
	}
}

// TestFeatureBranchComparesWithStartPoint posts main's history, then a feature branch forked
// at c05 that is 8% slower: its first run is compared with main's run at the fork commit (not
// main's newest run, and not nothing) and flagged.
func TestFeatureBranchComparesWithStartPoint(t *testing.T) {
	e := newEnv(t, Config{}, nil)
	rng := rand.New(rand.NewPCG(3, 4))
	post := func(body, query string) IngestReply {
		t.Helper()
		var rep IngestReply
		status, raw := e.api(t, "POST", "/api/v1/projects/sessioncore/runs?"+query, e.token, "application/json", body, &rep)
		if status != 201 {
			t.Fatalf("posting: got %d %s", status, raw)
		}
		return rep
	}
	var fork IngestReply
	for i := 1; i <= 8; i++ {
		// main gets 30% faster from c06 on: comparing the branch with main's newest run would
		// call it much slower still; with the fork commit (c05), 8% slower.
		body := stepRun(t, rng, i, 99, 0, "main")
		if i >= 6 {
			body = scaleCreate(t, body, 0.7)
		}
		rep := post(body, "")
		if i == 5 {
			fork = rep
		}
	}
	body := scaleCreate(t, stepRun(t, rng, 9, 99, 0, "feature"), 1.08)
	rep := post(body, "start_point=main&start_point_commit=c000005")
	if rep.Baseline == nil || rep.Baseline.Source != "start_point:main" || rep.Baseline.RunID != fork.RunID || rep.Baseline.Commit != "c000005" {
		t.Fatalf("first run of the feature branch: got baseline %+v, want main's run %d at c05", rep.Baseline, fork.RunID)
	}
	got := map[string]string{}
	for _, v := range rep.Verdicts {
		got[v.Name+" "+v.Unit] = v.Status
	}
	if got["Create/n=100 sec/op"] != "regressed" || got["Call/n=50 sec/op"] == "regressed" {
		t.Errorf("feature branch verdicts: got %v, want Create/n=100 regressed (+8%%) and Call/n=50 not", got)
	}
	// A later run of the branch that names no start point still uses the recorded one.
	rep = post(scaleCreate(t, stepRun(t, rng, 10, 99, 0, "feature"), 1.08), "")
	if rep.Baseline == nil || rep.Baseline.Source != "start_point:main" || rep.Baseline.RunID != fork.RunID {
		t.Errorf("second run of the feature branch: got baseline %+v, want the recorded start point (run %d)", rep.Baseline, fork.RunID)
	}
}

// scaleCreate multiplies the Create/n=100 samples of a stepRun body by f.
func scaleCreate(t *testing.T, body string, f float64) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatal(err)
	}
	for _, r := range m["results"].([]any) {
		r := r.(map[string]any)
		if r["name"] == "Create/n=100" {
			for i, s := range r["samples"].([]any) {
				r["samples"].([]any)[i] = s.(float64) * f
			}
		}
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// TestRunAnsweredWithAnErrorIsNotStored: the last step of storing a judged run (its alert
// changes) fails; the POST is answered with an error and nothing of the run is stored — the
// run, its results and its alert changes are one transaction.
func TestRunAnsweredWithAnErrorIsNotStored(t *testing.T) {
	e := newEnv(t, Config{}, nil)
	rng := rand.New(rand.NewPCG(5, 6))
	post := func(i int) (int, string) {
		return e.api(t, "POST", "/api/v1/projects/sessioncore/runs", e.token, "application/json", stepRun(t, rng, i, 3, 0, "main"), nil)
	}
	for i := 1; i <= 4; i++ { // runs 3 and 4 are slower: an alert is open, and run 5 would update it
		if status, raw := post(i); status != 201 {
			t.Fatalf("posting run %d: %d %s", i, status, raw)
		}
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, e.db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'injected failure while updating alerts'; END $$;
		CREATE TRIGGER refuse BEFORE UPDATE ON alerts FOR EACH ROW EXECUTE FUNCTION refuse();`); err != nil {
		t.Fatal(err)
	}
	before, err := e.db.Store.ListRuns(ctx, db.RunFilter{Project: "sessioncore"})
	if err != nil {
		t.Fatal(err)
	}
	if status, raw := post(5); status < 500 {
		t.Fatalf("with the alert update failing, got %d %s, want an error answer", status, raw)
	}
	after, err := e.db.Store.ListRuns(ctx, db.RunFilter{Project: "sessioncore"})
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Errorf("got %d runs after a POST answered with an error, want %d: the run was stored anyway", len(after), len(before))
	}
	alerts, err := e.db.Store.ListAlerts(ctx, db.AlertFilter{Project: "sessioncore", Status: db.AlertActive})
	if err != nil || len(alerts) != 1 || alerts[0].Runs != 2 {
		t.Errorf("got alerts %+v (%v), want the one alert of runs 3–4, untouched", alerts, err)
	}
}
