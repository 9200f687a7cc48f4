package runner

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// This file is the one owner of judging a run: which baseline it is compared with, the
// verdict of every benchmark (comparison, thresholds, change points) and what happens to the
// series' alerts. It is pure: the caller (db.Store.Submit, for the API, the worker and
// `benchd run`) loads what it needs, calls Judge and stores the outcome in one transaction.

// BaselineKind says why a baseline was chosen.
type BaselineKind string

// The baseline kinds, in the order ChooseBaseline prefers them.
const (
	// BaselineInterleaved is the other side of an interleaved measurement (a commit built and
	// run alternately with the run's, on the same machine).
	BaselineInterleaved BaselineKind = "interleaved"
	// BaselineNamed is a named baseline: asked for, or the one named like the run's branch.
	BaselineNamed BaselineKind = "baseline"
	// BaselineStartPoint is the branch the run's branch started from, at the fork.
	BaselineStartPoint BaselineKind = "start_point"
	// BaselineHistory is the branch's own recent runs, pooled.
	BaselineHistory BaselineKind = "history"
)

// Baseline is what a run is compared with.
type Baseline struct {
	Kind BaselineKind
	// Name is the baseline's name (named), the start branch (start point), the branch
	// (history) or the ref (interleaved).
	Name string
	// RunIDs are the stored runs whose samples Results hold, newest first (empty for an
	// interleaved side that was not stored as a run).
	RunIDs []int64
	// Commit is the commit of the newest of those runs, or of the interleaved side.
	Commit string
	// Results are the baseline's samples by benchmark; a history baseline pools the samples
	// of its runs.
	Results []Result
	// Paired says that Results' samples are index-paired with the run's (interleaved turns).
	Paired bool
}

// Source is the stored form of b's kind and name ("baseline:main", "history:main"); "" for nil.
func (b *Baseline) Source() string {
	if b == nil {
		return ""
	}
	return string(b.Kind) + ":" + b.Name
}

// Label names b for people: "baseline main (run 12)", "start point main at 1a2b3c4 (run 7)",
// "history of main (runs 30–34)", "interleaved with 1a2b3c4"; "no baseline" for nil.
func (b *Baseline) Label() string {
	if b == nil {
		return "no baseline"
	}
	runs := ""
	switch len(b.RunIDs) {
	case 0:
	case 1:
		runs = " (run " + strconv.FormatInt(b.RunIDs[0], 10) + ")"
	default:
		lo, hi := b.RunIDs[0], b.RunIDs[0]
		for _, id := range b.RunIDs {
			lo, hi = min(lo, id), max(hi, id)
		}
		runs = fmt.Sprintf(" (%d runs, %d–%d)", len(b.RunIDs), lo, hi)
	}
	switch b.Kind {
	case BaselineNamed:
		return "baseline " + b.Name + runs
	case BaselineStartPoint:
		at := ""
		if b.Commit != "" {
			at = " at " + ShortCommit(b.Commit)
		}
		return "start point " + b.Name + at + runs
	case BaselineHistory:
		return "history of " + b.Name + runs
	case BaselineInterleaved:
		return "interleaved with " + ShortCommit(b.Name)
	}
	return string(b.Kind) + " " + b.Name + runs
}

// ShortCommit returns the first 7 characters of a commit id (all of a shorter one).
func ShortCommit(c string) string {
	if len(c) > 7 {
		return c[:7]
	}
	return c
}

// BaselineCandidates are the baselines a store found for a run; ChooseBaseline picks one.
type BaselineCandidates struct {
	// Interleaved is the other side of an interleaved measurement (nil: none).
	Interleaved *Baseline
	// Named is the named baseline asked for or configured (nil: none).
	Named *Baseline
	// StartPoint is the start branch's run at the fork (nil: none).
	StartPoint *Baseline
	// History is the branch's recent runs, pooled (nil: the branch has none).
	History *Baseline
}

// ChooseBaseline returns the baseline a run is compared with, in this order: the interleaved
// side; a named baseline; the branch's start point; the branch's recent history (never the
// single previous run alone, unless it is all the history there is). nil when none exists.
func ChooseBaseline(c BaselineCandidates) *Baseline {
	for _, b := range []*Baseline{c.Interleaved, c.Named, c.StartPoint, c.History} {
		if b != nil && len(b.Results) > 0 {
			return b
		}
	}
	return nil
}

// PoolResults returns the results of runs (newest first) pooled by package, name, procs and
// unit: each result's samples are the samples of every run that has it, newest run first.
// Its order is the first run's, then the results only older runs have.
func PoolResults(runs [][]Result) []Result {
	idx := map[resultKey]int{}
	var out []Result
	for _, rs := range runs {
		for _, r := range rs {
			k := resultKey{r.Pkg, r.Name, r.Procs, r.Unit}
			i, ok := idx[k]
			if !ok {
				idx[k] = len(out)
				r.Samples = append([]float64(nil), r.Samples...)
				out = append(out, r)
				continue
			}
			out[i].Samples = append(out[i].Samples, r.Samples...)
		}
	}
	return out
}

// HistoryRun is one earlier done run of the series a run belongs to, for the change-point rule.
type HistoryRun struct {
	RunID     int64
	Commit    string
	StartedAt time.Time
	// Medians are the run's medians by benchmark name and unit.
	Medians map[SeriesKey]float64
}

// SeriesKey is a benchmark measured in a unit: one line of a branch's history.
type SeriesKey struct{ Name, Unit string }

// OpenAlert is an active or acknowledged alert of the run's series.
type OpenAlert struct {
	ID         int64
	Name, Unit string
	Rule       string
	// Acknowledged alerts stay open (a run may still resolve them) but are not shown as news.
	Acknowledged bool
	// Baseline is the value before the change; Limit the threshold's limit (percent for
	// regressions).
	Baseline, Limit float64
}

// AlertAction is what a judgement does to an alert.
type AlertAction string

// The alert actions.
const (
	// AlertOpen opens an alert for a change no open alert covers.
	AlertOpen AlertAction = "open"
	// AlertUpdate records that a later run still shows an open alert's change.
	AlertUpdate AlertAction = "update"
	// AlertResolve closes an alert whose benchmark is back within limits.
	AlertResolve AlertAction = "resolve"
)

// AlertChange is one thing a judgement does to the series' alerts.
type AlertChange struct {
	Action AlertAction
	// ID is the alert updated or resolved (0 for AlertOpen).
	ID int64
	// Rule is the alert's rule: the verdict's for AlertOpen, the open alert's otherwise.
	Rule string
	// Verdict is the verdict that opens or updates the alert (for AlertResolve, the verdict
	// that shows the benchmark back within limits).
	Verdict Verdict
	// FirstBad and LastGood locate the change of an opened alert: an index into
	// JudgeInput.History, or -1 for the judged run itself (FirstBad) or none (LastGood).
	FirstBad, LastGood int
}

// JudgeInput is everything a judgement needs.
type JudgeInput struct {
	// Results are the run's.
	Results []Result
	// Baseline is what the run is compared with (nil: nothing).
	Baseline *Baseline
	// History is the series' earlier done runs, oldest first (the change-point window).
	History []HistoryRun
	// Open are the series' open alerts.
	Open []OpenAlert
	// Rules are the project's thresholds, compiled (nil: DefaultThresholds).
	Rules *Rules
	// Options are the comparison's statistics settings.
	Options Options
	// ChangePoints tunes the change-point rule (zero: its defaults).
	ChangePoints ChangePointRule
}

// Judgement is a judged run.
type Judgement struct {
	// Comparisons and Verdicts are in the order of JudgeInput.Results.
	Comparisons []Comparison
	Verdicts    []Verdict
	// Alerts are the alert changes, in the order of Verdicts.
	Alerts []AlertChange
}

// Judge compares in.Results with in.Baseline (index-paired when the baseline is
// interleaved), applies the rules and the change-point rule over in.History, names the
// baseline on every verdict and decides the alerts: a change opens one alert per series and
// rule family (a regression verdict and a change point are one family); later runs that still
// show it update it; a run back within the alert's limit resolves it.
func Judge(in JudgeInput) Judgement {
	rules := in.Rules
	if rules == nil {
		rules, _ = NewRules(DefaultThresholds()) // the defaults compile: a test checks
	}
	o := in.Options.withDefaults()
	var base map[resultKey]*Result
	loose := map[resultKey]*Result{}
	if in.Baseline != nil {
		base = make(map[resultKey]*Result, len(in.Baseline.Results))
		for i := range in.Baseline.Results {
			r := &in.Baseline.Results[i]
			base[resultKey{r.Pkg, r.Name, r.Procs, r.Unit}] = r
			loose[resultKey{"", r.Name, 0, r.Unit}] = r
		}
	}
	j := Judgement{Comparisons: make([]Comparison, len(in.Results))}
	co := o
	co.Paired = in.Baseline != nil && in.Baseline.Paired
	for i := range in.Results {
		r := &in.Results[i]
		var old *Result
		if base != nil {
			if old = base[resultKey{r.Pkg, r.Name, r.Procs, r.Unit}]; old == nil {
				old = loose[resultKey{"", r.Name, 0, r.Unit}]
			}
		}
		j.Comparisons[i] = Compare(old, r, co)
	}
	j.Verdicts = rules.Evaluate(j.Comparisons, o)
	where := make([]changeAt, len(j.Verdicts))
	label := in.Baseline.Label()
	for i := range j.Verdicts {
		v := &j.Verdicts[i]
		c := j.Comparisons[i]
		v.Better = c.Better
		meds := seriesMedians(in.History, SeriesKey{c.Name, c.Unit}, c.New.Median)
		// Without a change point, a change starts with this run, after the series' newest run.
		where[i] = changeAt{firstBad: -1, lastGood: -1, measured: c.New.N > 0}
		if n := len(meds.history); n > 1 {
			where[i].lastGood = meds.history[n-2]
		}
		if c.New.N > 0 && c.Better != DirUnknown {
			if w, at, ok := in.ChangePoints.Verdict(c.Name, c.Unit, c.Better, meds.values); ok {
				*v = AddVerdict(*v, w)
				where[i] = changeAt{firstBad: meds.history[at], lastGood: meds.history[at-1], measured: true}
			}
		}
		if in.Baseline != nil {
			v.Against = label
		}
	}
	j.Alerts = decideAlerts(j.Verdicts, where, in.Open)
	return j
}

// changeAt locates a change in JudgeInput.History (-1: the judged run for firstBad, none
// for lastGood); measured is false when the run lacks the benchmark.
type changeAt struct {
	firstBad, lastGood int
	measured           bool
}

// seriesPoints are a series' medians with the History index of each (-1 for the judged run).
type seriesPoints struct {
	values  []float64
	history []int
}

// seriesMedians returns k's medians in history (runs that lack it are skipped) followed by now.
func seriesMedians(history []HistoryRun, k SeriesKey, now float64) seriesPoints {
	p := seriesPoints{values: make([]float64, 0, len(history)+1), history: make([]int, 0, len(history)+1)}
	for i, h := range history {
		if m, ok := h.Medians[k]; ok {
			p.values = append(p.values, m)
			p.history = append(p.history, i)
		}
	}
	p.values = append(p.values, now)
	p.history = append(p.history, -1)
	return p
}

// ChangePointRule is the change-point rule: the series' last level shift, found by
// ChangePoints, is news when it is for the worse by at least MinEffect and starts within the
// Recent newest points (older shifts were news when they were recent). The zero value means
// the defaults.
type ChangePointRule struct {
	// MinPoints is the shortest series judged, the judged run included. Default 6.
	MinPoints int
	// Recent is how many of the newest points a shift may start in. Default 8.
	Recent int
	// Options tune the search; MinEffect defaults to 0.05 here.
	Options ChangePointOptions
}

// Verdict applies the rule to medians (oldest first, the judged run last) of a benchmark in
// unit with direction better. ok is false when the series is too short, has no shift, its last
// shift is for the better or older than Recent points. at is the index in medians of the first
// point of the new level.
func (r ChangePointRule) Verdict(name, unit string, better Direction, medians []float64) (v Verdict, at int, ok bool) {
	if r.MinPoints == 0 {
		r.MinPoints = 6
	}
	if r.Recent == 0 {
		r.Recent = 8
	}
	if r.Options.MinEffect == 0 {
		r.Options.MinEffect = 0.05
	}
	if better == DirUnknown || len(medians) < r.MinPoints {
		return Verdict{}, 0, false
	}
	cps := ChangePoints(medians, r.Options)
	if len(cps) == 0 {
		return Verdict{}, 0, false
	}
	last := cps[len(cps)-1]
	if last.Delta*float64(better) >= 0 || last.Index < len(medians)-r.Recent {
		return Verdict{}, 0, false
	}
	return Verdict{
		Name: name, Unit: unit, Status: StatusWarning, Rule: "changepoint",
		Value: last.After, Baseline: last.Before, Delta: last.Delta, P: last.P,
		Note: fmt.Sprintf("level shifted %+.1f%% at point %d of %d (p=%.3f)", 100*last.Delta, last.Index+1, len(medians), last.P),
	}, last.Index, true
}

// alertFamily groups the rules whose alerts are one alert per change: a regression verdict
// and a change point for the same shift are the same change. "" for a rule that raises none.
func alertFamily(rule string) string {
	switch rule {
	case "regression", "changepoint":
		return "shift"
	case "upper", "lower", "scaling":
		return rule
	}
	return ""
}

// decideAlerts returns the alert changes of verdicts against the open alerts of the series.
func decideAlerts(verdicts []Verdict, where []changeAt, open []OpenAlert) []AlertChange {
	type fam struct{ name, unit, family string }
	byFam := map[fam][]OpenAlert{}
	for _, a := range open {
		k := fam{a.Name, a.Unit, alertFamily(a.Rule)}
		byFam[k] = append(byFam[k], a)
	}
	var out []AlertChange
	for i, v := range verdicts {
		fires := (v.Status == StatusRegressed || v.Status == StatusWarning) && alertFamily(v.Rule) != ""
		firing := ""
		if fires {
			firing = alertFamily(v.Rule)
			k := fam{v.Name, v.Unit, firing}
			if as := byFam[k]; len(as) > 0 {
				out = append(out, AlertChange{Action: AlertUpdate, ID: as[0].ID, Rule: as[0].Rule, Verdict: v})
			} else {
				out = append(out, AlertChange{Action: AlertOpen, Rule: v.Rule, Verdict: v, FirstBad: where[i].firstBad, LastGood: where[i].lastGood})
			}
		}
		for _, f := range []string{"shift", "upper", "lower", "scaling"} {
			if f == firing || !where[i].measured {
				continue
			}
			for _, a := range byFam[fam{v.Name, v.Unit, f}] {
				switch {
				case backWithin(a, v):
					out = append(out, AlertChange{Action: AlertResolve, ID: a.ID, Rule: a.Rule, Verdict: v})
				case f == "shift":
					// Not flagged against this run's baseline (a history that moved with the
					// change), but still worse than before the change: it still shows it.
					out = append(out, AlertChange{Action: AlertUpdate, ID: a.ID, Rule: a.Rule, Verdict: v})
				}
			}
		}
	}
	// An update's size is measured from the alert's value before the change.
	before := map[int64]float64{}
	for _, a := range open {
		if alertFamily(a.Rule) == "shift" && a.Baseline != 0 {
			before[a.ID] = a.Baseline
		}
	}
	for k := range out {
		if b, ok := before[out[k].ID]; ok && out[k].Action == AlertUpdate {
			out[k].Verdict.Delta = out[k].Verdict.Value/b - 1
		}
	}
	return out
}

// backWithin reports whether verdict v (of a later run) shows alert a's benchmark back within
// the limit the alert was raised for: for a shift, the median is no longer worse than the
// alert's value before the change by the alert's minimum effect (5% unless its rule said
// otherwise); for a static limit, the median is inside it; for scaling, the rule no longer
// fires. Comparing with the alert's own baseline value matters: against a baseline that moved
// with the change, a lasting regression would look fine.
func backWithin(a OpenAlert, v Verdict) bool {
	switch a.Rule {
	case "upper":
		return v.Value <= a.Limit
	case "lower":
		return v.Value >= a.Limit
	case "regression", "changepoint":
		better := v.Better
		if a.Baseline == 0 || better == DirUnknown {
			return v.Status == StatusOK || v.Status == StatusImproved
		}
		effect := 0.05
		if a.Rule == "regression" && a.Limit > 0 {
			effect = a.Limit / 100
		}
		worse := (v.Value - a.Baseline) / math.Abs(a.Baseline) * -float64(better)
		return worse < effect
	}
	return v.Status == StatusOK || v.Status == StatusImproved
}

// RuleSource returns the rules a project's runs are judged by, and where they come from: the
// rules stored in the database for the project when it has any ("database"), else the
// project file's ("project file"), else DefaultThresholds ("defaults"). This is the one
// precedence between benchd.yaml and the database.
func RuleSource(database, projectFile []Threshold) ([]Threshold, string) {
	switch {
	case len(database) > 0:
		return database, "database"
	case len(projectFile) > 0:
		return projectFile, "project file"
	}
	return DefaultThresholds(), "defaults"
}
