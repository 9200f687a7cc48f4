package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/benchd/benchd/db"
	"github.com/benchd/benchd/runner"
)

// api sends a request with token (none when "") and decodes a JSON reply into out (unless nil).
func (e *env) api(t *testing.T, method, path, token, ctype, body string, out any, hdr ...string) (int, string) {
	t.Helper()
	if token != "" {
		hdr = append(hdr, "Authorization", "Bearer "+token)
	}
	if ctype != "" {
		hdr = append(hdr, "Content-Type", ctype)
	}
	var rd *strings.Reader
	if body != "" {
		rd = strings.NewReader(body)
	} else {
		rd = strings.NewReader("")
	}
	status, _, b := do(t, method, e.ts.URL+path, rd, hdr...)
	if out != nil && status < 300 {
		if err := json.Unmarshal([]byte(b), out); err != nil {
			t.Fatalf("%s %s: decoding %q: %v", method, path, b, err)
		}
	}
	return status, b
}

func readBench(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("testdata/bench.txt")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// slowed returns output with every sec/op of benchmark name multiplied by factor.
func slowed(output, name string, factor float64) string {
	re := regexp.MustCompile(`(?m)^(Benchmark` + regexp.QuoteMeta(name) + `-\d+\s+\d+\s+)([0-9.]+)( ns/op)`)
	return re.ReplaceAllStringFunc(output, func(m string) string {
		sm := re.FindStringSubmatch(m)
		v, _ := strconv.ParseFloat(sm[2], 64)
		return sm[1] + strconv.FormatFloat(v*factor, 'f', 2, 64) + sm[3]
	})
}

func TestIngestEndToEnd(t *testing.T) {
	e := newEnv(t, Config{}, nil)
	out := readBench(t)
	post := func(body, query string, hdr ...string) (int, IngestReply, string) {
		t.Helper()
		var rep IngestReply
		status, raw := e.api(t, "POST", "/api/v1/projects/sessioncore/runs?"+query, e.token, "text/plain", body, &rep, hdr...)
		return status, rep, raw
	}

	// The first run has nothing to compare with.
	status, first, raw := post(out, "branch=main&commit=c111111")
	if status != 201 || first.RunID == 0 || first.Baseline != nil || len(first.Verdicts) != 11 || first.URL != fmt.Sprintf("/runs/%d", first.RunID) {
		t.Fatalf("for the first run, got %d %s, want 201 with 11 verdicts and no baseline", status, raw)
	}

	// The same output again: compared with main's recent history (the first run), nothing regressed.
	status, second, raw := post(out, "branch=main&commit=c222222")
	if status != 201 || second.Baseline == nil || second.Baseline.RunID != first.RunID || second.Baseline.Source != "history:main" ||
		second.Counts["regressed"] != 0 || len(second.Alerts) != 0 {
		t.Fatalf("for an unchanged run, got %d %s, want 201 compared with the history of main (run %d), no regression", status, raw, first.RunID)
	}

	// Create/n=1000 three times slower: regressed, an alert stored.
	status, third, raw := post(slowed(out, "Create/n=1000", 3), "branch=main&commit=c333333")
	if status != 201 || third.Status != "regressed" || len(third.Alerts) == 0 {
		t.Fatalf("for a slowed run, got %d %s, want 201 regressed with an alert", status, raw)
	}
	var found bool
	for _, v := range third.Verdicts {
		if v.Name == "Create/n=1000" && v.Unit == "sec/op" {
			found = v.Status == "regressed" && v.Rule == "regression" && v.Delta > 1.5
		}
	}
	if !found {
		t.Errorf("for the slowed benchmark, got verdicts %+v, want Create/n=1000 sec/op regressed by > 150%%", third.Verdicts)
	}

	// GET it back: the run, its results and the alert.
	var got struct {
		Run     RunView      `json:"run"`
		Results []ResultView `json:"results"`
		Alerts  []AlertView  `json:"alerts"`
	}
	if status, raw := e.api(t, "GET", fmt.Sprintf("/api/v1/projects/sessioncore/runs/%d?samples=1", third.RunID), e.token, "", "", &got); status != 200 {
		t.Fatalf("GET run: %d %s", status, raw)
	}
	if got.Run.Commit != "c333333" || got.Run.Branch != "main" || len(got.Results) != 11 || len(got.Results[0].Samples) != 8 || len(got.Alerts) != len(third.Alerts) {
		t.Errorf("for GET run, got %+v, want commit c3, 11 results with 8 samples, %d alerts", got, len(third.Alerts))
	}
	var alerts struct{ Alerts []AlertView }
	e.api(t, "GET", "/api/v1/projects/sessioncore/alerts?status=active", e.token, "", "", &alerts)
	if len(alerts.Alerts) != len(third.Alerts) || alerts.Alerts[0].Benchmark == "" {
		t.Errorf("for active alerts, got %+v, want the %d of the slowed run", alerts.Alerts, len(third.Alerts))
	}

	// The history of the slowed benchmark has the three runs, oldest first.
	var hist struct{ Points []PointView }
	e.api(t, "GET", "/api/v1/projects/sessioncore/history?name=Create/n%3D1000&unit=sec/op&branch=main&testbed="+url.QueryEscape(got.Run.Testbed), e.token, "", "", &hist)
	if len(hist.Points) != 3 || hist.Points[2].RunID != third.RunID || hist.Points[2].Median < 2*hist.Points[0].Median {
		t.Errorf("for the history, got %+v, want 3 points ending with the slowed run", hist.Points)
	}

	// Still slow: against the recent history, which holds the slowed run, the change is less
	// clear, but the alert stays active (the code is no faster than before the change).
	if status, _, raw = post(slowed(out, "Create/n=1000", 3), "branch=main&commit=c3b3b3b"); status != 201 {
		t.Fatalf("for a second slow run, got %d %s", status, raw)
	}
	e.api(t, "GET", "/api/v1/projects/sessioncore/alerts?status=active", e.token, "", "", &alerts)
	active := map[int64]bool{}
	for _, a := range alerts.Alerts {
		active[a.ID] = true
	}
	for _, id := range third.Alerts {
		if !active[id] {
			t.Errorf("after a second slow run, alert %d was resolved, want it active (the code is still slow)", id)
		}
	}

	// Back to normal speed: the alert is resolved.
	if status, _, raw = post(out, "branch=main&commit=c444444"); status != 201 {
		t.Fatalf("for a recovered run, got %d %s", status, raw)
	}
	e.api(t, "GET", "/api/v1/projects/sessioncore/alerts?status=resolved", e.token, "", "", &alerts)
	if len(alerts.Alerts) == 0 {
		t.Errorf("after a recovered run, got no resolved alerts, want the slowed run's resolved")
	}

	// Ingestion metrics count what was stored.
	_, _, metrics := do(t, "GET", e.ts.URL+"/metrics", nil)
	if !strings.Contains(metrics, `benchd_ingested_runs_total{trigger="ci"} 5`) || !strings.Contains(metrics, "benchd_ingested_results_total 55") {
		t.Errorf("for /metrics, got no ingestion counts of 5 runs and 55 results")
	}
}

func TestIngestNewBranchComparesWithMain(t *testing.T) {
	e := newEnv(t, Config{}, nil)
	out := readBench(t)
	var main, feat IngestReply
	e.api(t, "POST", "/api/v1/projects/sessioncore/runs?branch=main", e.token, "text/plain", out, &main)
	status, raw := e.api(t, "POST", "/api/v1/projects/sessioncore/runs?branch=feature", e.token, "text/plain", slowed(out, "Lookup", 4), &feat)
	if status != 201 || feat.Baseline == nil || feat.Baseline.RunID != main.RunID || feat.Baseline.Source != "start_point:main" ||
		!strings.HasPrefix(feat.Baseline.Label, "start point main") || feat.Status != "regressed" {
		t.Errorf("for a new branch, got %d %s, want compared with its start point, main's run %d, and regressed", status, raw, main.RunID)
	}
	// A named baseline wins over the branch's recent history.
	if status, raw := e.api(t, "PUT", "/api/v1/projects/sessioncore/baselines/main", e.token, "application/json", fmt.Sprintf(`{"run_id":%d}`, main.RunID), nil); status != 200 {
		t.Fatalf("PUT baseline: %d %s", status, raw)
	}
	var again IngestReply
	e.api(t, "POST", "/api/v1/projects/sessioncore/runs?branch=main", e.token, "text/plain", out, &again)
	if again.Baseline == nil || again.Baseline.Source != "baseline:main" || again.Baseline.RunID != main.RunID {
		t.Errorf("with baseline main set, got %+v, want baseline:main run %d", again.Baseline, main.RunID)
	}
}

func TestIngestIdempotency(t *testing.T) {
	e := newEnv(t, Config{}, nil)
	out := slowed(readBench(t), "Lookup", 1)
	e.api(t, "POST", "/api/v1/projects/sessioncore/runs?branch=main", e.token, "text/plain", out, nil)
	body := slowed(out, "Create/n=100", 5)

	// Eight concurrent posts with one key: one run, one set of alerts, the same answer.
	var wg sync.WaitGroup
	replies := make([]IngestReply, 8)
	statuses := make([]int, 8)
	for i := range replies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i], _ = e.api(t, "POST", "/api/v1/projects/sessioncore/runs?branch=main", e.token, "text/plain", body, &replies[i], "Idempotency-Key", "gh-run-77")
		}()
	}
	wg.Wait()
	created := 0
	for i, r := range replies {
		switch statuses[i] {
		case 201:
			created++
		case 200:
		default:
			t.Fatalf("for a repeated key, got status %d", statuses[i])
		}
		if r.RunID != replies[0].RunID || r.Status != replies[0].Status || len(r.Alerts) != len(replies[0].Alerts) {
			t.Errorf("for repeat %d, got run %d %s alerts %v, want run %d %s alerts %v", i, r.RunID, r.Status, r.Alerts, replies[0].RunID, replies[0].Status, replies[0].Alerts)
		}
	}
	if created != 1 {
		t.Errorf("for 8 posts with one key, got %d created, want 1", created)
	}
	runs, err := e.db.Store.ListRuns(context.Background(), db.RunFilter{Project: "sessioncore"})
	if err != nil || len(runs) != 2 {
		t.Errorf("for stored runs, got %d (%v), want 2", len(runs), err)
	}
}

// TestIngestReplayIsTheStoredAnswer checks that a repeated idempotency key returns the answer
// stored with the run, not a new judgement: a threshold added in between would change the
// verdicts of a recomputation.
func TestIngestReplayIsTheStoredAnswer(t *testing.T) {
	e := newEnv(t, Config{}, nil)
	out := readBench(t)
	e.api(t, "POST", "/api/v1/projects/sessioncore/runs?branch=main", e.token, "text/plain", out, nil)
	var first, again IngestReply
	body := slowed(out, "Create/n=100", 5)
	if status, raw := e.api(t, "POST", "/api/v1/projects/sessioncore/runs?branch=main", e.token, "text/plain", body, &first, "Idempotency-Key", "k-1"); status != 201 {
		t.Fatalf("first post: %d %s", status, raw)
	}
	if status, raw := e.api(t, "POST", "/api/v1/projects/sessioncore/thresholds", e.token, "application/json",
		`{"benchmark": ".*", "unit": "sec/op", "kind": "upper", "warn": 1e-12}`, nil); status != 201 {
		t.Fatalf("creating a threshold: %d %s", status, raw)
	}
	if status, raw := e.api(t, "POST", "/api/v1/projects/sessioncore/runs?branch=main", e.token, "text/plain", body, &again, "Idempotency-Key", "k-1"); status != 200 {
		t.Fatalf("repeated post: %d %s", status, raw)
	}
	if !reflect.DeepEqual(first, again) {
		t.Errorf("for a repeated key after a new threshold, got\n%+v\nwant the first answer\n%+v", again, first)
	}
}

func TestIngestRefusals(t *testing.T) {
	e := newEnv(t, Config{MaxBodyBytes: 64 << 10, MaxBenchmarks: 20}, nil)
	out := readBench(t)
	for _, tc := range []struct {
		name, path, ctype, body string
		status                  int
		msg                     string
	}{
		{"unknown project", "/api/v1/projects/nope/runs?branch=main", "text/plain", out, 403, "scoped"},
		{"wrong content type", "/api/v1/projects/sessioncore/runs?branch=main", "application/x-www-form-urlencoded", out, 415, "Content-Type"},
		{"malformed text", "/api/v1/projects/sessioncore/runs?branch=main", "text/plain", "goos: linux\ngoarch: amd64\nBenchmarkX-2 1 abc ns/op\n", 400, `"line":3`},
		{"malformed JSON", "/api/v1/projects/sessioncore/runs", "application/json", "{\n\"branch\": main}", 400, `"line":2`},
		{"no samples", "/api/v1/projects/sessioncore/runs?branch=main", "text/plain", "PASS\nok x 1s\n", 422, "no benchmark results"},
		{"NaN", "/api/v1/projects/sessioncore/runs?branch=main", "text/plain", "goos: linux\ngoarch: amd64\nBenchmarkX-2 1 NaN ns/op\n", 422, "finite"},
		{"too many benchmarks", "/api/v1/projects/sessioncore/runs?branch=main&testbed=t", "text/plain", manyBenchmarks(21), 413, "limit is 20"},
		{"oversized body", "/api/v1/projects/sessioncore/runs?branch=main", "text/plain", strings.Repeat(out, 100), 413, "larger than"},
		{"bad run id", "/api/v1/projects/sessioncore/runs/abc", "", "", 400, "positive integer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := "POST"
			if tc.ctype == "" {
				method = "GET"
			}
			status, raw := e.api(t, method, tc.path, e.token, tc.ctype, tc.body, nil)
			if status != tc.status || !strings.Contains(raw, tc.msg) || !strings.Contains(raw, `"error"`) {
				t.Errorf("for %s, got %d %s, want %d with a JSON error containing %q", tc.name, status, raw, tc.status, tc.msg)
			}
		})
	}
	// With an all-projects token an unknown project is a 404.
	if status, raw := e.api(t, "POST", "/api/v1/projects/nope/runs?branch=main", e.admin, "text/plain", out, nil); status != 404 || !strings.Contains(raw, "unknown project") {
		t.Errorf("for an unknown project, got %d %s, want 404", status, raw)
	}
	runs, _ := e.db.Store.ListRuns(context.Background(), db.RunFilter{})
	if len(runs) != 0 {
		t.Errorf("after refused posts, got %d runs stored, want 0", len(runs))
	}
	// A JSON run with a single sample (no confidence interval) is stored.
	one := `{"branch":"main","testbed":"ci","commit":"abc1234","results":[{"name":"A/n=1","unit":"sec/op","samples":[1.5e-6]}]}`
	if status, raw := e.api(t, "POST", "/api/v1/projects/sessioncore/runs", e.token, "application/json", one, nil); status != 201 {
		t.Errorf("for a one-sample JSON run, got %d %s, want 201", status, raw)
	}
}

// TestAPIAuth sends every API route without a token, with a wrong one and with a revoked one.
func TestAPIAuth(t *testing.T) {
	e := newEnv(t, Config{}, nil)
	ctx := context.Background()
	_, revoked, err := e.db.Store.CreateToken(ctx, "sessioncore", "old")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.db.Store.RevokeToken(ctx, "sessioncore", "old"); err != nil {
		t.Fatal(err)
	}
	routes := []struct{ method, path string }{
		{"GET", "/api/v1/projects"},
		{"PUT", "/api/v1/projects/sessioncore"},
		{"POST", "/api/v1/projects/sessioncore/runs"},
		{"GET", "/api/v1/projects/sessioncore/runs"},
		{"GET", "/api/v1/projects/sessioncore/runs/1"},
		{"GET", "/api/v1/projects/sessioncore/history"},
		{"GET", "/api/v1/projects/sessioncore/baselines"},
		{"GET", "/api/v1/projects/sessioncore/baselines/main"},
		{"PUT", "/api/v1/projects/sessioncore/baselines/main"},
		{"DELETE", "/api/v1/projects/sessioncore/baselines/main"},
		{"GET", "/api/v1/projects/sessioncore/thresholds"},
		{"POST", "/api/v1/projects/sessioncore/thresholds"},
		{"PUT", "/api/v1/projects/sessioncore/thresholds/1"},
		{"DELETE", "/api/v1/projects/sessioncore/thresholds/1"},
		{"GET", "/api/v1/projects/sessioncore/alerts"},
		{"POST", "/api/v1/projects/sessioncore/alerts/1/acknowledge"},
	}
	for _, r := range routes {
		for _, tok := range []struct{ name, header string }{
			{"no token", ""},
			{"not bearer", "Basic dXNlcjpwdw=="},
			{"wrong token", "Bearer bd_0000000000000000000000000000000000000000000"},
			{"revoked token", "Bearer " + revoked},
		} {
			hdr := []string{}
			if tok.header != "" {
				hdr = []string{"Authorization", tok.header}
			}
			status, h, body := do(t, r.method, e.ts.URL+r.path, strings.NewReader(""), hdr...)
			if status != 401 || h.Get("WWW-Authenticate") == "" || !strings.Contains(body, `"error"`) {
				t.Errorf("for %s %s with %s, got %d %s, want 401 with WWW-Authenticate", r.method, r.path, tok.name, status, body)
			}
		}
	}
	// A project-scoped token cannot list projects or reach another project.
	if status, _ := e.api(t, "GET", "/api/v1/projects", e.token, "", "", nil); status != 403 {
		t.Errorf("for a scoped token listing projects, got %d, want 403", status)
	}
	if status, _ := e.api(t, "GET", "/api/v1/projects/other/runs", e.token, "", "", nil); status != 403 {
		t.Errorf("for a scoped token on another project, got %d, want 403", status)
	}
}

func TestBaselinesThresholdsAlerts(t *testing.T) {
	e := newEnv(t, Config{}, nil)
	p := "/api/v1/projects/sessioncore"
	check := func(method, path, body string, want int, wantIn string) string {
		t.Helper()
		ctype := ""
		if body != "" {
			ctype = "application/json"
		}
		status, raw := e.api(t, method, p+path, e.token, ctype, body, nil)
		if status != want || !strings.Contains(raw, wantIn) {
			t.Errorf("for %s %s %s, got %d %s, want %d containing %q", method, path, body, status, raw, want, wantIn)
		}
		return raw
	}
	var run IngestReply
	e.api(t, "POST", p+"/runs?branch=main", e.token, "text/plain", readBench(t), &run)

	check("GET", "/baselines/main", "", 404, "no baseline")
	check("PUT", "/baselines/main", `{"run_id":0}`, 422, "run_id")
	check("PUT", "/baselines/main", `{"run_id":999999}`, 422, "has no run")
	check("PUT", "/baselines/main", `{"run":1}`, 400, "unknown field")
	check("PUT", "/baselines/main", fmt.Sprintf(`{"run_id":%d}`, run.RunID), 200, `"name":"main"`)
	check("GET", "/baselines", "", 200, fmt.Sprintf(`"run_id":%d`, run.RunID))
	check("DELETE", "/baselines/main", "", 204, "")
	check("DELETE", "/baselines/main", "", 404, "not found")

	// Go benchmark text in, Go benchmark text out (what `benchd run --server` does).
	if status, raw := e.api(t, "PUT", p+"/baselines/v1.0", e.token, "text/plain", readBench(t), nil); status != 200 || !strings.Contains(raw, `"name":"v1.0"`) {
		t.Fatalf("PUT a text baseline: %d %s", status, raw)
	}
	status, _, text := do(t, "GET", e.ts.URL+p+"/baselines/v1.0", nil, "Authorization", "Bearer "+e.token, "Accept", "text/plain")
	set, err := runner.Parse(strings.NewReader(text), "baseline")
	if status != 200 || err != nil || len(set.Results) != 11 || len(set.Results[0].Samples) != 8 {
		t.Errorf("for GET a baseline as text, got %d %v %q, want the 11 results with 8 samples", status, err, text)
	}
	check("PUT", "/baselines/..", `{"run_id":1}`, 422, "")

	// Names with "/" (runner allows them: release/1.2), escaped as `benchd run` sends them
	// (url.PathEscape) or not.
	check("PUT", "/baselines/release%2F1.2", fmt.Sprintf(`{"run_id":%d}`, run.RunID), 200, `"name":"release/1.2"`)
	check("GET", "/baselines/release/1.2", "", 200, `"name":"release/1.2"`)
	check("GET", "/baselines/release%2F1.2", "", 200, `"name":"release/1.2"`)
	check("GET", "/baselines", "", 200, `"name":"release/1.2"`)
	if status, raw := e.api(t, "PUT", p+"/baselines/feature%2Fx", e.token, "text/plain", readBench(t), nil); status != 200 || !strings.Contains(raw, `"name":"feature/x"`) {
		t.Errorf("PUT a text baseline named feature/x: %d %s", status, raw)
	}
	if status, _, text := do(t, "GET", e.ts.URL+p+"/baselines/feature%2Fx", nil, "Authorization", "Bearer "+e.token, "Accept", "text/plain"); status != 200 || !strings.Contains(text, "BenchmarkLookup") {
		t.Errorf("for GET baseline feature/x as text, got %d %q", status, text)
	}
	check("DELETE", "/baselines/release%2F1.2", "", 204, "")
	check("GET", "/baselines/release/1.2", "", 404, "no baseline")

	check("GET", "/thresholds", "", 200, `"defaults":true`)
	check("POST", "/thresholds", `{"benchmark":"(","kind":"upper","warn":1}`, 422, "benchmark")
	check("POST", "/thresholds", `{"benchmark":"Lookup","kind":"sideways","warn":1}`, 422, "")
	raw := check("POST", "/thresholds", `{"benchmark":"Lookup","unit":"sec/op","kind":"upper","warn":1e-9,"note":"lookups under 1 ns"}`, 201, `"kind":"upper"`)
	check("POST", "/thresholds", `{"benchmark":"Lookup","unit":"sec/op","kind":"upper","warn":2e-9}`, 409, "already has")
	var th ThresholdView
	json.Unmarshal([]byte(raw), &th)
	check("PUT", fmt.Sprintf("/thresholds/%d", th.ID), `{"benchmark":"Lookup","unit":"sec/op","kind":"upper","warn":1e-8}`, 200, `"warn":1e-8`)
	check("GET", "/thresholds", "", 200, `"defaults":false`)

	// The static rule fires on the next run: a warning alert, then acknowledged once.
	var next IngestReply
	e.api(t, "POST", p+"/runs?branch=main", e.token, "text/plain", readBench(t), &next)
	if next.Status != "warning" || len(next.Alerts) != 1 {
		t.Fatalf("for a run over an upper limit, got %+v, want one warning alert", next)
	}
	check("POST", fmt.Sprintf("/alerts/%d/acknowledge", next.Alerts[0]), "", 200, `"status":"acknowledged"`)
	check("POST", fmt.Sprintf("/alerts/%d/acknowledge", next.Alerts[0]), "", 409, "only active")
	check("POST", "/alerts/999999/acknowledge", "", 404, "no alert")
	check("GET", "/alerts?status=bogus", "", 400, "status")
	check("GET", "/alerts?status=acknowledged", "", 200, `"rule":"upper"`)
	check("DELETE", fmt.Sprintf("/thresholds/%d", th.ID), "", 204, "")
	check("DELETE", fmt.Sprintf("/thresholds/%d", th.ID), "", 404, "no threshold")
	check("GET", "/runs?branch=main&limit=1", "", 200, fmt.Sprintf(`"id":%d`, next.RunID))
	check("GET", "/runs?limit=-1", "", 400, "limit")
	check("GET", "/history?name=Lookup", "", 400, "required")
	check("GET", "/runs/999999", "", 404, "not found")
}

// TestShortRunHasNoInterval: a result of fewer than 6 samples has no 95% CI; the API says
// null and the pages a dash, rather than an interval made up from the samples' range.
func TestShortRunHasNoInterval(t *testing.T) {
	e := newEnv(t, Config{}, nil)
	out := "goos: linux\ngoarch: amd64\nBenchmarkShort-2 100 10 ns/op\nBenchmarkShort-2 100 11 ns/op\nBenchmarkShort-2 100 12 ns/op\n"
	var rep IngestReply
	if status, raw := e.api(t, "POST", "/api/v1/projects/sessioncore/runs?branch=main&testbed=t", e.token, "text/plain", out, &rep); status != 201 {
		t.Fatalf("post: %d %s", status, raw)
	}
	_, raw := e.api(t, "GET", fmt.Sprintf("/api/v1/projects/sessioncore/runs/%d", rep.RunID), e.token, "", "", nil)
	if !strings.Contains(raw, `"ci_lo":null,"ci_hi":null`) {
		t.Errorf("for a run of 3 samples, got %s, want ci_lo and ci_hi null", raw)
	}
	_, raw = e.api(t, "GET", "/api/v1/projects/sessioncore/history?name=Short&unit=sec/op&branch=main&testbed=t", e.token, "", "", nil)
	if !strings.Contains(raw, `"ci_lo":null,"ci_hi":null`) {
		t.Errorf("for the history of 3 samples, got %s, want ci_lo and ci_hi null", raw)
	}
	for _, path := range []string{fmt.Sprintf("/runs/%d", rep.RunID), "/benchmark?project=sessioncore&branch=main&testbed=t&name=Short&unit=sec/op"} {
		status, _, body := do(t, "GET", e.ts.URL+path, nil)
		if status != 200 || !strings.Contains(body, `<td class="num opt">–</td>`) || strings.Contains(body, "Inf") {
			t.Errorf("for GET %s, got %d and a page without a dash for the interval (or with Inf)", path, status)
		}
	}
}
