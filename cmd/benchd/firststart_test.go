package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benchd/benchd/db/embedpg"
)

// TestServeMeasuresOnFirstStart starts a plain `benchd serve` (only a free port and a private
// data directory, nothing about jobs or schedules) in a fresh git repository holding a small
// project with a benchd.yaml (runner/testdata/fixture), and waits for what a newcomer should
// see: the project's quick suite queued at start, run by the built-in worker, and its run
// stored and listed — then the jobs page says the job is done and links the run.
func TestServeMeasuresOnFirstStart(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a benchmark suite")
	}
	if _, err := embedpg.FindBinDir(""); err != nil {
		t.Skip("no PostgreSQL server binaries:", err)
	}
	repo := t.TempDir()
	for _, f := range []string{"go.mod", "fixture.go", "fixture_test.go", "benchd.yaml"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "runner", "testdata", "fixture", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(repo, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"init", "--quiet", "-b", "trunk"}, {"add", "."},
		{"-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "--quiet", "-m", "fixture"}} {
		if out, err := exec.Command("git", append([]string{"-C", repo}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	t.Chdir(repo)

	dataDir := reachableDataDir(t)
	addrs := make(chan net.Addr, 1)
	onListen = func(a net.Addr) { addrs <- a }
	defer func() { onListen = nil }()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr syncBuffer
	env := &environ{stdin: strings.NewReader(""), stdout: io.Discard, stderr: &stderr, getenv: func(string) string { return "" }}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir, "--log-format", "json"}, env)
	}()
	var base string
	select {
	case a := <-addrs:
		base = "http://" + a.String()
	case err := <-done:
		t.Fatalf("serve exited early: %v\n%s", err, stderr.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not listen within 60s\n%s", stderr.String())
	}
	get := func(path string) string {
		t.Helper()
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	runLink := regexp.MustCompile(`<a href="/runs/(\d+)">`)
	var runs string
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(500 * time.Millisecond) {
		if runs = get("/runs"); runLink.MatchString(runs) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no run was stored within 5 minutes of a plain serve; /jobs says:\n%s\nlog:\n%s", get("/jobs"), stderr.String())
		}
	}
	id := runLink.FindStringSubmatch(runs)[1]
	if !strings.Contains(runs, "trunk") {
		t.Errorf("the first run is not of the repository's current branch trunk:\n%s", runs)
	}
	// The job is done once the worker returns (after the run is stored and its change points
	// searched), a moment after the run appears.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		jobsPage := get("/jobs")
		if strings.Contains(jobsPage, `href="/runs/`+id+`"`) && strings.Contains(jobsPage, ">done<") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the jobs page does not show the first job done with its run %s:\n%s", id, jobsPage)
		}
	}
	if dash := get("/"); !strings.Contains(dash, "Sum/n=100") || !strings.Contains(dash, "sessioncore · trunk") {
		t.Errorf("the dashboard (no main branch: the newest run's, trunk) does not show the fixture's benchmarks:\n%s", dash)
	}
	if log := stderr.String(); !strings.Contains(log, "queued a first run") || !strings.Contains(log, `"schedule":"6h"`) {
		t.Errorf("the log does not say a first run was queued and the default schedule set:\n%s", log)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve after cancel: got %v, want a clean exit", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not stop within 60s of its context ending")
	}
}

// syncBuffer is a bytes.Buffer safe for the server's log writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
