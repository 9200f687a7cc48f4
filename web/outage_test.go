package web

import (
	"context"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benchd/benchd/db"
	"github.com/benchd/benchd/db/embedpg"
)

// proxy forwards TCP connections to target, which may change (a restarted server listens on
// a new port). Connections made while the target is down are closed at once.
type proxy struct {
	ln     net.Listener
	mu     sync.Mutex
	target string
	wg     sync.WaitGroup
	conns  map[net.Conn]bool
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() { defer p.wg.Done(); p.serve(c) }()
		}
	}()
	t.Cleanup(func() { ln.Close(); p.closeAll(); p.wg.Wait() })
	return p
}

func (p *proxy) serve(c net.Conn) {
	p.mu.Lock()
	target := p.target
	p.mu.Unlock()
	network := "tcp"
	if strings.HasPrefix(target, "/") {
		network = "unix"
	}
	b, err := net.DialTimeout(network, target, time.Second)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[b] = true, true
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { io.Copy(b, c); done <- struct{}{} }()
	go func() { io.Copy(c, b); done <- struct{}{} }()
	<-done
	c.Close()
	b.Close()
	<-done
}

func (p *proxy) setTarget(t string) { p.mu.Lock(); p.target = t; p.mu.Unlock() }

func (p *proxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]bool{}
}

// socketOf returns the unix socket of an embedded cluster's URL (host=/dir&port=N).
func socketOf(t *testing.T, dbURL string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if !strings.HasPrefix(q.Get("host"), "/") {
		t.Fatalf("cluster URL %s: want a unix socket", dbURL)
	}
	return filepath.Join(q.Get("host"), ".s.PGSQL."+q.Get("port"))
}

// privateCluster starts a migrated PostgreSQL cluster of this test's own (stopped and removed
// when it ends), in a directory under /tmp the postgres user can reach, and returns it with
// its data directory.
func privateCluster(t *testing.T, prefix string) (*embedpg.Cluster, string) {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", prefix)
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	t.Cleanup(func() { os.RemoveAll(dir) })
	ctx := context.Background()
	dataDir := filepath.Join(dir, "pg")
	cluster, err := embedpg.Start(ctx, embedpg.Config{DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cluster.Stop() })
	m, err := db.NewMigrator(ctx, cluster.URL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.Up(ctx); err != nil {
		t.Fatal(err)
	}
	return cluster, dataDir
}

// TestDatabaseRestart stops PostgreSQL while requests arrive: they fail with 503 (never a
// 500, never half a run stored), /readyz says not ready, and once the server is back the
// service recovers by itself.
func TestDatabaseRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and restarts a PostgreSQL cluster")
	}
	if _, err := embedpg.FindBinDir(""); err != nil {
		t.Skip("no PostgreSQL server binaries:", err)
	}
	ctx := context.Background()
	cluster, dataDir := privateCluster(t, "benchd-outage-")
	px := newProxy(t, socketOf(t, cluster.URL()))
	viaProxy := "postgres://postgres@" + px.ln.Addr().String() + "/benchd?sslmode=disable"
	store, err := db.Open(ctx, viaProxy, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	if _, err := store.EnsureProject(ctx, "sessioncore"); err != nil {
		t.Fatal(err)
	}
	_, tok, err := store.CreateToken(ctx, "sessioncore", "ci")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvStore(t, store, tok)
	out := readBench(t)
	post := func() (int, string) {
		return e.api(t, "POST", "/api/v1/projects/sessioncore/runs?branch=main", e.token, "text/plain", out, nil)
	}
	if status, raw := post(); status != 201 {
		t.Fatalf("before the outage, got %d %s", status, raw)
	}

	if err := cluster.Stop(); err != nil {
		t.Fatal(err)
	}
	px.closeAll()
	for i := range 5 {
		if status, raw := post(); status != 503 || !strings.Contains(raw, "database unavailable") {
			t.Errorf("during the outage (post %d), got %d %s, want 503", i, status, raw)
		}
	}
	if status, _, _ := do(t, "GET", e.ts.URL+"/readyz", nil); status != 503 {
		t.Errorf("for /readyz during the outage, got %d, want 503", status)
	}
	if status, _, body := do(t, "GET", e.ts.URL+"/", nil, "Accept", "text/html"); status != 503 || !strings.Contains(body, "<html") || strings.Contains(body, "goroutine") {
		t.Errorf("for a page during the outage, got %d %q, want a 503 HTML page", status, body)
	}

	cluster, err = embedpg.Start(ctx, embedpg.Config{DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cluster.Stop() })
	px.setTarget(socketOf(t, cluster.URL()))
	deadline := time.Now().Add(20 * time.Second)
	var status int
	var raw string
	for time.Now().Before(deadline) {
		if status, raw = post(); status == 201 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if status != 201 {
		t.Fatalf("after the restart, got %d %s, want the service to recover", status, raw)
	}
	runs, err := store.ListRuns(ctx, db.RunFilter{Project: "sessioncore"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		if r.ResultCount != 11 {
			t.Errorf("run %d has %d results, want 11: half a run was stored", r.ID, r.ResultCount)
		}
	}
	if len(runs) != 2 {
		t.Errorf("got %d runs, want 2 (before and after the outage)", len(runs))
	}
}
