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
	// Paired says that old's and new's samples are index-paired (measured in alternating
	// turns, as an interleaved run is), so a paired test may decide. Default false.
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
	o = o.withDefaults()
	if len(samples) == 0 {
		return Summary{Warnings: []string{"no samples"}}
	}
	s := benchmath.NewSample(slices.Clone(samples), &benchmath.Thresholds{CompareAlpha: o.Alpha})
	bs := benchmath.AssumeNothing.Summary(s, o.Confidence)
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
	// P is the Mann-Whitney U p-value (1 when either side is missing or the test failed).
	P float64 `json:"p"`
	// Alpha is the significance level P was judged at.
	Alpha float64 `json:"alpha"`
	// Status is regressed, improved, ok (no significant change of at least the minimum
	// effect) or unknown (a side is missing, or the unit's direction is unknown).
	Status Status `json:"status"`
	// Warnings are comparison caveats (too few samples to ever reach significance, …).
	Warnings []string `json:"warnings,omitempty"`
}

// Compare compares new with old (same benchmark and unit) with the U test and the medians.
// old may be nil (no baseline): the comparison then has only New and status unknown.
func Compare(old, new *Result, o Options) Comparison {
	o = o.withDefaults()
	var base *Result
	if new != nil {
		base = new
	} else {
		base = old
	}
	c := Comparison{Pkg: base.Pkg, Name: base.Name, Procs: base.Procs, Unit: base.Unit, Better: base.Better, P: 1, Alpha: o.Alpha, Status: StatusUnknown}
	if new != nil {
		c.New = Summarize(new.Samples, o)
	}
	if old != nil {
		c.Old = Summarize(old.Samples, o)
		if c.Better == DirUnknown {
			c.Better = old.Better
		}
	}
	if old == nil || new == nil || len(old.Samples) == 0 || len(new.Samples) == 0 {
		return c
	}
	th := &benchmath.Thresholds{CompareAlpha: o.Alpha}
	s1 := benchmath.NewSample(slices.Clone(old.Samples), th)
	s2 := benchmath.NewSample(slices.Clone(new.Samples), th)
	bc := benchmath.AssumeNothing.Compare(s1, s2)
	c.P = bc.P
	for _, w := range bc.Warnings {
		c.Warnings = append(c.Warnings, w.Error())
	}
	if c.Old.Median != 0 {
		c.Delta = c.New.Median/c.Old.Median - 1
	}
	c.Status = judge(c, o.Alpha, o.MinEffect)
	return c
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
