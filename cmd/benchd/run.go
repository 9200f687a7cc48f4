package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/benchd/benchd/db"
	"github.com/benchd/benchd/runner"
)

// reportFlags are the output flags shared by run, compare and post.
type reportFlags struct {
	format string // text|json|markdown|gobench; default text
	failOn string // regression|warning|never; default regression
	config string // project file; default DIR/benchd.yaml when it exists
}

func (f *reportFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.format, "format", "text", "output format: text, json, markdown or gobench")
	fs.StringVar(&f.failOn, "fail-on", "regression", "exit 1 on: regression, warning (or regression) or never")
	fs.StringVar(&f.config, "config", "", "project file (default: benchd.yaml in --dir, when present)")
}

func (f *reportFlags) validate() error {
	switch f.format {
	case "text", "json", "markdown", "gobench":
	default:
		return usageErrorf("--format %q: want text, json, markdown or gobench", f.format)
	}
	switch f.failOn {
	case "regression", "warning", "never":
	default:
		return usageErrorf("--fail-on %q: want regression, warning or never", f.failOn)
	}
	return nil
}

// loadProject reads the project file: the --config path (which must exist), else
// dir/benchd.yaml when present, else the defaults.
func loadProject(path, dir string) (*runner.Project, error) {
	if path != "" {
		p, err := runner.LoadProject(path)
		if err != nil {
			return nil, &exitError{code: 2, err: err}
		}
		return p, nil
	}
	p, err := runner.LoadProject(filepath.Join(dir, "benchd.yaml"))
	if errors.Is(err, fs.ErrNotExist) {
		return runner.DefaultProject(), nil
	}
	if err != nil {
		return nil, &exitError{code: 2, err: err}
	}
	return p, nil
}

// runFlags are `benchd run`'s flags.
type runFlags struct {
	reportFlags
	dir          string        // project root; default "."
	suite        string        // suite name; default "quick" when the project has it
	pkg          string        // overrides the suite's package
	bench        string        // overrides the suite's -bench
	count        int           // overrides the suite's count
	benchtime    string        // overrides the suite's benchtime
	timeout      time.Duration // overrides the suite's timeout
	interleave   string        // overrides the sampling's interleave (turn|benchmark)
	budget       time.Duration // overrides the sampling's budget; < 0: none
	measure      string        // overrides the suite's measure (time|instructions)
	baseline     string        // compare with this stored baseline
	saveBaseline string        // store the run under this name
	against      string        // build this ref too and interleave
	ref          string        // run this ref instead of the working tree
	raw          string        // write the full go test output here
	server       serverFlags
	databaseURL  string // keep baselines in this database; default "": the directory (or --server)
	branch       string // branch of a run stored in the database; default from CI or git
	testbed      string // testbed of a run stored in the database; default $BENCHD_TESTBED, else goos/goarch/cpu
}

func cmdRun(ctx context.Context, args []string, env *environ) error {
	var f runFlags
	fs := flag.NewFlagSet("benchd run", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	f.register(fs)
	fs.StringVar(&f.dir, "dir", ".", "project root: where benchd.yaml and the packages are")
	fs.StringVar(&f.suite, "suite", "", "suite from the project file (default quick, when defined)")
	fs.StringVar(&f.pkg, "package", "", "package to benchmark, overriding the suite's")
	fs.StringVar(&f.bench, "bench", "", "-bench regexp, overriding the suite's")
	fs.IntVar(&f.count, "count", 0, "samples per benchmark, overriding the suite's (default 6)")
	fs.StringVar(&f.benchtime, "benchtime", "", "-benchtime, overriding the suite's (100ms, 1000x)")
	fs.DurationVar(&f.timeout, "timeout", 0, "timeout of one pass over the benchmarks (default 10m)")
	fs.StringVar(&f.interleave, "interleave", "", "turn (every benchmark per turn) or benchmark (one benchmark at a time, with --against both sides back to back), overriding the suite's")
	fs.DurationVar(&f.budget, "budget", 0, "with --interleave benchmark: keep sampling after --count until this much time is spent (0: the suite's; -1s: none)")
	fs.StringVar(&f.measure, "measure", "", "time (wall clock per op) or instructions (instructions per op counted by valgrind: independent of the machine's load, ~50× slower), overriding the suite's")
	fs.StringVar(&f.baseline, "baseline", "", "compare with this stored baseline")
	fs.StringVar(&f.saveBaseline, "save-baseline", "", "store this run as a baseline under this name")
	fs.StringVar(&f.against, "against", "", "also build this git ref and interleave its runs with the working tree's, then compare")
	fs.StringVar(&f.ref, "ref", "", "run a git worktree at this ref instead of the working tree")
	fs.StringVar(&f.raw, "raw", "", "write the full go test output (the working tree's) to this file")
	f.server.register(fs, env, false)
	fs.StringVar(&f.databaseURL, "database-url", "", "keep baselines in this PostgreSQL database (migrated with benchd migrate up) instead of the directory; DATABASE_URL is not read")
	fs.StringVar(&f.branch, "branch", "", "with --database-url: branch of a saved run (default $GITHUB_HEAD_REF, $GITHUB_REF_NAME, git's current branch, else the baseline's name)")
	fs.StringVar(&f.testbed, "testbed", "", "with --database-url: testbed of a saved run (default $BENCHD_TESTBED, else goos/goarch/cpu of the output)")
	fs.Usage = func() {
		fmt.Fprint(env.stderr, "usage: benchd run [flags]\n\nRuns a suite's benchmarks with go test and compares them with a baseline or a git ref.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageErrorf("%v", err)
	}
	if fs.NArg() > 0 {
		return usageErrorf("run takes no arguments, got %q", fs.Args())
	}
	if err := f.validate(); err != nil {
		return err
	}
	if f.baseline != "" && f.against != "" {
		return usageErrorf("--baseline and --against both name what to compare with: give one")
	}
	if f.ref != "" && f.against != "" && f.ref == f.against {
		return usageErrorf("--ref and --against are the same ref %q", f.ref)
	}
	for _, n := range []string{f.baseline, f.saveBaseline} {
		if n != "" {
			if err := runner.CheckBaselineName(n); err != nil {
				return usageErrorf("%v", err)
			}
		}
	}
	if err := runner.CheckBenchtime(f.benchtime); err != nil {
		return usageErrorf("--%v", err)
	}
	proj, err := loadProject(f.config, f.dir)
	if err != nil {
		return err
	}
	cfg, suite, err := f.runConfig(proj)
	if err != nil {
		return err
	}
	store, closeStore, err := f.store(ctx, proj, env, suite)
	if err != nil {
		return err
	}
	defer closeStore()

	// Fetch the baseline first: a missing one is a usage error found before a long run.
	var old *runner.Set
	oldLabel := ""
	if f.baseline != "" {
		old, err = store.Get(ctx, f.baseline)
		if errors.Is(err, runner.ErrNoBaseline) {
			return usageErrorf("%v (store one with --save-baseline %s)", err, f.baseline)
		}
		if err != nil {
			return &exitError{code: 2, err: err}
		}
		oldLabel = f.baseline
	}

	var pl *progressLine
	if isTerminal(env.stderr) && env.getenv("CI") == "" {
		pl = &progressLine{w: env.stderr}
		cfg.Progress = pl.update
	}
	res, err := runner.Run(ctx, cfg)
	if pl != nil {
		pl.clear()
	}
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("running suite %s: %w", suite, err)}
	}
	if f.raw != "" {
		if err := os.WriteFile(f.raw, res.NewRaw, 0o644); err != nil {
			return &exitError{code: 2, err: fmt.Errorf("writing --raw output: %w", err)}
		}
	}
	if res.Old != nil {
		old, oldLabel = res.Old, res.OldLabel
	}
	if f.format == "gobench" {
		if err := runner.WriteGoBench(env.stdout, res.New); err != nil {
			return err
		}
		return f.saveAndExit(ctx, store, res.New, nil, env)
	}
	var rep *runner.Report
	if ds, ok := store.(*dbStore); ok {
		// Judged as the server judges (db.Store.Submit); stored only with --save-baseline.
		if rep, err = ds.judge(ctx, res, f.baseline, f.saveBaseline); err != nil {
			return &exitError{code: 2, err: err}
		}
		// Interleaved samples are paired by turn: the signed-rank test on their ratios.
	} else if rep, err = buildReport(proj, old, res.New, oldLabel, res.NewLabel, res.Paired && !proj.Unpaired); err != nil {
		return err
	}
	rep.Warnings = append(rep.Warnings, res.ParseErrors...)
	if err := writeReport(env, f.format, rep); err != nil {
		return err
	}
	return f.saveAndExit(ctx, store, res.New, rep, env)
}

// saveAndExit stores the run as a baseline when asked (never one with failures) and turns
// the report into the exit status.
func (f *runFlags) saveAndExit(ctx context.Context, store runner.BaselineStore, set *runner.Set, rep *runner.Report, env *environ) error {
	if len(set.Failures) > 0 {
		return &exitError{code: 2, err: fmt.Errorf("%d benchmark(s) failed; first: %s", len(set.Failures), set.Failures[0])}
	}
	if f.saveBaseline != "" {
		if err := store.Save(ctx, f.saveBaseline, set); err != nil {
			return &exitError{code: 2, err: err}
		}
		where := ""
		if ds, ok := store.(*dbStore); ok && ds.saved != nil {
			where = fmt.Sprintf(" in the database (project %s, branch %s, testbed %s, run %d)", ds.project, ds.saved.Branch, ds.saved.Testbed, ds.saved.ID)
		}
		fmt.Fprintf(env.stderr, "benchd: saved baseline %s%s\n", f.saveBaseline, where)
	}
	if rep == nil {
		return nil
	}
	return failOn(f.failOn, rep.Status())
}

// runConfig turns the flags and the project's suite into a runner.RunConfig.
func (f *runFlags) runConfig(proj *runner.Project) (runner.RunConfig, string, error) {
	name := f.suite
	if name == "" {
		if _, ok := proj.Suites["quick"]; ok {
			name = "quick"
		}
	}
	var s runner.Suite
	if name != "" {
		var ok bool
		s, ok = proj.Suites[name]
		if !ok {
			return runner.RunConfig{}, "", usageErrorf("suite %q is not in the project file (have %v)", name, proj.SuiteNames())
		}
	} else {
		name = "(flags)"
		if f.pkg == "" {
			return runner.RunConfig{}, "", usageErrorf("no suite: give --suite with a project file, or --package")
		}
	}
	if err := runner.CheckMeasure(f.measure); err != nil {
		return runner.RunConfig{}, "", usageErrorf("--%v", err)
	}
	// Interleaved runs are paired: the suite's against: settings apply (or, counting
	// instructions, its instructions: settings).
	cfg := s.RunConfigMeasuring(f.dir, f.against, cmp.Or(f.measure, s.Measure))
	cfg.Ref = f.ref
	if cfg.Measure == runner.MeasureInstructions && (f.interleave != "" || f.budget != 0) {
		return cfg, "", usageErrorf("--interleave and --budget do not apply to --measure instructions (its turns run by turn, in parallel)")
	}
	if f.interleave != "" {
		if err := runner.CheckInterleave(f.interleave); err != nil {
			return cfg, "", usageErrorf("--%v", err)
		}
		cfg.Interleave = f.interleave
	}
	if f.budget != 0 {
		cfg.Budget = max(0, f.budget)
	}
	if f.pkg != "" {
		cfg.Package = f.pkg
	}
	if f.bench != "" {
		cfg.Bench = f.bench
	}
	if f.count != 0 {
		if f.count < 1 {
			return cfg, "", usageErrorf("--count %d: want ≥ 1", f.count)
		}
		cfg.Count = f.count
	}
	if f.benchtime != "" {
		cfg.Benchtime = f.benchtime
	}
	if f.timeout != 0 {
		cfg.Timeout = f.timeout
	}
	return cfg, name, nil
}

// store is the baseline store: the database's with --database-url, the server's with
// --server, else the project's directory. closeFn releases it (a no-op but for the database).
func (f *runFlags) store(ctx context.Context, proj *runner.Project, env *environ, suite string) (store runner.BaselineStore, closeFn func(), err error) {
	nop := func() {}
	if f.databaseURL != "" {
		if f.server.url != "" {
			return nil, nil, usageErrorf("--database-url and --server both name where baselines are kept: give one")
		}
		f.server.fromEnv()
		if f.server.project == "" {
			return nil, nil, usageErrorf("no project: --database-url needs --project or BENCHD_PROJECT")
		}
		if f.testbed == "" {
			f.testbed = env.getenv("BENCHD_TESTBED")
		}
		branch, commit := checkoutInfo(ctx, env, f.dir, f.ref)
		if f.branch != "" {
			branch = f.branch
		}
		trigger := db.TriggerCLI
		if env.getenv("CI") != "" {
			trigger = db.TriggerCI
		}
		s, closeDB, err := openDatabase(ctx, f.databaseURL, "", cliLogger(env))
		if err != nil {
			return nil, nil, &exitError{code: 2, err: fmt.Errorf("opening the baseline database: %w", err)}
		}
		return &dbStore{store: s, project: f.server.project, branch: branch, commit: commit, testbed: f.testbed,
			trigger: trigger, suite: suite, proj: proj, against: f.against, dir: f.dir,
			againstCommit: gitIn(ctx, f.dir, "rev-parse", "--verify", "--quiet", f.against+"^{commit}")}, closeDB, nil
	}
	if f.branch != "" || f.testbed != "" {
		return nil, nil, usageErrorf("--branch and --testbed describe a run stored in the database: they need --database-url")
	}
	if f.baseline != "" || f.saveBaseline != "" {
		// --server defaults to $BENCHD_SERVER, consulted only when a baseline is used: a CI job
		// that sets it for `benchd post` and runs --against needs no token for run.
		f.server.fromEnv()
	}
	if f.server.url != "" {
		if err := f.server.validate(); err != nil {
			return nil, nil, err
		}
		return &httpStore{s: f.server}, nop, nil
	}
	dir := proj.Baselines
	if !filepath.IsAbs(dir) {
		base := f.dir
		if proj.File != "" {
			base = filepath.Dir(proj.File)
		}
		dir = filepath.Join(base, dir)
	}
	return runner.FileStore{Dir: dir}, nop, nil
}

// buildReport compares and judges with the project's units, options and thresholds; paired
// says that old and new were measured in pairs (interleaved), sample i of each side together.
func buildReport(proj *runner.Project, old, new *runner.Set, oldLabel, newLabel string, paired bool) (*runner.Report, error) {
	rules, err := runner.NewRules(proj.Thresholds)
	if err != nil {
		return nil, &exitError{code: 2, err: err}
	}
	if old != nil {
		old.SetUnits(proj.Units)
	}
	new.SetUnits(proj.Units)
	o := proj.Options
	o.Paired = paired
	return runner.NewReport(old, new, oldLabel, newLabel, rules, o), nil
}

// writeReport writes rep to stdout in format (not gobench).
func writeReport(env *environ, format string, rep *runner.Report) error {
	switch format {
	case "json":
		return runner.WriteJSON(env.stdout, rep)
	case "markdown":
		return runner.WriteMarkdown(env.stdout, rep)
	default:
		return runner.WriteText(env.stdout, rep, runner.TextOptions{Color: isTerminal(env.stdout) && env.getenv("NO_COLOR") == ""})
	}
}

// failOn returns the exit-1 error for status under the --fail-on policy, or nil.
func failOn(policy string, status runner.Status) error {
	switch {
	case policy == "never":
		return nil
	case status == runner.StatusRegressed:
		return &exitError{code: 1, err: errors.New("regression found")}
	case status == runner.StatusWarning && policy == "warning":
		return &exitError{code: 1, err: errors.New("threshold warning found")}
	}
	return nil
}
