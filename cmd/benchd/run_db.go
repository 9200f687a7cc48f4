package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"

	"github.com/benchd/benchd/db"
	"github.com/benchd/benchd/runner"
)

// dbStore is a runner.BaselineStore in benchd's database (`benchd run --database-url`). A
// baseline there is what the server's baselines are: a project's name pointing at one stored
// run. Runs are judged and stored by db.Store.Submit, the one owner of judgement the server
// and the worker use too: judge compares the run as the server would (the named baseline, else
// the branch's start point or recent history, the project's rules, the change-point rule) and
// stores it only with --save-baseline, in one transaction with the name; without it the
// judgement is a dry run that stores nothing. Runs saved this way are ordinary runs: the
// server's pages show them and they join their branch's history on their testbed.
type dbStore struct {
	store *db.Store
	// project is the project the baselines and runs belong to (--project); required.
	project string
	// branch, commit and testbed describe the checkout measured (runFlags.store, checkoutInfo).
	// An empty testbed is derived from each run's config lines.
	branch, commit, testbed string
	// trigger is cli, or ci when $CI is set.
	trigger db.Trigger
	// suite is the suite name ("(flags)" without one).
	suite string
	// proj is the project file: its units, statistics settings and rules.
	proj *runner.Project
	// dir is the checkout measured (--dir).
	dir string
	// against and againstCommit are --against and its commit ("" without it).
	against, againstCommit string
	// saved is the run the last Save stored.
	saved *db.Run
}

var _ runner.BaselineStore = (*dbStore)(nil)

// Get returns the results of the run the project's baseline name points at.
func (s *dbStore) Get(ctx context.Context, name string) (*runner.Set, error) {
	b, err := s.store.GetBaseline(ctx, s.project, name)
	if errors.Is(err, db.ErrNotFound) {
		return nil, fmt.Errorf("reading baseline %s of project %s from the database: %w", name, s.project, runner.ErrNoBaseline)
	}
	if err != nil {
		return nil, fmt.Errorf("reading baseline %s: %w", name, err)
	}
	run, err := s.store.GetRun(ctx, b.RunID)
	if err != nil {
		return nil, fmt.Errorf("reading baseline %s (run %d): %w", name, b.RunID, err)
	}
	results, err := s.store.Results(ctx, b.RunID)
	if err != nil {
		return nil, fmt.Errorf("reading baseline %s (run %d): %w", name, b.RunID, err)
	}
	pkg := configValue(run.Config, "pkg")
	set := &runner.Set{Config: run.Config, Units: map[string]runner.Direction{}}
	for _, r := range results {
		res := r.Result
		res.Pkg = pkg
		set.Results = append(set.Results, res)
		if r.Better != runner.DirUnknown {
			set.Units[r.Unit] = r.Better
		}
	}
	return set, nil
}

// Save stores set as a run of the checkout, judged, and points the project's baseline name at
// it in the same transaction (nothing when judge stored the run already).
func (s *dbStore) Save(ctx context.Context, name string, set *runner.Set) error {
	if err := runner.CheckBaselineName(name); err != nil {
		return err
	}
	if s.saved != nil {
		return nil
	}
	if len(set.Results) == 0 {
		return fmt.Errorf("saving baseline %s: the run has no results", name)
	}
	_, err := s.submit(ctx, set, nil, false, "", name)
	return err
}

// submit judges set (interleaved with against, when non-nil) against the baseline named
// baseline ("" = Submit's choice) with db.Store.Submit, storing it as baseline save when save
// is set and storing nothing otherwise.
func (s *dbStore) submit(ctx context.Context, set, against *runner.Set, paired bool, baseline, save string) (db.Judged, error) {
	branch := s.branch
	if branch == "" {
		branch = cmp.Or(save, baseline, "main") // as the server does for a baseline PUT without a branch
	}
	tb := db.TestbedOf(set.Config)
	if s.testbed != "" {
		tb.Name = s.testbed
	}
	if tb.Name == "" {
		return db.Judged{}, fmt.Errorf("judging the run: the output has no goos/goarch lines to name a testbed; give --testbed")
	}
	sub := db.Submission{Project: s.project, Branch: branch, Testbed: tb, Commit: s.commit, Trigger: s.trigger,
		Suite: s.suite, Config: set.Config, Results: set.Results, Baseline: baseline, Thresholds: s.proj.Thresholds,
		Options: s.proj.Options, SaveBaseline: save, DryRun: save == ""}
	if against != nil {
		sub.Interleaved = &db.Interleaved{Ref: s.against, Commit: s.againstCommit, Results: against.Results, Unpaired: s.proj.Unpaired || !paired}
	}
	j, err := s.store.Submit(ctx, sub)
	if err != nil {
		if save != "" {
			return j, fmt.Errorf("saving baseline %s: %w", save, err)
		}
		return j, fmt.Errorf("judging the run: %w", err)
	}
	if save != "" {
		s.saved = &j.Run
		if msg, at, ok := runner.CommitInfo(ctx, s.dir, s.commit); ok { // for the pages; a courtesy
			_ = s.store.SetCommit(ctx, s.project, db.Commit{SHA: s.commit, Message: msg, CommittedAt: at})
		}
	}
	return j, nil
}

// judge judges res as the server would and returns the report of it (see dbStore).
func (s *dbStore) judge(ctx context.Context, res *runner.RunResult, baseline, save string) (*runner.Report, error) {
	res.New.SetUnits(s.proj.Units)
	if res.Old != nil {
		res.Old.SetUnits(s.proj.Units)
	}
	if len(res.New.Failures) > 0 {
		save = "" // saveAndExit refuses to store a run with failures
	}
	j, err := s.submit(ctx, res.New, res.Old, res.Paired, baseline, save)
	if err != nil {
		return nil, err
	}
	rep := &runner.Report{NewLabel: res.NewLabel, Config: res.New.Config, Comparisons: j.Comparisons,
		Verdicts: j.Verdicts, Failures: res.New.Failures}
	if j.Baseline != nil {
		rep.OldLabel = j.Baseline.Label
	}
	return rep, nil
}

// configValue returns the first value of key in cfg ("" when absent).
func configValue(cfg []runner.ConfigLine, key string) string {
	for _, c := range cfg {
		if c.Key == key {
			return c.Value
		}
	}
	return ""
}

// gitIn runs git in dir and returns its trimmed output, or "" when git fails.
func gitIn(ctx context.Context, dir string, args ...string) string {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// checkoutInfo returns the branch and commit of the code `benchd run` measures in dir: ref's
// commit when ref is set (no branch), else HEAD's, with "-dirty" appended when tracked files
// have uncommitted changes. The branch is $GITHUB_HEAD_REF, else $GITHUB_REF_NAME, else git's
// current branch ("" when detached or not in a repository).
func checkoutInfo(ctx context.Context, env *environ, dir, ref string) (branch, commit string) {
	if ref != "" {
		return "", gitIn(ctx, dir, "rev-parse", "--verify", "--quiet", ref+"^{commit}")
	}
	branch = firstNonEmpty(env.getenv("GITHUB_HEAD_REF"), env.getenv("GITHUB_REF_NAME"))
	if branch == "" {
		if b := gitIn(ctx, dir, "rev-parse", "--abbrev-ref", "HEAD"); b != "HEAD" {
			branch = b
		}
	}
	commit = gitIn(ctx, dir, "rev-parse", "HEAD")
	if commit != "" && gitIn(ctx, dir, "status", "--porcelain", "--untracked-files=no") != "" {
		commit += "-dirty"
	}
	return branch, commit
}
