package web

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
)

const xssName = `<script>alert(1)</script>`

// seedRegression posts two runs of main, the second with Create/n=1000 three times slower and
// a benchmark whose name is markup, and returns the second run's reply.
func seedRegression(t *testing.T, e *env) IngestReply {
	t.Helper()
	out := readBench(t) + "BenchmarkX" + xssName + "-2 \t 100 \t 10 ns/op\n"
	var first, second IngestReply
	if status, raw := e.api(t, "POST", "/api/v1/projects/sessioncore/runs?branch=main&commit=c111111&testbed=bench", e.token, "text/plain", out, &first); status != 201 {
		t.Fatalf("seeding: %d %s", status, raw)
	}
	if status, raw := e.api(t, "POST", "/api/v1/projects/sessioncore/runs?branch=main&commit=c222222&testbed=bench", e.token, "text/plain", slowed(out, "Create/n=1000", 3), &second); status != 201 || second.Status != "regressed" {
		t.Fatalf("seeding the regression: %d %s", status, raw)
	}
	return second
}

func TestPagesRender(t *testing.T) {
	e := newEnv(t, Config{}, nil)
	rep := seedRegression(t, e)
	bench := "/benchmark?" + url.Values{"project": {"sessioncore"}, "branch": {"main"}, "testbed": {"bench"}, "name": {"Create/n=1000"}, "unit": {"sec/op"}}.Encode()
	xss := "/benchmark?" + url.Values{"project": {"sessioncore"}, "branch": {"main"}, "testbed": {"bench"}, "name": {"X" + xssName}, "unit": {"sec/op"}}.Encode()
	for _, tc := range []struct {
		path   string
		status int
		want   []string
	}{
		{"/", 200, []string{"sessioncore · main", `data-status="regressed"`, "Create/n=1000", "delta_chart", `<svg class="spark"`, `<tr class="group"><th colspan="10">Create</th>`}},
		{fmt.Sprintf("/runs/%d", rep.RunID), 200, []string{"Run ", `data-status="regressed"`, "regression", "delta_chart", "echarts.min.", "X&lt;script&gt;", `X\u003cscript>alert(1)\u003c/script>`}},
		{"/runs", 200, []string{fmt.Sprintf(`/runs/%d`, rep.RunID)}},
		{"/alerts", 200, []string{"Create/n=1000", "regression"}},
		{"/alerts?status=active", 200, []string{"Create/n=1000"}},
		{bench, 200, []string{"history_chart", "Create/n=1000", "alert", "echarts.init"}},
		{bench + "&x=commit", 200, []string{`"type":"category"`, `"xAxis":{"data":["c111111","c222222"]}`, `"commit":"c222222","date":`, `"status":"regressed"`, `id="x-time"`}},
		{bench + "&x=bogus", 400, []string{"time or commit"}},
		{xss, 200, []string{"&lt;script&gt;alert(1)&lt;/script&gt;"}},
		{fmt.Sprintf("/compare?old=%d&new=%d", rep.Baseline.RunID, rep.RunID), 200, []string{`data-status="regressed"`, "Create/n=1000", "1 regressed"}},
		{"/compare?old=baseline:nope&new=" + fmt.Sprint(rep.RunID), 404, []string{"no baseline"}},
		{"/compare?old=1", 400, []string{"needs ?new"}},
		{fmt.Sprintf("/runs/%d", rep.RunID), 200, []string{"Compare side by side"}},
		{"/runs/999999", 404, []string{"404"}},
		{"/runs/abc", 400, []string{"positive integer"}},
		{"/benchmark?project=sessioncore", 400, []string{"needs the query parameter"}},
		{"/alerts?status=bogus", 400, []string{"Unknown alert status"}},
	} {
		status, hdr, body := do(t, "GET", e.ts.URL+tc.path, nil, "Accept", "text/html")
		if status != tc.status || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") {
			t.Errorf("for GET %s, got %d %s, want %d HTML", tc.path, status, hdr.Get("Content-Type"), tc.status)
		}
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("for GET %s, the page lacks %q", tc.path, w)
			}
		}
		if strings.Contains(body, xssName) {
			t.Errorf("for GET %s, the page contains the benchmark name as raw markup", tc.path)
		}
		if strings.Contains(body, "https://") {
			t.Errorf("for GET %s, the page refers to an external https:// resource", tc.path)
		}
	}
}

func TestBenchmarkPageChangePoint(t *testing.T) {
	e := newEnv(t, Config{}, nil)
	out := readBench(t)
	var ids []int64
	for i := range 12 {
		body := out
		if i >= 6 {
			body = slowed(out, "Lookup", 3)
		}
		var rep IngestReply
		if status, raw := e.api(t, "POST", fmt.Sprintf("/api/v1/projects/sessioncore/runs?branch=main&testbed=bench&commit=c%06d", i), e.token, "text/plain", body, &rep); status != 201 {
			t.Fatalf("post %d: %d %s", i, status, raw)
		}
		ids = append(ids, rep.RunID)
	}
	// A feature branch's run, overlaid.
	if status, raw := e.api(t, "POST", "/api/v1/projects/sessioncore/runs?branch=feature&testbed=bench", e.token, "text/plain", out, nil); status != 201 {
		t.Fatalf("post feature: %d %s", status, raw)
	}
	u := "/benchmark?" + url.Values{"project": {"sessioncore"}, "branch": {"main"}, "testbed": {"bench"}, "name": {"Lookup"}, "unit": {"sec/op"}, "overlay": {"feature"}}.Encode()
	status, _, body := do(t, "GET", e.ts.URL+u, nil)
	if !strings.Contains(body, `"name":"median on feature"`) || !strings.Contains(body, `>feature</option>`) {
		t.Errorf("for ?overlay=feature, the page has no overlay series or branch choice")
	}
	// By commit with the overlay: one category per run of either branch, in run order (the
	// feature run, posted last and without a commit, is labelled by its run).
	_, _, byCommit := do(t, "GET", e.ts.URL+u+"&x=commit", nil)
	wantCats := `"xAxis":{"data":["c000000","c000001","c000002","c000003","c000004","c000005","c000006","c000007","c000008","c000009","c000010","c000011","#`
	if !strings.Contains(byCommit, wantCats) || !strings.Contains(byCommit, `"name":"median on feature"`) {
		t.Errorf("for ?overlay=feature&x=commit, the page lacks %s… or the overlay series", wantCats)
	}
	want := fmt.Sprintf(`from <a href="/runs/%d">run %d</a>`, ids[6], ids[6])
	if status != 200 || !strings.Contains(body, "Change points") || !strings.Contains(body, want) || !strings.Contains(body, "change +") {
		t.Errorf("for a level shift at run %d, got %d and a page without %q", ids[6], status, want)
	}
}

// TestCommitMetadataShown stores what is known of a commit (as benchd post does from git) and
// finds it on the run page and in the benchmark chart's tooltip data.
func TestCommitMetadataShown(t *testing.T) {
	e := newEnv(t, Config{}, nil)
	rep := seedRegression(t, e)
	body := `{"message": "sessions: allocate the mailbox eagerly\n\nA longer body.", "committed_at": "2026-11-30T10:00:00+01:00"}`
	if status, raw := e.api(t, "PUT", "/api/v1/projects/sessioncore/commits/c222222", e.token, "application/json", body, nil); status != 204 {
		t.Fatalf("PUT commit: %d %s", status, raw)
	}
	if status, _ := e.api(t, "PUT", "/api/v1/projects/sessioncore/commits/not-a-sha", e.token, "application/json", body, nil); status != 400 {
		t.Errorf("for PUT of a commit that is not hexadecimal, got %d, want 400", status)
	}
	_, _, run := do(t, "GET", fmt.Sprintf("%s/runs/%d", e.ts.URL, rep.RunID), nil)
	for _, want := range []string{"sessions: allocate the mailbox eagerly", "committed 2026-11-30 09:00 UTC"} {
		if !strings.Contains(run, want) {
			t.Errorf("the run page of commit c222222 lacks %q", want)
		}
	}
	if strings.Contains(run, "A longer body") {
		t.Errorf("the run page shows the commit message's body, want its first line only")
	}
	bench := "/benchmark?" + url.Values{"project": {"sessioncore"}, "branch": {"main"}, "testbed": {"bench"}, "name": {"Create/n=1000"}, "unit": {"sec/op"}}.Encode()
	if _, _, page := do(t, "GET", e.ts.URL+bench, nil); !strings.Contains(page, `"msg":"sessions: allocate the mailbox eagerly"`) {
		t.Errorf("the benchmark chart's data lacks the commit message of c222222")
	}
}

// TestDashboardOpenRegressions renders the dashboard's "Open regressions" block from a
// hand-made value (the judgement fills DashboardPage.OpenRegressions): worst first at the top,
// each with its change, what it was judged against and its commit range, names escaped; and
// nothing at all when the list is empty.
func TestDashboardOpenRegressions(t *testing.T) {
	a, err := loadAssets()
	if err != nil {
		t.Fatal(err)
	}
	pages, err := parseTemplates(a)
	if err != nil {
		t.Fatal(err)
	}
	render := func(v *DashboardPage) string {
		t.Helper()
		var b strings.Builder
		if err := pages["dashboard"].ExecuteTemplate(&b, "layout", page{Nav: "dashboard", Data: v}); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	v := &DashboardPage{Projects: []string{"sessioncore"}, Project: "sessioncore", Branch: "main", OpenRegressions: []OpenRegression{{
		AlertID: 7, Benchmark: "Create/n=1000" + xssName, Unit: "sec/op", Link: "/benchmark?name=Create", Size: "+25.3%",
		Value: "38.57 µs", Baseline: "30.48 µs", BaselineName: "baseline main (run 30)", FirstBad: 41, LastGood: 40,
		FromCommit: "a168469", ToCommit: "a16a358", Status: "regressed"}}}
	got := render(v)
	for _, want := range []string{`id="open-regressions"`, "Open regressions", "Create/n=1000&lt;script&gt;", "&#43;25.3%", "38.57 µs", "was 30.48 µs",
		"baseline main (run 30)", `<a href="/runs/40"><code>a168469</code></a> → <a href="/runs/41"><code>a16a358</code></a>`, `data-status="regressed"`} {
		if !strings.Contains(got, want) {
			t.Errorf("the dashboard with an open regression lacks %q", want)
		}
	}
	if strings.Contains(got, xssName) {
		t.Errorf("the open regression's name is raw markup")
	}
	if i, j := strings.Index(got, "Open regressions"), strings.Index(got, "No runs of"); i < 0 || (j >= 0 && j < i) {
		t.Errorf("the open regressions are not first on the page")
	}
	v.OpenRegressions = nil
	if got := render(v); strings.Contains(got, "open-regressions") {
		t.Errorf("with no open regressions, the dashboard still has the block")
	}
}
