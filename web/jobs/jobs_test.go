package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/benchd/benchd/db"
	"github.com/benchd/benchd/db/dbtest"
	"github.com/benchd/benchd/runner"
	"github.com/benchd/benchd/web"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// gitRepo makes a local repository with a benchd.yaml whose quick suite benchmarks a tiny
// package, and returns its path and head commit.
func gitRepo(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"go.mod": "module example.com/bench\n\ngo 1.26.0\n",
		"benchd.yaml": `version: 1
suites:
  quick:
    package: ./bench
    bench: .
    count: 2
    benchtime: 200x
`,
		"bench/bench_test.go": `package bench

import "testing"

func BenchmarkSum(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		s := 0
		for i := range 1000 {
			s += i
		}
		_ = s
	}
}
`,
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("git", "init", "--quiet", "--initial-branch=main")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git init: %v\n%s", err, out)
	}
	return dir, commitAll(t, dir, "bench")
}

// commitAll commits every change in repo with message msg and returns the new head.
func commitAll(t *testing.T, repo, msg string) string {
	t.Helper()
	for _, args := range [][]string{{"add", "."}, {"-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "--quiet", "-m", msg}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = repo
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	out, err := exec.Command("git", "-C", repo, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// pushPayload is a push event in GitHub's documented shape (trimmed to common fields).
func pushPayload(repo, ref, before, after string) []byte {
	p := map[string]any{
		"ref": ref, "before": before, "after": after, "created": false, "deleted": false, "forced": false,
		"base_ref": nil, "compare": "https://github.com/octo/bench/compare/" + before[:12] + "..." + after[:12],
		"commits": []map[string]any{{"id": after, "message": "bench", "timestamp": "2026-11-22T09:00:00Z",
			"author": map[string]any{"name": "t", "email": "t@example.com"}, "added": []string{}, "removed": []string{}, "modified": []string{"bench/bench_test.go"}}},
		"head_commit": map[string]any{"id": after, "message": "bench"},
		"repository": map[string]any{"id": 1, "name": "bench", "full_name": "octo/bench", "private": false,
			"clone_url": repo, "html_url": "https://github.com/octo/bench", "default_branch": "main"},
		"pusher": map[string]any{"name": "octo", "email": "octo@example.com"},
		"sender": map[string]any{"login": "octo", "id": 1, "type": "User"},
	}
	b, _ := json.Marshal(p)
	return b
}

type harness struct {
	d      *dbtest.DB
	pool   *pgxpool.Pool
	client *river.Client[pgx.Tx]
	ts     *httptest.Server
}

const secret = "It's a Secret to Everybody"

func newHarness(t *testing.T, work bool) *harness {
	t.Helper()
	d := dbtest.Schema(t)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, d.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	var w *Worker
	if work {
		w = &Worker{Store: d.Store, Repos: &RepoCache{Dir: t.TempDir()}, Testbed: "test"}
	}
	client, err := NewClient(pool, Config{JobTimeout: 5 * time.Minute, FetchPollInterval: 200 * time.Millisecond}, w, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := web.New(web.Config{WebhookSecret: secret, WebhookProject: "bench"}, web.Deps{Store: d.Store, Jobs: NewQueue(d.Store, client)})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &harness{d: d, pool: pool, client: client, ts: ts}
}

func (h *harness) deliver(t *testing.T, event, delivery string, body []byte, sig string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", h.ts.URL+"/api/v1/webhooks/github", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", delivery)
	req.Header.Set("User-Agent", "GitHub-Hookshot/abc123")
	if sig != "" {
		req.Header.Set("X-Hub-Signature-256", sig)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out map[string]any
	json.Unmarshal(raw, &out)
	return res.StatusCode, out
}

func (h *harness) jobCount(t *testing.T) int {
	t.Helper()
	var n int
	if err := h.pool.QueryRow(context.Background(), "SELECT count(*) FROM river_job").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestWebhookDeliveries(t *testing.T) {
	h := newHarness(t, false)
	repo, head := gitRepo(t)
	push := pushPayload(repo, "refs/heads/main", strings.Repeat("0", 40), head)

	check := func(name, event, delivery string, body []byte, sig string, wantStatus int, wantAction string, wantJobs int) {
		t.Helper()
		status, out := h.deliver(t, event, delivery, body, sig)
		action, _ := out["action"].(string)
		if status != wantStatus || (wantAction != "" && action != wantAction) || h.jobCount(t) != wantJobs {
			t.Errorf("for %s, got %d %v with %d jobs, want %d %q with %d jobs", name, status, out, h.jobCount(t), wantStatus, wantAction, wantJobs)
		}
	}
	check("a bad signature", "push", "d-1", push, web.Sign([]byte("wrong"), push), 401, "", 0)
	check("no signature", "push", "d-1", push, "", 401, "", 0)
	check("a signature of another body", "push", "d-1", push, web.Sign([]byte(secret), []byte("{}")), 401, "", 0)
	check("ping", "ping", "d-0", []byte(`{"zen":"Keep it logically awesome.","hook_id":1}`), web.Sign([]byte(secret), []byte(`{"zen":"Keep it logically awesome.","hook_id":1}`)), 200, "pong", 0)
	check("a push to main", "push", "d-1", push, web.Sign([]byte(secret), push), 202, "queued", 1)
	check("a redelivery", "push", "d-1", push, web.Sign([]byte(secret), push), 200, "duplicate", 1)
	other := pushPayload(repo, "refs/heads/feature", strings.Repeat("0", 40), head)
	check("a push to another branch", "push", "d-2", other, web.Sign([]byte(secret), other), 202, "ignored", 1)
	tag := pushPayload(repo, "refs/tags/v1", strings.Repeat("0", 40), head)
	check("a tag push", "push", "d-3", tag, web.Sign([]byte(secret), tag), 202, "ignored", 1)
	issue := []byte(`{"action":"opened"}`)
	check("an issues event", "issues", "d-4", issue, web.Sign([]byte(secret), issue), 202, "ignored", 1)

	var args RunArgs
	var raw []byte
	if err := h.pool.QueryRow(context.Background(), "SELECT args FROM river_job").Scan(&raw); err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(raw, &args)
	if args.Commit != head || args.Branch != "main" || args.Repo != repo || args.Trigger != "webhook" || args.DeliveryID != "d-1" || args.Project != "bench" {
		t.Errorf("for the queued job, got %+v, want main@%s of %s", args, head, repo)
	}
}

// TestWebhookRunsSuite: a signed push → the worker runs the quick suite at that commit →
// the run is stored.
func TestWebhookRunsSuite(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a benchmark")
	}
	h := newHarness(t, true)
	repo, head := gitRepo(t)
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
	push := pushPayload(repo, "refs/heads/main", strings.Repeat("0", 40), head)
	if status, out := h.deliver(t, "push", "run-1", push, web.Sign([]byte(secret), push)); status != 202 {
		t.Fatalf("for a push, got %d %v, want 202", status, out)
	}
	deadline := time.Now().Add(2 * time.Minute)
	var runs []db.Run
	for time.Now().Before(deadline) {
		var err error
		runs, err = h.d.Store.ListRuns(ctx, db.RunFilter{Project: "bench"})
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) > 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(runs) != 1 {
		var state, errs string
		h.pool.QueryRow(ctx, "SELECT state, coalesce(errors::text, '') FROM river_job").Scan(&state, &errs)
		t.Fatalf("after the push, got %d runs (job %s %s), want 1", len(runs), state, errs)
	}
	r := runs[0]
	if r.Commit != head || r.Branch != "main" || string(r.Trigger) != "webhook" || r.Suite != "quick" || r.Testbed != "test" || r.ResultCount < 3 {
		t.Errorf("for the stored run, got %+v, want main@%s, webhook, quick, ≥ 3 results (sec/op, B/op, allocs/op)", r, head)
	}
	if r.IdempotencyKey == "" {
		t.Errorf("for the stored run, got no idempotency key, want river-job-<id>")
	}
	results, err := h.d.Store.Results(ctx, r.ID)
	if err != nil || len(results) == 0 || results[0].Name != "Sum" || len(results[0].Samples) != 2 {
		t.Errorf("for the results, got %+v (%v), want Sum with 2 samples", results, err)
	}
}

// TestTwoWorkersTwentyJobs: two workers (own clients and repository caches, as on two
// machines) share twenty queued jobs; every job runs once and stores one run.
func TestTwoWorkersTwentyJobs(t *testing.T) {
	h := newHarness(t, false)
	repo, head := gitRepo(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	q := NewQueue(h.d.Store, h.client)
	for i := range 20 {
		if _, err := q.Enqueue(ctx, web.RunJob{Project: "bench", Repo: repo, Branch: "main", Commit: head, Suite: "quick", Trigger: "webhook", DeliveryID: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	worked := map[string]int{}
	fake := func(name string) func(context.Context, runner.RunConfig) (*runner.RunResult, error) {
		return func(ctx context.Context, cfg runner.RunConfig) (*runner.RunResult, error) {
			mu.Lock()
			worked[name]++
			mu.Unlock()
			time.Sleep(20 * time.Millisecond)
			set, err := runner.Parse(strings.NewReader("goos: linux\ngoarch: amd64\nBenchmarkSum-2 100 5 ns/op\nBenchmarkSum-2 100 6 ns/op\n"), "fake")
			return &runner.RunResult{New: set}, err
		}
	}
	for _, name := range []string{"a", "b"} {
		h.startWorker(t, ctx, Config{Concurrency: 2, JobTimeout: time.Minute}, fake(name))
	}
	deadline := time.Now().Add(90 * time.Second)
	var done int
	for time.Now().Before(deadline) {
		h.pool.QueryRow(ctx, "SELECT count(*) FROM river_job WHERE state = 'completed'").Scan(&done)
		if done == 20 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	runs, err := h.d.Store.ListRuns(ctx, db.RunFilter{Project: "bench", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var attempts int
	h.pool.QueryRow(ctx, "SELECT coalesce(sum(attempt), 0) FROM river_job").Scan(&attempts)
	mu.Lock()
	defer mu.Unlock()
	if done != 20 || len(runs) != 20 || attempts != 20 || worked["a"]+worked["b"] != 20 {
		t.Errorf("got %d jobs completed, %d runs, %d attempts, suites run %v; want 20 of each, every job once", done, len(runs), attempts, worked)
		// Say why a job needed another attempt.
		rows, err := h.pool.Query(ctx, "SELECT id, errors::text FROM river_job WHERE errors IS NOT NULL")
		if err == nil {
			for rows.Next() {
				var id int64
				var errs string
				if rows.Scan(&id, &errs) == nil {
					t.Logf("job %d errors: %s", id, errs)
				}
			}
			rows.Close()
		}
	}
	keys := map[string]bool{}
	for _, r := range runs {
		keys[r.IdempotencyKey] = true
	}
	if len(keys) != 20 {
		t.Errorf("got %d distinct idempotency keys, want 20", len(keys))
	}
	t.Logf("jobs per worker: %v", worked)
}

// startWorker starts a worker (a River client with its own repository cache, as on another
// machine) whose suites run with run, polling every 200 ms; it is stopped when the test ends.
func (h *harness) startWorker(t *testing.T, ctx context.Context, cfg Config, run func(context.Context, runner.RunConfig) (*runner.RunResult, error)) *river.Client[pgx.Tx] {
	t.Helper()
	w := &Worker{Store: h.d.Store, Repos: &RepoCache{Dir: t.TempDir()}, Testbed: "test", Run: run}
	cfg.FetchPollInterval = 200 * time.Millisecond
	c, err := NewClient(h.pool, cfg, w, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		c.Stop(sctx)
	})
	return c
}
