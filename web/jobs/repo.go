package jobs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// RepoCache keeps a bare clone per repository under Dir and checks commits out in git
// worktrees of it, so a job fetches only what changed since the last one. Processes sharing
// Dir take turns through a file lock per repository.
//
// Each worktree <Dir>/worktrees/<name> has beside it <name>.pid, the pid of the process using
// it (written before the worktree is added), and <name>.tmp, the job's temporary directory
// (test binaries). Sweep removes all three when that process is gone.
type RepoCache struct {
	// Dir holds the clones (<Dir>/<hash>.git) and the worktrees (<Dir>/worktrees/).
	Dir string
}

// Checkout fetches repo and adds a detached worktree at commit (or, when commit is "", at the
// head of branch). It returns the worktree's directory, the full commit SHA, and a cleanup
// that removes the worktree (call it even on error; it is never nil).
func (c *RepoCache) Checkout(ctx context.Context, repo, branch, commit, name string) (dir, sha string, cleanup func(), err error) {
	cleanup = func() {}
	if repo == "" {
		return "", "", cleanup, fmt.Errorf("checking out: no repository given")
	}
	sum := sha256.Sum256([]byte(repo))
	bare := filepath.Join(c.Dir, hex.EncodeToString(sum[:8])+".git")
	if err := os.MkdirAll(filepath.Join(c.Dir, "worktrees"), 0o755); err != nil {
		return "", "", cleanup, fmt.Errorf("creating repository cache: %w", err)
	}
	unlock, err := lockFile(bare + ".lock")
	if err != nil {
		return "", "", cleanup, err
	}
	defer unlock()
	if _, err := os.Stat(filepath.Join(bare, "HEAD")); err != nil {
		tmp := bare + ".tmp"
		os.RemoveAll(tmp)
		if _, err := git(ctx, "", "clone", "--bare", "--quiet", repo, tmp); err != nil {
			return "", "", cleanup, fmt.Errorf("cloning %s: %w", repo, err)
		}
		if err := os.Rename(tmp, bare); err != nil {
			return "", "", cleanup, fmt.Errorf("moving clone of %s into the cache: %w", repo, err)
		}
	}
	if _, err := git(ctx, bare, "fetch", "--quiet", "--force", "--prune", repo, "+refs/heads/*:refs/heads/*"); err != nil {
		return "", "", cleanup, fmt.Errorf("fetching %s: %w", repo, err)
	}
	// Worktrees of killed workers are swept before a new one is added.
	git(ctx, bare, "worktree", "prune")
	want := commit
	if want == "" {
		want = "refs/heads/" + branch
	}
	out, err := git(ctx, bare, "rev-parse", "--verify", "--quiet", want+"^{commit}")
	if err != nil {
		// Just fetched: a commit or branch the repository does not have now will not appear
		// on a retry.
		return "", "", cleanup, fmt.Errorf("finding %s in %s: %w (%w)", want, repo, err, ErrPermanent)
	}
	sha = strings.TrimSpace(out)
	dir = filepath.Join(c.Dir, "worktrees", name)
	os.RemoveAll(dir)
	if err := os.WriteFile(dir+".pid", []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return "", "", cleanup, fmt.Errorf("recording the owner of worktree %s: %w", dir, err)
	}
	if _, err := git(ctx, bare, "worktree", "add", "--detach", "--force", dir, sha); err != nil {
		os.Remove(dir + ".pid")
		return "", "", cleanup, fmt.Errorf("adding worktree at %s: %w", sha, err)
	}
	cleanup = func() {
		// Under the cache's lock like every other git command on the bare repository: a
		// `worktree remove` racing another job's `worktree prune`/`add` on the same repository
		// made that job's checkout fail now and then. A fresh context: cleanup also runs when the
		// job's context has ended.
		if unlock, err := lockFile(bare + ".lock"); err == nil {
			defer unlock()
		}
		git(context.Background(), bare, "worktree", "remove", "--force", dir)
		os.RemoveAll(dir)
		os.RemoveAll(dir + ".tmp")
		os.Remove(dir + ".pid")
	}
	return dir, sha, cleanup, nil
}

// Sweep removes what killed workers left in the cache: worktrees (with their test binaries)
// whose process is gone, and git's records of them. Worktrees of live processes, this one
// included, are kept. It returns the names removed (empty when none).
func (c *RepoCache) Sweep(ctx context.Context) ([]string, error) {
	wt := filepath.Join(c.Dir, "worktrees")
	ents, err := os.ReadDir(wt)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sweeping the repository cache: %w", err)
	}
	names := map[string]bool{}
	for _, e := range ents {
		names[strings.TrimSuffix(strings.TrimSuffix(e.Name(), ".pid"), ".tmp")] = true
	}
	var removed []string
	for name := range names {
		p := filepath.Join(wt, name)
		if b, err := os.ReadFile(p + ".pid"); err == nil {
			if pid, _ := strconv.Atoi(strings.TrimSpace(string(b))); pid == os.Getpid() || pid > 0 && processAlive(pid) {
				continue
			}
		}
		for _, q := range []string{p, p + ".tmp", p + ".pid"} {
			if err := os.RemoveAll(q); err != nil {
				return removed, fmt.Errorf("sweeping the repository cache: %w", err)
			}
		}
		removed = append(removed, name)
	}
	if len(removed) > 0 {
		bares, _ := filepath.Glob(filepath.Join(c.Dir, "*.git"))
		for _, bare := range bares {
			if unlock, err := lockFile(bare + ".lock"); err == nil {
				git(ctx, bare, "worktree", "prune")
				unlock()
			}
		}
	}
	slices.Sort(removed)
	return removed, nil
}

// processAlive reports whether a process with this pid exists.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// git runs git in dir (as --git-dir when it ends in .git) and returns its output.
func git(ctx context.Context, dir string, args ...string) (string, error) {
	if dir != "" {
		args = append([]string{"--git-dir", dir}, args...)
	}
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1")
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out.String(), nil
}

// lockFile takes an exclusive flock on path (created if missing) and returns its release.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
