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

	// rows, when set, computes the comparisons and verdicts as they are written (a report
	// from Pair.Report); Comparisons and Verdicts are then empty.
	rows rowSource
	// counts caches the verdict counts of a report with rows.
	counts map[Status]int
}

// rowSource yields a report's comparisons and verdicts by index, in report order.
type rowSource interface {
	len() int
	// unit returns the unit of comparison i without computing it.
	unit(i int) string
	// cmp returns comparison i.
	cmp(i int) Comparison
	// row returns comparison i and its verdict.
	row(i int) (Comparison, Verdict)
}

// sliceRows is the rowSource of a report that holds its comparisons.
type sliceRows struct{ r *Report }

func (s sliceRows) len() int                        { return len(s.r.Comparisons) }
func (s sliceRows) unit(i int) string               { return s.r.Comparisons[i].Unit }
func (s sliceRows) cmp(i int) Comparison            { return s.r.Comparisons[i] }
func (s sliceRows) row(i int) (Comparison, Verdict) { return s.r.Comparisons[i], s.r.Verdicts[i] }
func (r *Report) source() rowSource {
	if r.rows != nil {
		return r.rows
	}
	return sliceRows{r}
}

// Len returns the number of comparisons (and verdicts) in the report.
func (r *Report) Len() int { return r.source().len() }

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
	c := r.Counts()
	switch {
	case c[StatusRegressed] > 0:
		return StatusRegressed
	case c[StatusWarning] > 0:
		return StatusWarning
	}
	return StatusOK
}

// Counts returns how many verdicts have each status. For a report from Pair.Report the
// first call judges every comparison (unless a writer already has); later calls are free.
func (r *Report) Counts() map[Status]int {
	if r.rows != nil && r.counts != nil {
		return r.counts
	}
	c := make(map[Status]int)
	src := r.source()
	for i := range src.len() {
		_, v := src.row(i)
		c[v.Status]++
	}
	if r.rows != nil {
		r.counts = c
	}
	return c
}

// setCounts caches counts that a writer collected while visiting every verdict once.
func (r *Report) setCounts(c map[Status]int) {
	if r.rows != nil {
		r.counts = c
	}
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
		s += fmt.Sprintf(" of %d", r.Len())
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
