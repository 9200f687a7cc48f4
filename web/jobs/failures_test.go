package jobs

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/benchd/benchd/runner"
	"github.com/benchd/benchd/web"
)

// syncBuffer is a bytes.Buffer safe for River's goroutines to log into.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestFailedJobsAreVisible: a job that can never succeed (a commit the repository does not
// have) is cancelled after one attempt instead of being retried three times; the failure is
// logged at ERROR with the error, counted in benchd_job_failures_total and recorded in
// River's job errors.
func TestFailedJobsAreVisible(t *testing.T) {
	h := newHarness(t, false)
	repo, _ := gitRepo(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs syncBuffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	metrics := web.NewMetrics(prometheus.NewRegistry(), nil)
	w := &Worker{Store: h.d.Store, Repos: &RepoCache{Dir: t.TempDir()}, Testbed: "test", JobFailures: metrics.JobFailures, Log: log}
	missing := strings.Repeat("de", 20)
	state, attempts, errs := runOneJob(ctx, t, h, w, log, web.RunJob{Project: "bench", Repo: repo, Branch: "main", Commit: missing, Suite: "quick", Trigger: "schedule"})
	if state != "cancelled" || attempts != 1 || !strings.Contains(string(errs), "finding "+missing) {
		t.Errorf("for a job of a missing commit, got %s after %d attempts with errors %s, want cancelled after 1 with the error recorded", state, attempts, errs)
	}
	var m dto.Metric
	metrics.JobFailures.WithLabelValues("benchd_run", "cancelled").Write(&m)
	if got := m.GetCounter().GetValue(); got != 1 {
		t.Errorf("for benchd_job_failures_total{kind=benchd_run,outcome=cancelled}, got %v, want 1", got)
	}
	if l := logs.String(); !strings.Contains(l, `"level":"ERROR","msg":"job failed"`) || !strings.Contains(l, `"outcome":"cancelled"`) || !strings.Contains(l, missing) {
		t.Errorf("the log has no ERROR line for the cancelled job with its error:\n%s", l)
	}
}

// runOneJob starts a client with w, enqueues job, waits (up to a minute) for it to be
// cancelled or discarded, and returns its state, attempts and recorded errors.
func runOneJob(ctx context.Context, t *testing.T, h *harness, w *Worker, log *slog.Logger, job web.RunJob) (state string, attempts int, errs []byte) {
	t.Helper()
	c, err := NewClient(h.pool, Config{JobTimeout: time.Minute, FetchPollInterval: 200 * time.Millisecond}, w, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer stopClient(c)
	id, err := NewQueue(h.d.Store, h.client).Enqueue(ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		h.pool.QueryRow(ctx, "SELECT state, attempt, errors::text FROM river_job WHERE id = $1", id).Scan(&state, &attempts, &errs)
		if state == "cancelled" || state == "discarded" {
			break
		}
	}
	return state, attempts, errs
}

// TestSweepRemovesLeftovers: worktrees (and their .tmp directories) whose owner process is
// gone are removed when a worker starts; a live process's worktree is kept.
func TestSweepRemovesLeftovers(t *testing.T) {
	dir := t.TempDir()
	wt := filepath.Join(dir, "worktrees")
	os.MkdirAll(filepath.Join(wt, "job-1.tmp", "benchd-run-1"), 0o755)
	os.MkdirAll(filepath.Join(wt, "job-1"), 0o755)
	os.WriteFile(filepath.Join(wt, "job-1.tmp", "benchd-run-1", "bench0.test"), make([]byte, 1<<20), 0o755)
	os.WriteFile(filepath.Join(wt, "job-1.pid"), []byte("999999999"), 0o644) // no such process
	os.MkdirAll(filepath.Join(wt, "job-2"), 0o755)                           // no owner file: an older benchd's
	os.MkdirAll(filepath.Join(wt, "job-3"), 0o755)
	os.WriteFile(filepath.Join(wt, "job-3.pid"), []byte("1"), 0o644) // init: alive
	removed, err := (&RepoCache{Dir: dir}).Sweep(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(wt)
	var left []string
	for _, e := range ents {
		left = append(left, e.Name())
	}
	if strings.Join(removed, ",") != "job-1,job-2" || strings.Join(left, ",") != "job-3,job-3.pid" {
		t.Errorf("after a sweep, got removed %v and left %v, want job-1, job-2 removed and job-3 kept", removed, left)
	}
}

// TestRunKeepsBinariesBesideWorktree: the worker's suite runs get <worktree>.tmp as their
// temporary directory, removed when the run ends.
func TestRunKeepsBinariesBesideWorktree(t *testing.T) {
	var got string
	w := &Worker{Run: func(ctx context.Context, cfg runner.RunConfig) (*runner.RunResult, error) {
		got = cfg.TempDir
		_, err := os.Stat(got)
		return nil, err
	}}
	w.inTempDir()
	w.inTempDir() // idempotent
	dir := filepath.Join(t.TempDir(), "job-7")
	if _, err := w.Run(context.Background(), runner.RunConfig{Dir: dir}); err != nil {
		t.Fatalf("for the run's temporary directory, got %v", err)
	}
	if got != dir+".tmp" {
		t.Errorf("for the run's TempDir, got %q, want %q", got, dir+".tmp")
	}
	if _, err := os.Stat(got); !os.IsNotExist(err) {
		t.Errorf("after the run, %s: got %v, want it removed", got, err)
	}
}

func stopClient(c interface{ Stop(context.Context) error }) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c.Stop(ctx)
}

// TestJobWithoutValgrindIsCancelled: a suite that counts instructions on a machine without
// valgrind fails once, with an error that says what to do, instead of being retried.
func TestJobWithoutValgrindIsCancelled(t *testing.T) {
	h := newHarness(t, false)
	repo, sha := gitRepo(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.NewTextHandler(&syncBuffer{}, nil))
	w := &Worker{Store: h.d.Store, Repos: &RepoCache{Dir: t.TempDir()}, Testbed: "test", Log: log,
		Run: func(ctx context.Context, cfg runner.RunConfig) (*runner.RunResult, error) {
			return nil, fmt.Errorf("running: %w: exec: \"valgrind\": executable file not found in $PATH", runner.ErrNoValgrind)
		}}
	state, attempts, errs := runOneJob(ctx, t, h, w, log, web.RunJob{Project: "bench", Repo: repo, Branch: "main", Commit: sha, Suite: "quick", Trigger: "schedule"})
	if state != "cancelled" || attempts != 1 || !strings.Contains(string(errs), "apt-get install valgrind") || !strings.Contains(string(errs), "measure: time") {
		t.Errorf("got %s after %d attempts with errors %s, want cancelled after 1, saying to install valgrind or measure time", state, attempts, errs)
	}
}
