package embedpg

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"
)

// helperEnv makes the test binary act as a launcher that starts a cluster in the named data
// directory, prints its URL and waits to be killed.
const helperEnv = "BENCHD_EMBEDPG_HELPER_DATADIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperEnv); dir != "" {
		c, err := Start(context.Background(), Config{DataDir: dir})
		if err != nil {
			fmt.Println("ERROR", err)
			os.Exit(1)
		}
		fmt.Println("URL", c.URL())
		select {} // wait for SIGKILL
	}
	goleak.VerifyTestMain(m)
}

// launcher returns a command that runs this test binary as a launcher of dataDir.
func launcher(dataDir string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+dataDir)
	return cmd
}

// launch starts a launcher command of dataDir and returns the URL it prints. When the test
// ends the launcher is killed (SIGKILL), if the test has not done so, and its server is given
// time to go with it before t.TempDir's cleanup removes the files.
func launch(t *testing.T, cmd *exec.Cmd, dataDir string) string {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	serverPid := 0
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		for deadline := time.Now().Add(20 * time.Second); serverPid > 0 && isPostgres(serverPid) && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "URL ") {
		t.Fatalf("launcher: got %q, %v, want a URL line", line, err)
	}
	if b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid")); err == nil {
		serverPid, _ = strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0])
	}
	return strings.TrimSpace(strings.TrimPrefix(line, "URL "))
}

// traversableTempDir returns a temporary directory the postgres user can reach when the
// tests run as root (t.TempDir is 0700).
func traversableTempDir(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Dir(d), 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

func skipWithoutBinaries(t *testing.T) {
	t.Helper()
	if _, err := FindBinDir(""); err != nil {
		t.Skip("no PostgreSQL server binaries:", err)
	}
}

func exec1(t *testing.T, url, sql string, args ...any) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connecting to %s: %v", url, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func count(t *testing.T, url, table string) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connecting to %s: %v", url, err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestEphemeralStartStop(t *testing.T) {
	skipWithoutBinaries(t)
	c, err := Start(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	exec1(t, c.URL(), "CREATE TABLE t (x int)")
	root := filepath.Dir(c.DataDir())
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(root); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("for ephemeral directory %s after Stop, got stat error %v, want not exist", root, err)
	}
	if err := c.Stop(); err != nil {
		t.Errorf("second Stop: got %v, want nil", err)
	}
}

func TestStopOnContextCancel(t *testing.T) {
	skipWithoutBinaries(t)
	ctx, cancel := context.WithCancel(context.Background())
	c, err := Start(ctx, Config{})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case <-c.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("server still running 30 s after its context was cancelled")
	}
	_ = c.Stop()
}

func TestRestartKeepsData(t *testing.T) {
	skipWithoutBinaries(t)
	dir := filepath.Join(traversableTempDir(t), "pgdata")
	c, err := Start(context.Background(), Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	exec1(t, c.URL(), "CREATE TABLE kept (x int); INSERT INTO kept VALUES (1), (2)")
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	c, err = Start(context.Background(), Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	if got := count(t, c.URL(), "kept"); got != 2 {
		t.Errorf("for rows after restart, got %d, want 2", got)
	}
}

// TestSurvivesSIGKILL kills a launcher process with SIGKILL and starts the same data
// directory again: the server must have gone with its launcher and the data must be there.
// A postmaster.pid naming a live process that is not postgres (a reused pid) must not stop
// the restart either.
func TestSurvivesSIGKILL(t *testing.T) {
	skipWithoutBinaries(t)
	dir := filepath.Join(traversableTempDir(t), "pgdata")
	cmd := launcher(dir)
	url := launch(t, cmd, dir)
	exec1(t, url, "CREATE TABLE kept (x int); INSERT INTO kept VALUES (1), (2), (3)")

	pidBytes, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	serverPid, _ := strconv.Atoi(strings.SplitN(string(pidBytes), "\n", 2)[0])
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline := time.Now().Add(20 * time.Second)
	for processAlive(serverPid) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if processAlive(serverPid) {
		t.Errorf("server pid %d still alive 20 s after its launcher was SIGKILLed", serverPid)
	}

	// Leave a stale pid file naming a live process that is not postgres: this one.
	stale := strings.Replace(string(pidBytes), strconv.Itoa(serverPid), strconv.Itoa(os.Getpid()), 1)
	if err := os.WriteFile(filepath.Join(dir, "postmaster.pid"), []byte(stale), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Start(context.Background(), Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	if got := count(t, c.URL(), "kept"); got != 3 {
		t.Errorf("for rows after SIGKILL and restart, got %d, want 3", got)
	}
}

func TestSweepRemovesKilledEphemeralClusters(t *testing.T) {
	o, err := serverOwner()
	if err != nil {
		t.Fatal(err)
	}
	tmp := tempRoot(o)
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	leftover, err := os.MkdirTemp(tmp, ephemeralPrefix)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(leftover, ownerFile), []byte(strconv.Itoa(dead.Process.Pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	live, err := os.MkdirTemp(tmp, ephemeralPrefix)
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(live)
	if err := writeOwner(live); err != nil {
		t.Fatal(err)
	}
	sweep(tmp, nopLogger())
	if _, err := os.Stat(leftover); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("for a dead launcher's directory, got stat error %v, want it removed", err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("for a live launcher's directory, got stat error %v, want it kept", err)
	}
}

func TestMissingBinaries(t *testing.T) {
	_, err := Start(context.Background(), Config{BinDir: t.TempDir()})
	if !errors.Is(err, ErrNoBinaries) {
		t.Fatalf("got %v, want ErrNoBinaries", err)
	}
	for _, want := range []string{"PostgreSQL", "DATABASE_URL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("for the error %q, want it to name %q", err, want)
		}
	}
}

// BenchmarkStart measures a warm start and stop of an existing persistent cluster.
func BenchmarkStart(b *testing.B) {
	if _, err := FindBinDir(""); err != nil {
		b.Skip(err)
	}
	dir, err := os.MkdirTemp("/tmp", "benchd-bench-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	_ = os.Chmod(dir, 0o755)
	c, err := Start(context.Background(), Config{DataDir: filepath.Join(dir, "data")})
	if err != nil {
		b.Fatal(err)
	}
	_ = c.Stop()
	b.ReportAllocs()
	for b.Loop() {
		c, err := Start(context.Background(), Config{DataDir: filepath.Join(dir, "data")})
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Stop(); err != nil {
			b.Fatal(err)
		}
	}
}

func nopLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestSharesRunningCluster starts a persistent cluster in a launcher process and then the
// same data directory here, as `benchd token create` does beside a running `benchd serve`:
// the second Start must use the running server, not stop it as a leftover, and its Stop must
// leave it running.
func TestSharesRunningCluster(t *testing.T) {
	skipWithoutBinaries(t)
	dir := filepath.Join(traversableTempDir(t), "pgdata")
	ownerURL := launch(t, launcher(dir), dir)
	exec1(t, ownerURL, "CREATE TABLE shared (x int); INSERT INTO shared VALUES (1)")

	c, err := Start(context.Background(), Config{DataDir: dir, Database: "other"})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Shared() {
		t.Errorf("second Start of a running data directory: got Shared() false, want true")
	}
	exec1(t, c.URL(), "CREATE TABLE mine (x int)") // a database of its own in the same server
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if got := count(t, ownerURL, "shared"); got != 1 {
		t.Errorf("for rows in the owner's server after the sharer stopped, got %d, want 1", got)
	}
}

// TestStartsAsNormalUser runs a launcher as an unprivileged user (nobody) when the tests run
// as root, so both ways of starting are proven on one machine: as root (every other test
// here) the server runs as postgres; as a normal user it runs as that user.
func TestStartsAsNormalUser(t *testing.T) {
	skipWithoutBinaries(t)
	if os.Geteuid() != 0 {
		t.Skip("not root: every other test here already starts clusters as a normal user")
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody:", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	base := traversableTempDir(t)
	// The test binary lives in a 0700 build directory: give nobody a copy it can execute.
	bin := filepath.Join(base, "embedpg.test")
	exe, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, exe, 0o755); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(base, "home")
	if err := os.Mkdir(home, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(home, uid, gid); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(home, "pgdata")
	cmd := launcher(dir)
	cmd.Path, cmd.Args[0] = bin, bin
	cmd.Dir = home
	cmd.Env = append(cmd.Env, "HOME="+home, "TMPDIR=/tmp")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}}
	url := launch(t, cmd, dir)
	exec1(t, url, "CREATE TABLE t (x int); INSERT INTO t VALUES (1)")
	if got := count(t, url, "t"); got != 1 {
		t.Errorf("for rows, got %d, want 1", got)
	}
	fi, err := os.Stat(filepath.Join(dir, "PG_VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	if owner := fi.Sys().(*syscall.Stat_t).Uid; owner != uint32(uid) {
		t.Errorf("for the cluster's files, got owner uid %d, want nobody's %d", owner, uid)
	}
}

// TestOtherUserIsRefused: the cluster has no TCP listener, and another local user (nobody)
// cannot reach its unix socket, so cannot use its trust authentication to become superuser.
func TestOtherUserIsRefused(t *testing.T) {
	skipWithoutBinaries(t)
	if os.Geteuid() != 0 {
		t.Skip("not root: cannot run a client as another user")
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody:", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	c, err := Start(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	exec1(t, c.URL(), "SELECT 1") // benchd (root here) connects

	pid, err := os.ReadFile(filepath.Join(c.DataDir(), "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	// postmaster.pid line 6 is the first TCP listen address, empty when there is none.
	if lines := strings.Split(string(pid), "\n"); len(lines) < 6 || strings.TrimSpace(lines[5]) != "" {
		t.Errorf("for the listen address in postmaster.pid, got %q, want none (no TCP listener)", lines[5])
	}
	sock := c.sockDir
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("for the socket directory %s, got mode %v, want 0700", sock, fi.Mode().Perm())
	}
	bin, _ := FindBinDir("")
	cmd := exec.Command(filepath.Join(bin, "psql"), "-X", "-w", "-h", sock, "-p", strconv.Itoa(socketPort), "-U", "postgres", "-d", "benchd", "-c", "SELECT 1")
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=/tmp"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}}
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "Permission denied") {
		t.Errorf("for psql as nobody on the cluster's socket, got %v %q, want it refused with Permission denied", err, out)
	}
	// Nor through TCP on the port of the socket's name.
	cmd = exec.Command(filepath.Join(bin, "psql"), "-X", "-w", "-h", "127.0.0.1", "-p", "1", "-U", "postgres", "-c", "SELECT 1")
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("psql over TCP: got %q, want no server", out)
	}
}

// TestExclusiveStart: a serve (Exclusive) refuses a data directory whose server another live
// launcher runs, with a message saying what to do, and takes it over once that launcher is
// dead.
func TestExclusiveStart(t *testing.T) {
	skipWithoutBinaries(t)
	dir := filepath.Join(traversableTempDir(t), "pgdata")
	cmd := launcher(dir)
	url := launch(t, cmd, dir)
	exec1(t, url, "CREATE TABLE kept (x int); INSERT INTO kept VALUES (1)")
	_, err := Start(context.Background(), Config{DataDir: dir, Exclusive: true})
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), fmt.Sprintf("process %d", cmd.Process.Pid)) || !strings.Contains(err.Error(), "stop it first") {
		t.Fatalf("for an exclusive start of a data directory in use, got %v, want ErrInUse naming pid %d and what to do", err, cmd.Process.Pid)
	}
	pidBytes, _ := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	serverPid, _ := strconv.Atoi(strings.SplitN(string(pidBytes), "\n", 2)[0])
	cmd.Process.Kill()
	cmd.Wait()
	for deadline := time.Now().Add(20 * time.Second); processAlive(serverPid) && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	c, err := Start(context.Background(), Config{DataDir: dir, Exclusive: true})
	if err != nil {
		t.Fatalf("for an exclusive start after the first launcher was killed, got %v, want it taken over", err)
	}
	defer c.Stop()
	if c.Shared() || count(t, c.URL(), "kept") != 1 {
		t.Errorf("after taking over, got Shared() %v, want false and the first server's data", c.Shared())
	}
}
