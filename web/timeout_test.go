package web

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/benchd/benchd/db"
	"github.com/benchd/benchd/db/embedpg"
)

// TestLockHeldRequestTimesOut: while another session holds an exclusive lock on the runs
// table, a POST answers 503 with Retry-After once the request timeout passes (not when the
// lock is released), pages that read runs do too, and /readyz stays ready and fast.
func TestLockHeldRequestTimesOut(t *testing.T) {
	const timeout = 2 * time.Second
	e := newEnv(t, Config{RequestTimeout: timeout}, nil)
	out := readBench(t)
	path := "/api/v1/projects/sessioncore/runs?branch=main&testbed=t"
	if status, raw := e.api(t, "POST", path, e.token, "text/plain", out, nil); status != 201 {
		t.Fatalf("before the lock, got %d %s", status, raw)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, e.db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE runs IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	locked := time.Now()

	start := time.Now()
	status, hdr, body := do(t, "POST", e.ts.URL+path, strings.NewReader(out), "Authorization", "Bearer "+e.token, "Content-Type", "text/plain")
	took := time.Since(start)
	t.Logf("POST with runs locked: %d after %v (request timeout %v)", status, took.Round(time.Millisecond), timeout)
	if status != 503 || hdr.Get("Retry-After") == "" || !strings.Contains(body, "database unavailable") {
		t.Errorf("for a POST while runs is locked, got %d (Retry-After %q) %s, want 503 with Retry-After", status, hdr.Get("Retry-After"), body)
	}
	if took < timeout-100*time.Millisecond || took > 5*timeout {
		t.Errorf("for a POST while runs is locked, answered after %v, want about the request timeout %v", took, timeout)
	}
	start = time.Now()
	status, _, _ = do(t, "GET", e.ts.URL+"/runs", nil, "Accept", "text/html")
	t.Logf("GET /runs with runs locked: %d after %v", status, time.Since(start).Round(time.Millisecond))
	if status != 503 {
		t.Errorf("for the runs page while runs is locked, got %d, want 503", status)
	}
	start = time.Now()
	status, _, body = do(t, "GET", e.ts.URL+"/readyz", nil)
	t.Logf("GET /readyz with runs locked: %d after %v", status, time.Since(start).Round(time.Millisecond))
	if status != 200 || time.Since(start) > 5*time.Second {
		t.Errorf("for /readyz while runs is locked, got %d %s after %v, want 200 at once", status, body, time.Since(start))
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("lock held for %v", time.Since(locked).Round(time.Millisecond))
	if status, raw := e.api(t, "POST", path, e.token, "text/plain", out, nil); status != 201 {
		t.Errorf("after the lock, got %d %s, want 201", status, raw)
	}
	runs, err := e.db.Store.ListRuns(ctx, db.RunFilter{Project: "sessioncore"})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 {
		t.Errorf("got %d runs, want 2: the POST answered 503 stored nothing", len(runs))
	}
}

// TestDatabaseFreeze stops every PostgreSQL process (SIGSTOP) while requests arrive: they
// answer 503 within the request timeout instead of hanging for the freeze, /readyz answers
// 503 within a second, nothing answered 503 is stored, and the service recovers after SIGCONT.
func TestDatabaseFreeze(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL cluster")
	}
	if _, err := embedpg.FindBinDir(""); err != nil {
		t.Skip("no PostgreSQL server binaries:", err)
	}
	ctx := context.Background()
	cluster, _ := privateCluster(t, "benchd-freeze-")
	store, err := db.Open(ctx, cluster.URL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	store.EnsureProject(ctx, "sessioncore")
	_, tok, err := store.CreateToken(ctx, "sessioncore", "ci")
	if err != nil {
		t.Fatal(err)
	}
	const timeout = 2 * time.Second
	s, err := New(Config{RequestTimeout: timeout}, Deps{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvStoreServer(t, s, tok)
	out := readBench(t)
	created := 0
	post := func() (int, string) {
		status, raw := e.api(t, "POST", "/api/v1/projects/sessioncore/runs?branch=main", e.token, "text/plain", out, nil)
		if status == 201 {
			created++
		}
		return status, raw
	}
	if status, raw := post(); status != 201 {
		t.Fatalf("before the freeze, got %d %s", status, raw)
	}
	pidFile, err := os.ReadFile(filepath.Join(cluster.DataDir(), "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.SplitN(string(pidFile), "\n", 2)[0])
	// The server and its children (each backend is a session leader of its own).
	procs := append(childrenOf(pid), pid)
	for _, p := range procs {
		syscall.Kill(p, syscall.SIGSTOP)
	}
	thawed := false
	thaw := func() {
		if !thawed {
			for _, p := range procs {
				syscall.Kill(p, syscall.SIGCONT)
			}
			thawed = true
		}
	}
	t.Cleanup(thaw)
	for i := range 3 {
		start := time.Now()
		status, raw := post()
		took := time.Since(start)
		t.Logf("POST %d during the freeze: %d after %v", i, status, took.Round(time.Millisecond))
		if status >= 500 && status != 503 || status == 201 || took > 5*timeout {
			t.Errorf("during the freeze (post %d), got %d %s after %v, want 503 within about %v", i, status, raw, took, timeout)
		}
	}
	start := time.Now()
	status, _, body := do(t, "GET", e.ts.URL+"/readyz", nil)
	t.Logf("GET /readyz during the freeze: %d after %v", status, time.Since(start).Round(time.Millisecond))
	if status != 503 || time.Since(start) > 3*time.Second || !strings.Contains(body, `"message":"database unavailable"`) {
		t.Errorf("for /readyz during the freeze, got %d %s after %v, want 503 database unavailable within a second", status, body, time.Since(start))
	}
	thaw()
	var raw string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if status, raw = post(); status == 201 {
			break
		}
	}
	if status != 201 {
		t.Fatalf("after the freeze, got %d %s, want the service to recover", status, raw)
	}
	runs, err := store.ListRuns(ctx, db.RunFilter{Project: "sessioncore"})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != created {
		t.Errorf("got %d runs, want %d (the 201s): a request answered 503 was stored", len(runs), created)
	}
}

// childrenOf returns the pids whose parent is pid, from /proc.
func childrenOf(pid int) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, n)
		}
	}
	return out
}
