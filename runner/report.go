package runner

import (
	"fmt"
	"math"
	"strconv"
)

// Report is a run (or a file) judged against a baseline and thresholds: what every output
// format prints.
type Report struct {
	// OldLabel and NewLabel name the baseline and the run ("main", "working tree", a file).
	// OldLabel is "" when there is no baseline.
	OldLabel, NewLabel string
	// Config is the run's config lines (goos, goarch, pkg, cpu, …).
	Config []ConfigLine
	// Comparisons and Verdicts are parallel: Verdicts[i] judges Comparisons[i].
	Comparisons []Comparison
	Verdicts    []Verdict
	// Failures are the benchmarks of the run that failed or never ran.
	Failures []Failure
	// Warnings are caveats about the input (unparsable lines, …).
	Warnings []string
}

// NewReport compares new with old (nil: no baseline) under o and judges the comparisons
// with rules (nil: only the regression test at o's defaults).
func NewReport(old, new *Set, oldLabel, newLabel string, rules *Rules, o Options) *Report {
	if rules == nil {
		rules = &Rules{}
	}
	if old == nil {
		oldLabel = ""
	}
	cmps := CompareSets(old, new, o)
	return &Report{
		OldLabel:    oldLabel,
		NewLabel:    newLabel,
		Config:      new.Config,
		Comparisons: cmps,
		Verdicts:    rules.Evaluate(cmps, o),
		Failures:    new.Failures,
	}
}

// Status is the report's overall status: regressed if any verdict regressed, else warning
// if any warned, else ok (improvements and unknowns are ok).
func (r *Report) Status() Status {
	st := StatusOK
	for _, v := range r.Verdicts {
		switch v.Status {
		case StatusRegressed:
			return StatusRegressed
		case StatusWarning:
			st = StatusWarning
		}
	}
	return st
}

// Counts returns how many verdicts have each status.
func (r *Report) Counts() map[Status]int {
	c := make(map[Status]int)
	for _, v := range r.Verdicts {
		c[v.Status]++
	}
	return c
}

// Headline is a one-line summary: "1 regressed, 2 warnings, 1 improved, 20 ok of 24; 1
// failure".
func (r *Report) Headline() string {
	c := r.Counts()
	s := ""
	add := func(n int, what string) {
		if n == 0 {
			return
		}
		if s != "" {
			s += ", "
		}
		s += strconv.Itoa(n) + " " + what
	}
	add(c[StatusRegressed], "regressed")
	add(c[StatusWarning], plural(c[StatusWarning], "warning"))
	add(c[StatusImproved], "improved")
	add(c[StatusOK], "ok")
	add(c[StatusUnknown], "not judged")
	if s == "" {
		s = "no results"
	} else {
		s += fmt.Sprintf(" of %d", len(r.Verdicts))
	}
	if n := len(r.Failures); n > 0 {
		s += fmt.Sprintf("; %d %s", n, plural(n, "failure"))
	}
	return s
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// displayName is the benchmark name as Go prints it, with its -GOMAXPROCS suffix.
func displayName(name string, procs int) string {
	if procs > 0 {
		return name + "-" + strconv.Itoa(procs)
	}
	return name
}

// formatSummary formats s like benchstat, in human units (FormatValue): "100.5 µs ± 2%",
// "∞" intervals as "± ∞".
func formatSummary(s Summary, unit string) string {
	if s.N == 0 {
		return "-"
	}
	v := FormatValue(s.Median, unit)
	w := ciHalfWidth(s)
	switch {
	case math.IsInf(w, 0):
		return v + " ± ∞"
	default:
		return fmt.Sprintf("%s ± %.0f%%", v, 100*w)
	}
}

// formatDelta formats c's change: "~" when not significant, "+12.86%" otherwise.
func formatDelta(c Comparison) string {
	if c.Old.N == 0 || c.New.N == 0 {
		return ""
	}
	if c.P >= c.Alpha {
		return "~"
	}
	if c.Old.Median == c.New.Median {
		return "0.00%"
	}
	if c.Old.Median == 0 {
		return "?"
	}
	return fmt.Sprintf("%+.2f%%", 100*c.Delta)
}

// formatP formats c's p-value ("" when there was no test).
func formatP(c Comparison) string {
	if c.Old.N == 0 || c.New.N == 0 {
		return ""
	}
	return fmt.Sprintf("p=%.3f n=%d+%d", c.P, c.Old.N, c.New.N)
}

// formatPValue formats c's p-value alone ("0.393"; "" when there was no test).
func formatPValue(c Comparison) string {
	if c.Old.N == 0 || c.New.N == 0 {
		return ""
	}
	return fmt.Sprintf("%.3f", c.P)
}
