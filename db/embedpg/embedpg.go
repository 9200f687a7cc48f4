// Package embedpg starts a private PostgreSQL cluster from the machine's PostgreSQL server
// binaries: benchd's embedded default when no database URL is given, and the database of the
// test helpers.
//
// A cluster lives in a data directory. Start runs initdb there the first time and reuses the
// data afterwards, so a persistent cluster keeps its data across restarts (and across a
// SIGKILLed benchd: the server is the launcher's child with a parent-death signal, and a stale
// postmaster.pid is cleared on the next start). An ephemeral cluster (Config.DataDir empty)
// lives in a fresh directory under the temporary directory and is removed by Stop; leftovers of
// killed ephemeral clusters are swept at the next Start.
//
// As root the server runs as the "postgres" user: the data directory is chowned to it and
// every parent directory must be traversable by it (a 0700 home directory is not; /tmp and
// /var/lib are).
//
// The cluster is private: it listens on no TCP port, only on a unix socket in a 0700
// directory of its own, so only the user the server runs as (and root) can connect. Other
// local users cannot reach the socket, and so cannot use the trust authentication the
// cluster is initialised with.
//
// Note: a generated scram-sha-256 password kept in a 0600 file was the other way considered;
// it keeps a TCP port open to every local process (and to brute force), and adds a secret to
// rotate, for no gain: benchd always runs on the machine of its embedded cluster.
package embedpg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNoBinaries is returned by Start when no PostgreSQL server binaries are found.
var ErrNoBinaries = errors.New("no PostgreSQL server binaries found (install them, e.g. " +
	"`apt-get install postgresql`, or set DATABASE_URL to use an existing server)")

// Config says where and how a cluster runs. The zero value starts an ephemeral cluster.
type Config struct {
	// DataDir holds the cluster (created and initialised when missing). Empty: an ephemeral
	// cluster in a new directory under the temporary directory, removed by Stop.
	DataDir string
	// BinDir holds initdb and postgres. Empty: `pg_config --bindir`, then the newest
	// /usr/lib/postgresql/*/bin.
	BinDir string
	// Database is the database created (when missing) and named in the URL. Default "benchd".
	Database string
	// StartTimeout bounds initdb plus start-up. Default 60 s.
	StartTimeout time.Duration
	// Logger receives start/stop events. Default: discard.
	Logger *slog.Logger
	// Exclusive refuses, with an error wrapping ErrInUse, a data directory whose server
	// another live process launched, instead of sharing it: for long-running processes
	// (`benchd serve`, `benchd worker`), which would lose their database when that other
	// process ends. Default false: share it (`benchd token` beside a running serve).
	Exclusive bool
}

// ErrInUse is returned by an Exclusive Start when another live process runs the data
// directory's server.
var ErrInUse = errors.New("the data directory's PostgreSQL is run by another process")

// Cluster is a running PostgreSQL server started by Start.
type Cluster struct {
	url       string
	dataDir   string
	sockDir   string
	ephemeral bool
	root      string // the ephemeral directory to remove on Stop ("" when persistent)
	cmd       *exec.Cmd
	exited    chan struct{}
	logger    *slog.Logger
	stopCtx   func() bool

	// shared: the server belongs to another live launcher of the same data directory; Stop
	// leaves it running.
	shared bool

	stopOnce sync.Once
	stopErr  error
}

// ephemeralPrefix names ephemeral cluster directories; the sweep looks for it.
const ephemeralPrefix = "benchd-pg-"

// sockPrefix names the socket directories of persistent clusters; the sweep looks for it.
const sockPrefix = "benchd-pgs-"

// ownerFile records the launcher's pid in ephemeral and socket directories.
const ownerFile = "benchd-owner.pid"

// Start initialises (when needed) and starts a cluster, waits until it accepts connections and
// returns it. The server is stopped (fast shutdown) by Stop or when ctx is cancelled.
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	if cfg.Database == "" {
		cfg.Database = "benchd"
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 60 * time.Second
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	bin, err := FindBinDir(cfg.BinDir)
	if err != nil {
		return nil, err
	}
	owner, err := serverOwner()
	if err != nil {
		return nil, err
	}
	tmp := tempRoot(owner)
	sweep(tmp, logger)

	c := &Cluster{logger: logger, exited: make(chan struct{})}
	startCtx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	defer cancel()
	ok := false
	defer func() {
		if !ok {
			c.kill()
			c.removeDirs()
		}
	}()

	if cfg.DataDir == "" {
		c.ephemeral = true
		c.root, err = os.MkdirTemp(tmp, ephemeralPrefix)
		if err != nil {
			return nil, fmt.Errorf("creating ephemeral cluster directory: %w", err)
		}
		if err := writeOwner(c.root); err != nil {
			return nil, err
		}
		if err := owner.chown(c.root); err != nil {
			return nil, err
		}
		c.dataDir = filepath.Join(c.root, "data")
		c.sockDir = c.root
	} else {
		c.dataDir, err = filepath.Abs(cfg.DataDir)
		if err != nil {
			return nil, fmt.Errorf("resolving data directory: %w", err)
		}
		c.sockDir, err = os.MkdirTemp(tmp, sockPrefix)
		if err != nil {
			return nil, fmt.Errorf("creating socket directory: %w", err)
		}
		if err := writeOwner(c.sockDir); err != nil {
			return nil, err
		}
		if err := owner.chown(c.sockDir); err != nil {
			return nil, err
		}
	}
	if err := prepareDataDir(c.dataDir, owner); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(c.dataDir, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		t0 := time.Now()
		if err := initdb(startCtx, bin, c.dataDir, owner); err != nil {
			return nil, err
		}
		logger.Info("initialised PostgreSQL cluster", "data_dir", c.dataDir, "elapsed", time.Since(t0))
	}
	if !c.ephemeral {
		// Another benchd (a `serve`, while `token create` runs) may be running this data
		// directory's server: share it rather than stopping it as a leftover.
		if u, pid, running := runningShared(startCtx, c.dataDir); running {
			if cfg.Exclusive {
				return nil, fmt.Errorf("%w: process %d (another benchd serve or worker) runs the PostgreSQL of %s: "+
					"stop it first, or give this one another --data-dir or a --database-url", ErrInUse, pid, c.dataDir)
			}
			if err := ensureDatabase(startCtx, u, cfg.Database); err != nil {
				return nil, err
			}
			c.removeDirs()
			c.sockDir = ""
			c.url = withDatabase(u, cfg.Database)
			c.shared = true
			logger.Info("using the PostgreSQL server another benchd runs for this data directory",
				"data_dir", c.dataDir, "launcher_pid", pid)
			ok = true
			return c, nil
		}
	}
	if err := clearStalePid(c.dataDir, logger); err != nil {
		return nil, err
	}
	if err := c.startServer(startCtx, bin, owner); err != nil {
		return nil, err
	}
	if !c.ephemeral {
		if err := writeLauncher(c.dataDir); err != nil {
			return nil, err
		}
	}
	if err := ensureDatabase(startCtx, c.url, cfg.Database); err != nil {
		return nil, err
	}
	c.url = withDatabase(c.url, cfg.Database)
	c.stopCtx = context.AfterFunc(ctx, func() { _ = c.Stop() })
	ok = true
	return c, nil
}

// URL returns the cluster's connection URL: the unix socket in the cluster's private
// directory (host=/dir), user postgres, trust authentication.
func (c *Cluster) URL() string { return c.url }

// DataDir returns the cluster's data directory.
func (c *Cluster) DataDir() string { return c.dataDir }

// Shared reports whether the server was already running for this data directory, started by
// another live process; Stop then leaves it running.
func (c *Cluster) Shared() bool { return c.shared }

// Stop shuts the server down (fast shutdown: open sessions are ended), waits for it to exit
// and, for an ephemeral cluster, removes its directory. A shared cluster is left running.
// Calling Stop again returns the first result.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		if c.stopCtx != nil {
			c.stopCtx()
		}
		if c.shared {
			return
		}
		c.stopErr = c.shutdown(30 * time.Second)
		c.removeDirs()
		c.logger.Info("stopped PostgreSQL cluster", "data_dir", c.dataDir)
	})
	return c.stopErr
}

// shutdown sends SIGINT (fast shutdown), then SIGQUIT and SIGKILL if the server lingers.
func (c *Cluster) shutdown(grace time.Duration) error {
	if c.cmd == nil || c.cmd.Process == nil {
		return nil
	}
	select {
	case <-c.exited:
		return nil
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-c.exited:
		return nil
	case <-time.After(grace):
	}
	_ = c.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-c.exited:
		return fmt.Errorf("stopping PostgreSQL: no fast shutdown within %s, used immediate shutdown", grace)
	case <-time.After(5 * time.Second):
	}
	c.kill()
	return fmt.Errorf("stopping PostgreSQL: killed after %s", grace+5*time.Second)
}

// kill ends the server at once (used when Start fails half-way).
func (c *Cluster) kill() {
	if c.cmd == nil || c.cmd.Process == nil {
		return
	}
	select {
	case <-c.exited:
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-c.exited:
	case <-time.After(5 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
}

func (c *Cluster) removeDirs() {
	if c.ephemeral && c.root != "" {
		_ = os.RemoveAll(c.root)
	}
	if !c.ephemeral && c.sockDir != "" {
		_ = os.RemoveAll(c.sockDir)
	}
}

// socketPort is the port number in the name of the cluster's socket (.s.PGSQL.5432): the
// socket directory is the cluster's own, so the number need not differ between clusters.
const socketPort = 5432

// socketURL is the URL of the server listening in sockDir.
func socketURL(sockDir string, port int) string {
	return fmt.Sprintf("postgres://postgres@/postgres?host=%s&port=%d&sslmode=disable", url.QueryEscape(sockDir), port)
}

// startServer starts postgres with no TCP listener (listen_addresses empty) and its socket in
// c.sockDir, a 0700 directory owned by the server's user, and waits until it accepts
// connections.
func (c *Cluster) startServer(ctx context.Context, bin string, owner *owner) error {
	if err := os.Chmod(c.sockDir, 0o700); err != nil {
		return fmt.Errorf("making the socket directory private: %w", err)
	}
	port := socketPort
	args := []string{"-D", c.dataDir, "-k", c.sockDir, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=", "-c", "unix_socket_permissions=0700", "-c", "logging_collector=off"}
	if c.ephemeral {
		// Test clusters trade durability for speed: their data dies with them anyway.
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off",
			"-c", "full_page_writes=off", "-c", "max_connections=200")
	}
	logPath := filepath.Join(c.dataDir, "benchd-postgres.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("opening server log: %w", err)
	}
	logStart, _ := logFile.Seek(0, 2)
	cmd := exec.Command(filepath.Join(bin, "postgres"), args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.Dir = "/" // the working directory may be out of the postgres user's reach
	cmd.SysProcAttr = owner.sysProcAttr()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("starting postgres: %w", err)
	}
	logFile.Close()
	c.cmd = cmd
	exited := c.exited
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	c.url = socketURL(c.sockDir, port)
	for {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		conn, err := pgx.Connect(cctx, c.url)
		cancel()
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("postgres exited during start-up: %s", logTail(logPath, logStart))
		case <-ctx.Done():
			c.kill()
			return fmt.Errorf("waiting for postgres to accept connections: %w (log: %s)", ctx.Err(), logTail(logPath, logStart))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// FindBinDir returns the directory holding initdb and postgres: configured when non-empty,
// else `pg_config --bindir`, else the newest /usr/lib/postgresql/*/bin. It returns an error
// wrapping ErrNoBinaries when none has both.
func FindBinDir(configured string) (string, error) {
	var candidates []string
	if configured != "" {
		candidates = []string{configured}
	} else {
		if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
			candidates = append(candidates, strings.TrimSpace(string(out)))
		}
		dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
		slices.SortFunc(dirs, func(a, b string) int { return versionOf(b) - versionOf(a) })
		candidates = append(candidates, dirs...)
	}
	for _, d := range candidates {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	if configured != "" {
		return "", fmt.Errorf("looking for initdb and postgres in %s: %w", configured, ErrNoBinaries)
	}
	return "", fmt.Errorf("looking for initdb and postgres (pg_config, /usr/lib/postgresql/*/bin): %w", ErrNoBinaries)
}

func versionOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

func initdb(ctx context.Context, bin, dataDir string, owner *owner) error {
	// Trust on the unix socket, whose directory only the server's user can enter; TCP is
	// refused even if someone turns a listener on.
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", dataDir, "-U", "postgres",
		"--auth-local=trust", "--auth-host=reject", "--no-sync", "-E", "UTF8", "--no-locale")
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.Dir = "/" // the working directory may be out of the postgres user's reach
	cmd.SysProcAttr = owner.sysProcAttr()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("running initdb in %s: %w: %s", dataDir, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// prepareDataDir creates dataDir (0700, owned by the server's user) and checks that the
// server's user can reach it.
func prepareDataDir(dataDir string, owner *owner) error {
	if err := os.MkdirAll(filepath.Dir(dataDir), 0o755); err != nil {
		return fmt.Errorf("creating the data directory's parent: %w", err)
	}
	if err := owner.checkTraversable(filepath.Dir(dataDir)); err != nil {
		return err
	}
	if err := os.Mkdir(dataDir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("creating data directory: %w", err)
	}
	if err := os.Chmod(dataDir, 0o700); err != nil {
		return fmt.Errorf("setting data directory mode: %w", err)
	}
	return owner.chownTree(dataDir)
}

// launcherFile, in a persistent data directory, records the pid of the process whose child
// the server is: a server whose parent is that live process is not a leftover.
const launcherFile = "benchd-launcher.pid"

func writeLauncher(dataDir string) error {
	if err := os.WriteFile(filepath.Join(dataDir, launcherFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return fmt.Errorf("writing launcher file: %w", err)
	}
	return nil
}

// runningShared returns the URL of the server of dataDir when it is running as the child of a
// live launcher (another benchd process) and accepts connections. A server whose launcher is
// gone is a leftover for clearStalePid instead.
func runningShared(ctx context.Context, dataDir string) (serverURL string, launcher int, ok bool) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return "", 0, false
	}
	// postmaster.pid: pid, data directory, start time, port, socket directory, listen
	// address, shared memory key, status.
	lines := strings.Split(string(b), "\n")
	if len(lines) < 8 || strings.TrimSpace(lines[7]) != "ready" {
		return "", 0, false
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(lines[0]))
	port, _ := strconv.Atoi(strings.TrimSpace(lines[3]))
	sockDir := strings.TrimSpace(lines[4])
	lb, err := os.ReadFile(filepath.Join(dataDir, launcherFile))
	if err != nil {
		return "", 0, false
	}
	launcher, _ = strconv.Atoi(strings.TrimSpace(string(lb)))
	if pid <= 0 || port <= 0 || sockDir == "" || launcher <= 1 || launcher == os.Getpid() ||
		!isPostgres(pid) || parentOf(pid) != launcher || !processAlive(launcher) {
		return "", 0, false
	}
	serverURL = socketURL(sockDir, port)
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, serverURL)
	if err != nil {
		return "", 0, false
	}
	conn.Close(cctx)
	return serverURL, launcher, true
}

// parentOf returns the parent pid of pid from /proc, or 0.
func parentOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) is in parentheses and may hold spaces: parse after the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// clearStalePid removes a postmaster.pid whose process is not a live postgres server (a
// SIGKILLed run leaves it behind, and its pid may since belong to another process, which
// postgres itself would take for a running server). A live leftover server of this data
// directory is stopped first.
func clearStalePid(dataDir string, logger *slog.Logger) error {
	pidPath := filepath.Join(dataDir, "postmaster.pid")
	b, err := os.ReadFile(pidPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading postmaster.pid: %w", err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if pid > 0 && isPostgres(pid) {
		logger.Warn("stopping a leftover PostgreSQL server of this data directory", "pid", pid, "data_dir", dataDir)
		_ = syscall.Kill(pid, syscall.SIGQUIT)
		deadline := time.Now().Add(10 * time.Second)
		for processAlive(pid) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if processAlive(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			time.Sleep(100 * time.Millisecond)
		}
	}
	if _, err := os.Stat(pidPath); err == nil {
		logger.Warn("removing stale postmaster.pid", "pid", pid, "data_dir", dataDir)
		if err := os.Remove(pidPath); err != nil {
			return fmt.Errorf("removing stale postmaster.pid: %w", err)
		}
	}
	return nil
}

// isPostgres reports whether pid is a live process running a postgres executable.
func isPostgres(pid int) bool {
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return false
	}
	return filepath.Base(strings.TrimSuffix(exe, " (deleted)")) == "postgres"
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// sweep removes what killed launchers left in tmp: ephemeral clusters (stopping a leftover
// server first) and socket directories whose owner process is gone.
func sweep(tmp string, logger *slog.Logger) {
	for _, prefix := range []string{ephemeralPrefix, sockPrefix} {
		dirs, _ := filepath.Glob(filepath.Join(tmp, prefix+"*"))
		for _, d := range dirs {
			b, err := os.ReadFile(filepath.Join(d, ownerFile))
			if err != nil {
				continue // not ours, or still being created
			}
			pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
			if pid <= 0 || processAlive(pid) {
				continue
			}
			if prefix == ephemeralPrefix {
				_ = clearStalePid(filepath.Join(d, "data"), logger)
			}
			logger.Info("removing leftover of a killed cluster", "dir", d)
			_ = os.RemoveAll(d)
		}
	}
}

func writeOwner(dir string) error {
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return fmt.Errorf("writing owner file: %w", err)
	}
	return nil
}

func ensureDatabase(ctx context.Context, serverURL, name string) error {
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return fmt.Errorf("connecting to the new cluster: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return fmt.Errorf("looking up database %s: %w", name, err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("creating database %s: %w", name, err)
	}
	return nil
}

func withDatabase(u, name string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	p.Path = "/" + name
	return p.String()
}

func logTail(path string, from int64) string {
	b, err := os.ReadFile(path)
	if err != nil || int64(len(b)) < from {
		return "(no server log)"
	}
	b = b[from:]
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

// tempRoot is where ephemeral clusters and socket directories go: the temporary directory,
// or /tmp when the server's user could not traverse it (a root-owned 0700 TMPDIR).
func tempRoot(o *owner) string {
	tmp := os.TempDir()
	if o.checkTraversable(tmp) != nil {
		return "/tmp"
	}
	return tmp
}

// Reachable returns nil when the user the server would run as (postgres as root, else the
// current user) can reach dir, and otherwise an error saying which ancestor blocks it. dir need
// not exist: its nearest existing ancestor is checked.
func Reachable(dir string) error {
	o, err := serverOwner()
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for {
		if _, err := os.Stat(abs); err == nil || abs == filepath.Dir(abs) {
			break
		}
		abs = filepath.Dir(abs)
	}
	return o.checkTraversable(abs)
}

// owner is the user the server runs as: nil fields when it is the current user.
type owner struct {
	cred *syscall.Credential
}

// serverOwner returns the postgres user as root, or the current user otherwise.
func serverOwner() (*owner, error) {
	if os.Geteuid() != 0 {
		return &owner{}, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, PostgreSQL must run as the postgres user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &owner{cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}}, nil
}

func (o *owner) sysProcAttr() *syscall.SysProcAttr {
	// Setpgid keeps a terminal's ^C away from the server (Stop shuts it down in order);
	// Pdeathsig makes a killed launcher take the server with it (SIGQUIT: immediate shutdown).
	return &syscall.SysProcAttr{Credential: o.cred, Setpgid: true, Pdeathsig: syscall.SIGQUIT}
}

func (o *owner) chown(p string) error {
	if o.cred == nil {
		return nil
	}
	if err := os.Chown(p, int(o.cred.Uid), int(o.cred.Gid)); err != nil {
		return fmt.Errorf("handing %s to the postgres user: %w", p, err)
	}
	return nil
}

func (o *owner) chownTree(root string) error {
	if o.cred == nil {
		return nil
	}
	return filepath.WalkDir(root, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return o.chown(p)
	})
}

// checkTraversable returns an error when the server's user cannot reach dir (every
// ancestor must grant it search permission).
func (o *owner) checkTraversable(dir string) error {
	if o.cred == nil {
		return nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for p := abs; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("checking %s: %w", p, err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		ok := fi.Mode().Perm()&0o001 != 0 ||
			(st.Uid == o.cred.Uid && fi.Mode().Perm()&0o100 != 0) ||
			(st.Gid == o.cred.Gid && fi.Mode().Perm()&0o010 != 0)
		if !ok {
			return fmt.Errorf("the postgres user cannot reach %s (%s is %v, owned by uid %d): "+
				"choose a data directory outside it (e.g. under /var/lib or /tmp)", abs, p, fi.Mode().Perm(), st.Uid)
		}
		if p == "/" || p == filepath.Dir(p) {
			return nil
		}
	}
}
