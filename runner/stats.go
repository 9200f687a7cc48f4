package runner

import (
	"fmt"
	"math"
	"slices"

	"golang.org/x/perf/benchmath"
)

// Options are the statistical settings of a comparison. The zero value means the defaults.
type Options struct {
	// Alpha is the significance level of the Mann-Whitney U test. Default 0.05.
	Alpha float64
	// MinEffect is the smallest relative change that counts as a regression or an
	// improvement (0.05 = 5%). Default 0.05.
	MinEffect float64
	// WideCI is the relative half-width of the 95% CI above which a summary carries a
	// "wide CI" warning (0.10 = ±10%). Default 0.10.
	WideCI float64
	// Confidence is the level of the median's confidence interval. Default 0.95.
	Confidence float64
	// Paired says that old and new samples were measured in pairs, sample i of each side
	// back to back (`benchd run --against` interleaves them so). Compare then decides with
	// the Wilcoxon signed-rank test on the per-pair log ratios (SignedRank) instead of the
	// Mann-Whitney U test, and Delta is the paired estimate of the change. When the two sides
	// have different sample counts the U test is used, with a warning; so it is for values
	// ≤ 0 (0 B/op), silently. Default false: the
	// samples are two independent sets (a stored baseline, two files), and the U test decides.
	Paired bool
}

// withDefaults returns o with its zero fields set to their defaults.
func (o Options) withDefaults() Options {
	if o.Alpha == 0 {
		o.Alpha = 0.05
	}
	if o.MinEffect == 0 {
		o.MinEffect = 0.05
	}
	if o.WideCI == 0 {
		o.WideCI = 0.10
	}
	if o.Confidence == 0 {
		o.Confidence = 0.95
	}
	return o
}

// Summarize returns the median of samples and its confidence interval (95% by default),
// computed with benchmath's distribution-free method (the same as benchstat). Warnings say
// when the sample is too small for an interval, has zero variance, or when the interval is
// wider than o.WideCI. samples is not modified. No samples give a zero Summary with a
// warning.
func Summarize(samples []float64, o Options) Summary {
	return summarize(samples, o, benchmath.AssumeNothing)
}

// summarize is Summarize under assumption a (AssumeExact for `assume=exact` units: the
// mode, bounded by the extremes, with a warning when the values differ).
func summarize(samples []float64, o Options, a benchmath.Assumption) Summary {
	o = o.withDefaults()
	if len(samples) == 0 {
		return Summary{Warnings: []string{"no samples"}}
	}
	s := benchmath.NewSample(slices.Clone(samples), &benchmath.Thresholds{CompareAlpha: o.Alpha})
	bs := a.Summary(s, o.Confidence)
	if a == benchmath.AssumeExact {
		sum := Summary{Median: bs.Center, Lo: bs.Lo, Hi: bs.Hi, N: len(samples)}
		for _, w := range bs.Warnings {
			sum.Warnings = append(sum.Warnings, w.Error())
		}
		return sum
	}
	sum := Summary{Median: bs.Center, Lo: bs.Lo, Hi: bs.Hi, N: len(samples)}
	for _, w := range bs.Warnings {
		sum.Warnings = append(sum.Warnings, w.Error())
	}
	if len(samples) > 1 && s.Values[0] == s.Values[len(s.Values)-1] {
		sum.Warnings = append(sum.Warnings, "all samples are equal")
	} else if w := ciHalfWidth(sum); !math.IsInf(w, 0) && w > o.WideCI {
		sum.Warnings = append(sum.Warnings, fmt.Sprintf("wide CI: more than ±%.0f%% around the median", 100*o.WideCI))
	}
	return sum
}

// ciHalfWidth is the larger distance from the median to a CI bound, relative to the median.
// It is +Inf when a bound is infinite or the median is 0 with a non-zero interval.
func ciHalfWidth(s Summary) float64 {
	if math.IsInf(s.Lo, 0) || math.IsInf(s.Hi, 0) {
		return math.Inf(1)
	}
	if s.Median == 0 {
		if s.Lo == 0 && s.Hi == 0 {
			return 0
		}
		return math.Inf(1)
	}
	return math.Max(s.Hi/s.Median-1, 1-s.Lo/s.Median)
}

// Comparison is one benchmark/unit of a new run set against its baseline.
type Comparison struct {
	Pkg    string    `json:"pkg,omitempty"`
	Name   string    `json:"name"`
	Procs  int       `json:"procs,omitempty"`
	Unit   string    `json:"unit"`
	Better Direction `json:"better"`
	// Old is the baseline's summary (N == 0 when the baseline has no such result).
	Old Summary `json:"old"`
	// New is the run's summary (N == 0 when the run lost a result the baseline had).
	New Summary `json:"new"`
	// Delta is (new-old)/old of the medians; 0 when either side is missing or old is 0.
	Delta float64 `json:"delta"`
	// P is the p-value of Test (1 when either side is missing or the test failed).
	P float64 `json:"p"`
	// Test names the test that gave P: TestU (Mann-Whitney U, two independent sets) or
	// TestSignedRank (Wilcoxon signed-rank on paired samples) or TestExact (an
	// `assume=exact` unit: P is 0 and only the change counts); "" when nothing was tested.
	Test string `json:"test,omitempty"`
	// DeltaLo and DeltaHi bound the 95% confidence interval of Delta when Test is
	// TestSignedRank (both 0 otherwise).
	DeltaLo float64 `json:"delta_lo,omitempty"`
	DeltaHi float64 `json:"delta_hi,omitempty"`
	// Resolution is the smallest relative change this comparison could tell from noise: the
	// half-width of the change's 95% interval (paired), or the root sum of squares of the
	// two medians' relative CI half-widths (unpaired). +Inf when an interval is unbounded,
	// 0 when nothing was compared.
	Resolution float64 `json:"resolution,omitempty"`
	// Alpha is the significance level P was judged at.
	Alpha float64 `json:"alpha"`
	// Status is regressed, improved, ok (no significant change of at least the minimum
	// effect) or unknown (a side is missing, or the unit's direction is unknown).
	Status Status `json:"status"`
	// Warnings are comparison caveats (too few samples to ever reach significance, …).
	Warnings []string `json:"warnings,omitempty"`
}

// Tests named by Comparison.Test.
const (
	TestU          = "U"           // Mann-Whitney U on two independent sets of samples
	TestSignedRank = "signed-rank" // Wilcoxon signed-rank on per-pair log ratios
	TestExact      = "exact"       // `Unit … assume=exact`: no test, the values are exact
)

// Compare compares new with old (same benchmark and unit): with the Mann-Whitney U test and
// the change of the medians, or — with o.Paired and as many samples on both sides — with the
// Wilcoxon signed-rank test on per-pair log ratios and their Hodges-Lehmann estimate. This
// is benchd's one comparison: run, compare, post and the server all come here. old may be
// nil (no baseline): the comparison then has only New and status unknown.
func Compare(old, new *Result, o Options) Comparison {
	o = o.withDefaults()
	var base *Result
	if new != nil {
		base = new
	} else {
		base = old
	}
	c := Comparison{Pkg: base.Pkg, Name: base.Name, Procs: base.Procs, Unit: base.Unit, Better: base.Better, P: 1, Alpha: o.Alpha, Status: StatusUnknown}
	// `Unit … assume=exact` on either side (a stored baseline may predate the line).
	var assume benchmath.Assumption = benchmath.AssumeNothing
	if (new != nil && new.Exact) || (old != nil && old.Exact) {
		assume = benchmath.AssumeExact
	}
	if new != nil {
		c.New = summarize(new.Samples, o, assume)
	}
	if old != nil {
		c.Old = summarize(old.Samples, o, assume)
		if c.Better == DirUnknown {
			c.Better = old.Better
		}
	}
	if old == nil || new == nil || len(old.Samples) == 0 || len(new.Samples) == 0 {
		return c
	}
	switch {
	case assume == benchmath.AssumeExact:
		// As benchstat: exact values differ or they do not; P is 0 and the change decides.
		c.P, c.Test = 0, TestExact
		if c.Old.Median != 0 {
			c.Delta = c.New.Median/c.Old.Median - 1
		}
	case o.Paired && len(old.Samples) == len(new.Samples) && allPositive(old.Samples) && allPositive(new.Samples):
		comparePaired(&c, old.Samples, new.Samples, o)
	default:
		if o.Paired && len(old.Samples) != len(new.Samples) {
			// (Values ≤ 0 — 0 B/op — have no log ratio; they take the U test silently.)
			c.Warnings = append(c.Warnings, fmt.Sprintf("samples not paired (%d old, %d new): U test", len(old.Samples), len(new.Samples)))
		}
		th := &benchmath.Thresholds{CompareAlpha: o.Alpha}
		s1 := benchmath.NewSample(slices.Clone(old.Samples), th)
		s2 := benchmath.NewSample(slices.Clone(new.Samples), th)
		bc := benchmath.AssumeNothing.Compare(s1, s2)
		c.P, c.Test = bc.P, TestU
		for _, w := range bc.Warnings {
			c.Warnings = append(c.Warnings, w.Error())
		}
		if c.Old.Median != 0 {
			c.Delta = c.New.Median/c.Old.Median - 1
		}
		c.Resolution = math.Hypot(ciHalfWidth(c.Old), ciHalfWidth(c.New))
	}
	if c.Test == TestSignedRank && c.Resolution > o.MinEffect && !math.IsInf(c.Resolution, 0) {
		c.Warnings = append(c.Warnings, fmt.Sprintf("resolves only ±%s here, more than the %g%% minimum effect", pct(c.Resolution), 100*o.MinEffect))
	}
	c.Status = judge(c, o.Alpha, o.MinEffect)
	return c
}

// comparePaired fills c's test, change and resolution from the signed-rank test of the pairs
// (old[i], new[i]), all positive.
func comparePaired(c *Comparison, old, new []float64, o Options) {
	pt := SignedRank(old, new, o.Confidence)
	c.Test, c.P = TestSignedRank, pt.P
	c.Delta, c.DeltaLo, c.DeltaHi = pt.Ratio-1, pt.Lo-1, pt.Hi-1
	c.Resolution = math.Max(pt.Hi/pt.Ratio-1, 1-pt.Lo/pt.Ratio)
	// With n pairs the smallest two-sided p is 2/2^n: below 8 pairs p < 0.01 is impossible.
	if minP := math.Ldexp(2, -pt.N); minP >= o.Alpha {
		c.Warnings = append(c.Warnings, fmt.Sprintf("need >= %d pairs to detect a difference at alpha level %g", pairsFor(o.Alpha), o.Alpha))
	}
}

// pairsFor is the smallest number of pairs whose smallest two-sided signed-rank p-value,
// 2/2^n, is below alpha.
func pairsFor(alpha float64) int {
	n := 1
	for math.Ldexp(2, -n) >= alpha {
		n++
	}
	return n
}

// allPositive reports whether every value is > 0 (log ratios need it).
func allPositive(xs []float64) bool {
	for _, x := range xs {
		if !(x > 0) {
			return false
		}
	}
	return true
}

// pct formats a relative value as a percentage ("4.2%", "∞").
func pct(x float64) string {
	if math.IsInf(x, 0) {
		return "∞"
	}
	return fmt.Sprintf("%.1f%%", 100*x)
}

// judge returns the status of c at significance alpha and minimum effect minEffect.
func judge(c Comparison, alpha, minEffect float64) Status {
	if c.Old.N == 0 || c.New.N == 0 || c.Better == DirUnknown {
		return StatusUnknown
	}
	if c.P >= alpha {
		return StatusOK
	}
	change := c.Delta * float64(c.Better) // > 0 is better, < 0 is worse
	if c.Old.Median == 0 && c.New.Median != 0 {
		// From zero (0 B/op → 16 B/op) any change is infinitely large.
		change = math.Copysign(math.Inf(1), (c.New.Median-c.Old.Median)*float64(c.Better))
	}
	switch {
	case change <= -minEffect:
		return StatusRegressed
	case change >= minEffect:
		return StatusImproved
	}
	return StatusOK
}

// CompareSets compares every result of new with the result of old with the same package,
// name, procs and unit, in new's order, followed by the results only old has (New.N == 0).
// A nil old compares nothing: every comparison has status unknown.
func CompareSets(old, new *Set, opt Options) []Comparison {
	idx := make(map[resultKey]*Result)
	loose := make(map[resultKey]*Result) // without pkg, for files that lack or differ in pkg:
	if old != nil {
		for i := range old.Results {
			r := &old.Results[i]
			idx[resultKey{r.Pkg, r.Name, r.Procs, r.Unit}] = r
			lk := resultKey{"", r.Name, r.Procs, r.Unit}
			if _, dup := loose[lk]; dup {
				loose[lk] = nil // ambiguous: more than one package has it
			} else {
				loose[lk] = r
			}
		}
	}
	out := make([]Comparison, 0, len(new.Results))
	seen := make(map[resultKey]bool, len(new.Results))
	for i := range new.Results {
		r := &new.Results[i]
		o := idx[resultKey{r.Pkg, r.Name, r.Procs, r.Unit}]
		if o == nil {
			o = loose[resultKey{"", r.Name, r.Procs, r.Unit}]
		}
		if o != nil {
			seen[resultKey{o.Pkg, o.Name, o.Procs, o.Unit}] = true
		}
		out = append(out, Compare(o, r, opt))
	}
	if old != nil {
		for i := range old.Results {
			r := &old.Results[i]
			if !seen[resultKey{r.Pkg, r.Name, r.Procs, r.Unit}] {
				out = append(out, Compare(r, nil, opt))
			}
		}
	}
	return out
}
