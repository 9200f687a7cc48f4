package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/benchd/benchd/db"
	"github.com/benchd/benchd/db/embedpg"
	"github.com/jackc/pgx/v5"
)

// TestMigrateAndTokenCommands drives `benchd migrate` and `benchd token` on the embedded
// default (a private cluster in --data-dir, started and stopped by each command), so the data
// must survive from one command to the next.
func TestMigrateAndTokenCommands(t *testing.T) {
	if _, err := embedpg.FindBinDir(""); err != nil {
		t.Skip("no PostgreSQL server binaries:", err)
	}
	dataDir := reachableDataDir(t)
	benchd := func(args ...string) (string, error) {
		t.Helper()
		var out, errOut bytes.Buffer
		env := &environ{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut,
			getenv: func(k string) string { return "" }}
		err := run(context.Background(), append(args, "--data-dir", dataDir), env)
		if err != nil {
			t.Logf("benchd %s: stderr: %s", strings.Join(args, " "), errOut.String())
		}
		return out.String(), err
	}
	mustRun := func(args ...string) string {
		t.Helper()
		out, err := benchd(args...)
		if err != nil {
			t.Fatalf("benchd %s: %v", strings.Join(args, " "), err)
		}
		return out
	}

	if out := mustRun("migrate", "status"); !strings.Contains(out, "benchd  1") || !strings.Contains(out, "pending") {
		t.Errorf("status of a new cluster: got\n%s\nwant benchd 1 pending", out)
	}
	if out := mustRun("migrate", "up"); !strings.Contains(out, "applied benchd 1 init") || !strings.Contains(out, "applied river") {
		t.Errorf("migrate up: got\n%s\nwant benchd's and River's migrations applied", out)
	}
	if out := mustRun("migrate", "up"); !strings.Contains(out, "nothing applied") {
		t.Errorf("second migrate up: got\n%s\nwant nothing applied", out)
	}
	plain := strings.TrimSpace(mustRun("token", "create", "--project", "p", "--name", "ci"))
	if !strings.HasPrefix(plain, "bdt_") || strings.Contains(plain, "\n") {
		t.Errorf("token create: got stdout %q, want the plaintext token alone", plain)
	}
	if out := mustRun("token", "list", "--project", "p"); !strings.Contains(out, " ci ") || strings.Contains(out, plain) {
		t.Errorf("token list: got\n%s\nwant token ci listed without its secret", out)
	}
	mustRun("token", "revoke", "--project", "p", "--name", "ci")
	if _, err := benchd("token", "revoke", "--project", "p", "--name", "ci"); err == nil {
		t.Error("revoking a revoked token: got nil, want an error")
	}
	if out := mustRun("migrate", "down", "--all"); !strings.Contains(out, "reverted benchd 1 init") {
		t.Errorf("migrate down --all: got\n%s\nwant benchd 1 reverted", out)
	}
	for _, bad := range [][]string{{"migrate"}, {"migrate", "sideways"}, {"token", "create"}, {"migrate", "down", "--steps", "0"}} {
		_, err := benchd(bad...)
		var ec exitCoder
		if err == nil || !errors.As(err, &ec) || ec.ExitCode() != 2 {
			t.Errorf("benchd %s: got %v, want a usage error (exit 2)", strings.Join(bad, " "), err)
		}
	}
}

// TestOpenDatabase: the private cluster is migrated by openDatabase itself and keeps its data
// from one open to the next; a server's schema is never migrated behind the operator's back,
// and a stale one is refused.
func TestOpenDatabase(t *testing.T) {
	if _, err := embedpg.FindBinDir(""); err != nil {
		t.Skip("no PostgreSQL server binaries:", err)
	}
	dataDir := reachableDataDir(t)
	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)
	store, closeDB, err := openDatabase(ctx, "", dataDir, logger)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.EnsureProject(ctx, "kept"); err != nil {
		t.Fatal(err)
	}
	closeDB()

	store, closeDB, err = openDatabase(ctx, "", dataDir, logger)
	if err != nil {
		t.Fatal(err)
	}
	projects, err := store.ListProjects(ctx)
	closeDB()
	if err != nil || len(projects) != 1 || projects[0].Name != "kept" {
		t.Errorf("after reopening, got projects %+v, %v, want [kept]", projects, err)
	}

	url, stop, err := startDatabase(ctx, "", dataDir, logger, false)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(ctx, "CREATE SCHEMA unmigrated")
	conn.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := openDatabase(ctx, url+"&search_path=unmigrated", "", logger); !errors.Is(err, db.ErrStaleSchema) {
		t.Errorf("openDatabase on an unmigrated server schema: got %v, want ErrStaleSchema", err)
	}
}

// reachableDataDir returns a temporary data directory the postgres user can reach when the
// tests run as root (t.TempDir and its parent are 0700).
func reachableDataDir(t *testing.T) string {
	t.Helper()
	dataDir := t.TempDir()
	for _, d := range []string{dataDir, filepath.Dir(dataDir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dataDir
}
