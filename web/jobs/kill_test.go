package jobs

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/benchd/benchd/db"
	"github.com/benchd/benchd/runner"
	"github.com/benchd/benchd/web"
)

// TestHelperWorkerProcess is not a test: TestKilledWorkerJobRunsElsewhere runs the test
// binary with BENCHD_HELPER_WORKER set, and this becomes a worker process whose suite hangs
// after saying "started", waiting to be killed.
func TestHelperWorkerProcess(t *testing.T) {
	dbURL := os.Getenv("BENCHD_HELPER_WORKER")
	if dbURL == "" {
		t.Skip("helper process")
	}
	ctx := context.Background()
	store, err := db.Open(ctx, dbURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	w := &Worker{Store: store, Repos: &RepoCache{Dir: os.Getenv("BENCHD_HELPER_CACHE")}, Testbed: "test",
		Run: func(ctx context.Context, cfg runner.RunConfig) (*runner.RunResult, error) {
			// What runner.Run would leave: a test binary in its temporary directory.
			if err := os.WriteFile(filepath.Join(cfg.TempDir, "bench0.test"), make([]byte, 7<<20), 0o755); err != nil {
				return nil, err
			}
			os.Stdout.WriteString("started\n")
			<-ctx.Done()
			return nil, ctx.Err()
		}}
	c, err := NewClient(pool, Config{JobTimeout: 10 * time.Minute, FetchPollInterval: 200 * time.Millisecond}, w, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	select {} // until SIGKILL
}

// TestKilledWorkerJobRunsElsewhere: a worker process is SIGKILLed in the middle of a job; the
// job is rescued and completes on another worker, and its run is stored once. The killed
// worker's worktree and test binary are removed when a worker starts again on its cache.
func TestKilledWorkerJobRunsElsewhere(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for River's rescuer (~30 s)")
	}
	h := newHarness(t, false)
	repo, head := gitRepo(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := NewQueue(h.d.Store, h.client).Enqueue(ctx, web.RunJob{Project: "bench", Repo: repo, Branch: "main", Commit: head, Suite: "quick", Trigger: "schedule"}); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWorkerProcess$", "-test.v=false")
	cache := t.TempDir()
	cmd.Env = append(os.Environ(), "BENCHD_HELPER_WORKER="+h.d.URL, "BENCHD_HELPER_CACHE="+cache)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	started := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "started") {
				started <- true
			}
		}
	}()
	select {
	case <-started:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("the helper worker did not start the job within 60s")
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no cleanup, the job stays "running"
		t.Fatal(err)
	}
	cmd.Wait()
	var state string
	h.pool.QueryRow(ctx, "SELECT state FROM river_job").Scan(&state)
	if state != "running" {
		t.Fatalf("after the kill, the job is %q, want running", state)
	}

	fake := func(ctx context.Context, cfg runner.RunConfig) (*runner.RunResult, error) {
		set, err := runner.Parse(strings.NewReader("goos: linux\ngoarch: amd64\nBenchmarkSum-2 100 5 ns/op\nBenchmarkSum-2 100 6 ns/op\n"), "fake")
		return &runner.RunResult{New: set}, err
	}
	left, _ := filepath.Glob(filepath.Join(cache, "worktrees", "job-*"))
	bins, _ := filepath.Glob(filepath.Join(cache, "worktrees", "job-*.tmp", "bench0.test"))
	if len(left) == 0 || len(bins) != 1 {
		t.Fatalf("after the kill, got leftovers %v and binaries %v, want the job's worktree and its test binary", left, bins)
	}
	// The worker restarts on the same cache (as `benchd worker` after a crash).
	w := &Worker{Store: h.d.Store, Repos: &RepoCache{Dir: cache}, Testbed: "test", Run: fake}
	c, err := NewClient(h.pool, Config{JobTimeout: 2 * time.Second, RescueAfter: 3 * time.Second, FetchPollInterval: 200 * time.Millisecond}, w, nil)
	if err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(cache, "worktrees", "*")); len(left) != 0 {
		t.Errorf("after the worker restarted, got %v in the cache's worktrees, want the killed job's leftovers removed", left)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer stopClient(c)
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		h.pool.QueryRow(ctx, "SELECT state FROM river_job").Scan(&state)
		if state == "completed" {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	var attempts int
	h.pool.QueryRow(ctx, "SELECT attempt FROM river_job").Scan(&attempts)
	runs, err := h.d.Store.ListRuns(ctx, db.RunFilter{Project: "bench"})
	if err != nil {
		t.Fatal(err)
	}
	if state != "completed" || attempts != 2 || len(runs) != 1 {
		t.Errorf("got job %s after %d attempts and %d runs, want completed on the second attempt with 1 run", state, attempts, len(runs))
	}
	if left, _ := filepath.Glob(filepath.Join(cache, "worktrees", "*")); len(left) != 0 {
		t.Errorf("after the job completed, got %v in the cache's worktrees, want none", left)
	}
}

// TestShutdownReleasesRunningJob: a worker stopped mid-job (SIGTERM → StopAndCancel) hands
// the job back for retry; another worker then completes it, with one run stored.
func TestShutdownReleasesRunningJob(t *testing.T) {
	h := newHarness(t, false)
	repo, head := gitRepo(t)
	ctx := context.Background()
	if _, err := NewQueue(h.d.Store, h.client).Enqueue(ctx, web.RunJob{Project: "bench", Repo: repo, Branch: "main", Commit: head, Suite: "quick", Trigger: "schedule"}); err != nil {
		t.Fatal(err)
	}
	started := make(chan bool, 1)
	hang := func(ctx context.Context, cfg runner.RunConfig) (*runner.RunResult, error) {
		started <- true
		<-ctx.Done()
		return nil, ctx.Err()
	}
	c1 := h.startWorker(t, ctx, Config{JobTimeout: time.Minute}, hang)
	select {
	case <-started:
	case <-time.After(60 * time.Second):
		t.Fatal("the job did not start within 60s")
	}
	sctx, scancel := context.WithTimeout(ctx, 20*time.Second)
	defer scancel()
	if err := c1.StopAndCancel(sctx); err != nil {
		t.Fatalf("stopping the worker: %v", err)
	}
	var state string
	h.pool.QueryRow(ctx, "SELECT state FROM river_job").Scan(&state)
	if state != "retryable" && state != "available" {
		t.Fatalf("after the worker stopped, the job is %q, want retryable", state)
	}
	// Make the retry due now rather than after River's backoff.
	if _, err := h.pool.Exec(ctx, "UPDATE river_job SET scheduled_at = now() WHERE state = 'retryable'"); err != nil {
		t.Fatal(err)
	}
	fake := func(ctx context.Context, cfg runner.RunConfig) (*runner.RunResult, error) {
		set, err := runner.Parse(strings.NewReader("goos: linux\ngoarch: amd64\nBenchmarkSum-2 100 5 ns/op\n"), "fake")
		return &runner.RunResult{New: set}, err
	}
	h.startWorker(t, ctx, Config{JobTimeout: time.Minute}, fake)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) && state != "completed" {
		time.Sleep(200 * time.Millisecond)
		h.pool.QueryRow(ctx, "SELECT state FROM river_job").Scan(&state)
	}
	runs, _ := h.d.Store.ListRuns(ctx, db.RunFilter{Project: "bench"})
	if state != "completed" || len(runs) != 1 {
		t.Errorf("got job %s and %d runs, want completed with 1 run", state, len(runs))
	}
}

// TestChangePointJobs: the change-point rule is part of every run's judgement — a run posted
// through the API queues no change-point job, and a lasting shift raises one alert (one per
// change: the regression and the change point are one family) when the first slow run is
// posted, which the later slow runs update. A change-point job left in the queue by an older
// benchd is completed by a worker without changing anything.
func TestChangePointJobs(t *testing.T) {
	h := newHarness(t, true)
	ctx := context.Background()
	if _, err := h.d.Store.EnsureProject(ctx, "bench"); err != nil {
		t.Fatal(err)
	}
	_, tok, err := h.d.Store.CreateToken(ctx, "bench", "ci")
	if err != nil {
		t.Fatal(err)
	}
	var runIDs []int64
	for i := range 14 {
		v := "20"
		if i >= 8 {
			v = "32"
		}
		body := fmt.Sprintf("goos: linux\ngoarch: amd64\nBenchmarkLookup-2 100 %s ns/op\nBenchmarkLookup-2 100 %s ns/op\n", v, v)
		req, _ := http.NewRequest("POST", h.ts.URL+"/api/v1/projects/bench/runs?branch=main&testbed=t", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "text/plain")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var rep web.IngestReply
		err = json.NewDecoder(res.Body).Decode(&rep)
		res.Body.Close()
		if res.StatusCode != 201 || err != nil {
			t.Fatalf("post %d: %d (%v)", i, res.StatusCode, err)
		}
		runIDs = append(runIDs, rep.RunID)
	}
	var queued int
	h.pool.QueryRow(ctx, "SELECT count(*) FROM river_job WHERE kind = 'benchd_changepoints'").Scan(&queued)
	if queued != 0 {
		t.Errorf("got %d change-point jobs, want none (the rule runs in each run's judgement)", queued)
	}
	check := func(when string) {
		t.Helper()
		as, err := h.d.Store.ListAlerts(ctx, db.AlertFilter{Project: "bench", Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(as) != 1 || as[0].Benchmark != "Lookup" || as[0].Unit != "sec/op" || (as[0].Rule != "changepoint" && as[0].Rule != "regression") ||
			as[0].Status != db.AlertActive || as[0].RunID != runIDs[8] || as[0].LastGoodRunID != runIDs[7] || as[0].LastRunID != runIDs[13] {
			t.Errorf("%s, got alerts %+v, want one active alert of the 60%% shift of Lookup: first bad run %d, last good %d, last seen in run %d",
				when, as, runIDs[8], runIDs[7], runIDs[13])
		}
	}
	check("after the posts")

	// An old change-point job is worked, and changes nothing.
	if _, err := h.client.Insert(ctx, changePointArgs{RunID: runIDs[13]}, nil); err != nil {
		t.Fatal(err)
	}
	if err := h.client.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		h.client.Stop(sctx)
	}()
	deadline := time.Now().Add(60 * time.Second)
	var state string
	for time.Now().Before(deadline) && state != "completed" {
		time.Sleep(200 * time.Millisecond)
		h.pool.QueryRow(ctx, "SELECT state FROM river_job WHERE kind = 'benchd_changepoints'").Scan(&state)
	}
	if state != "completed" {
		t.Errorf("got the old change-point job %q, want completed", state)
	}
	check("after the old change-point job")
}
