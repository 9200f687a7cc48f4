package main

import (
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
// run (db.SetBaseline). Save therefore stores the run first — project, branch, commit and
// testbed of the checkout, trigger cli (ci under $CI), the suite — with every raw sample, then
// points the name at it; Get reads that run's results back. Runs saved this way are ordinary
// runs: the server's pages show them and they join their branch's history on their testbed.
//
// Note: the run is stored and the name moved in two steps, not one transaction (db.Store has
// no method doing both). A failure in between leaves a stored run that no baseline names yet —
// a true measurement, harmless in the history — and the old baseline unchanged.
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
	// opts are the statistics settings the stored summaries (median, CI) are computed with.
	opts runner.Options
	// got is the run the last Get returned (its testbed is compared with this run's).
	got *db.Run
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
	s.got = &run
	return set, nil
}

// Save stores set as a run of the checkout and points the project's baseline name at it.
func (s *dbStore) Save(ctx context.Context, name string, set *runner.Set) error {
	if err := runner.CheckBaselineName(name); err != nil {
		return err
	}
	if len(set.Results) == 0 {
		return fmt.Errorf("saving baseline %s: the run has no results", name)
	}
	branch := s.branch
	if branch == "" {
		branch = name // as the server does for a baseline PUT without a branch
	}
	tb := testbedOf(set.Config)
	if s.testbed != "" {
		tb.Name = s.testbed
	}
	if tb.Name == "" {
		return fmt.Errorf("saving baseline %s: the output has no goos/goarch lines to name a testbed; give --testbed", name)
	}
	nr := db.NewRun{Project: s.project, Branch: branch, Testbed: tb, Commit: s.commit, Trigger: s.trigger,
		Suite: s.suite, Config: set.Config, Results: make([]db.NewResult, len(set.Results))}
	for i, r := range set.Results {
		nr.Results[i] = db.NewResult{Result: r, Summary: runner.Summarize(r.Samples, s.opts)}
	}
	run, err := s.store.InsertRun(ctx, nr)
	if err != nil {
		return fmt.Errorf("saving baseline %s: %w", name, err)
	}
	if _, err := s.store.SetBaseline(ctx, s.project, name, run.ID); err != nil {
		return fmt.Errorf("saving baseline %s (run %d is stored): %w", name, run.ID, err)
	}
	s.saved = &run
	return nil
}

// warnings are caveats about the baseline the last Get returned, for the report: one
// measured on another testbed compares machines as much as code.
func (s *dbStore) warnings(set *runner.Set) []string {
	if s.got == nil {
		return nil
	}
	tb := s.testbed
	if tb == "" {
		tb = testbedOf(set.Config).Name
	}
	if tb == "" || s.got.Testbed == tb {
		return nil
	}
	return []string{fmt.Sprintf("the baseline (run %d) was measured on testbed %q, this run on %q: differences may be the machines'", s.got.ID, s.got.Testbed, tb)}
}

// testbedOf is the testbed a run's config lines describe, named "goos/goarch/cpu" as the server
// names the testbed of a posted run without one (web's default), so that `benchd run` and
// `benchd post` from one machine land on the same testbed. Name is "" without goos or goarch.
func testbedOf(cfg []runner.ConfigLine) db.Testbed {
	tb := db.Testbed{GOOS: configValue(cfg, "goos"), GOARCH: configValue(cfg, "goarch"), CPU: configValue(cfg, "cpu")}
	if tb.GOOS == "" || tb.GOARCH == "" {
		return tb
	}
	tb.Name = tb.GOOS + "/" + tb.GOARCH
	if tb.CPU != "" {
		tb.Name += "/" + tb.CPU
	}
	return tb
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

// History settings of the change-point rule in `benchd run`, as the server applies it
// (web/changepoint.go): the newest historyWindow stored runs of the branch on the testbed plus
// this run, and a level shift counts only when it starts within the newest historyRecent
// points (older shifts are history, not news about this run).
const (
	historyWindow = 30
	historyRecent = 8
)

// judgeHistory adds the change-point rule to rep's verdicts: for each benchmark and unit of
// the run, the medians of the branch's stored runs on this testbed (done runs, newest
// historyWindow, oldest first) followed by this run's median are searched for level shifts
// (runner.HistoryVerdict, E-Divisive at least 5%); a recent shift for the worse makes the
// verdict a "changepoint" warning unless a more severe rule fired. It returns how many series
// had enough history (6 points with this run) to be judged. Without a branch there is no
// series: it does nothing.
func (s *dbStore) judgeHistory(ctx context.Context, rep *runner.Report, set *runner.Set) (int, error) {
	tb := s.testbed
	if tb == "" {
		tb = testbedOf(set.Config).Name
	}
	if s.branch == "" || tb == "" {
		return 0, nil
	}
	judged := 0
	for i, c := range rep.Comparisons {
		if c.New.N == 0 || c.Better == runner.DirUnknown {
			continue
		}
		pts, err := s.store.BenchmarkHistory(ctx, db.HistoryQuery{Project: s.project, Branch: s.branch, Testbed: tb,
			Name: c.Name, Unit: c.Unit, Limit: historyWindow})
		if err != nil {
			return judged, fmt.Errorf("reading the history of %s (%s): %w", c.Name, c.Unit, err)
		}
		meds := make([]float64, 0, len(pts)+1)
		for _, p := range pts {
			meds = append(meds, p.Median)
		}
		meds = append(meds, c.New.Median)
		if len(meds) < 6 {
			continue
		}
		judged++
		o := runner.ChangePointOptions{MinEffect: 0.05}
		cps := runner.ChangePoints(meds, o)
		if len(cps) == 0 || cps[len(cps)-1].Index < len(meds)-historyRecent {
			continue // no shift, or an old one: this run is not news
		}
		v, ok := runner.HistoryVerdict(c.Name, c.Unit, c.Better, meds, o) // the same search, deterministic
		if !ok {
			continue // the shift was for the better
		}
		v.Note = fmt.Sprintf("%s on %s, %d runs of history", v.Note, s.branch, len(meds)-1)
		rep.Verdicts[i] = runner.AddVerdict(rep.Verdicts[i], v)
	}
	return judged, nil
}
