package runner

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// DefaultThresholds returns the session core's default rules, from the seed benchmarks'
// warning levels (DESIGN.md, "Thresholds"). A project file's thresholds replace them.
func DefaultThresholds() []Threshold {
	return []Threshold{
		{Benchmark: ".*", Kind: KindRegression, Warn: 5, Note: "significant (U test) and ≥ 5% worse than the baseline"},
		{Benchmark: ".*", Unit: InstructionsUnit, Kind: KindRegression, Warn: 3, Note: "instruction counts: significant and ≥ 3% more (turns of unchanged code differ by 1–3%)"},
		{Benchmark: "Create/.*", Unit: "sessions/s", Kind: KindLower, Warn: 1000, Note: "seed: creation warning below 1,000 sessions/s"},
		{Benchmark: "ConcurrentCreate/.*", Unit: "sessions/s", Kind: KindLower, Warn: 1000, Note: "seed: concurrent creation ≥ 1,000/s"},
		{Benchmark: "(Lookup/.*|Manager/op=get)", Unit: "sec/op", Kind: KindUpper, Warn: 1e-3, Note: "seed: registry lookup warning at ≥ 1 ms"},
		{Benchmark: "(Idle)?Memory/.*", Unit: "B/session", Kind: KindUpper, Warn: 100 << 10, Note: "seed: memory warning above 100 KB per session"},
		{Benchmark: "Session/op=transition", Unit: "sec/op", Kind: KindUpper, Warn: 0.5e-3, Note: "seed: transition < 0.5 ms"},
		{Benchmark: "Pool/op=broadcast/conns=100", Unit: "sec/op", Kind: KindUpper, Warn: 10e-3, Note: "seed: broadcast to 100 connections < 10 ms"},
		{Benchmark: ".*", Unit: "sec/op", Kind: KindScaling, Warn: 2, Note: "seed: per-op cost must not grow non-linearly across n"},
		{Benchmark: ".*", Unit: "sessions/s", Kind: KindScaling, Warn: 2, Note: "seed: per-session cost must not grow non-linearly across n"},
		{Benchmark: ".*", Unit: "sec/session", Kind: KindScaling, Warn: 2, Note: "seed: time per session must not grow non-linearly across n"},
		{Benchmark: ".*", Unit: "B/session", Kind: KindScaling, Warn: 2, Note: "seed: memory per session must not grow with n"},
	}
}

// Rules is a compiled list of thresholds, ready to judge comparisons.
type Rules struct {
	list []rule
}

type rule struct {
	Threshold
	re *regexp.Regexp
}

// NewRules compiles ths. Each Benchmark pattern must match the whole benchmark name
// (without "Benchmark" and -GOMAXPROCS). It returns an error naming the first bad pattern
// or kind. No thresholds give Rules that only apply Options' regression test.
func NewRules(ths []Threshold) (*Rules, error) {
	rs := &Rules{}
	for i, th := range ths {
		re, err := compileThreshold(th)
		if err != nil {
			return nil, fmt.Errorf("threshold %d: %w", i+1, err)
		}
		rs.list = append(rs.list, rule{th, re})
	}
	return rs, nil
}

// compileThreshold checks th's kind and compiles its whole-name pattern.
func compileThreshold(th Threshold) (*regexp.Regexp, error) {
	switch th.Kind {
	case KindUpper, KindLower, KindRegression, KindScaling:
	default:
		return nil, fmt.Errorf("unknown kind %q (want upper, lower, regression or scaling)", th.Kind)
	}
	re, err := regexp.Compile("^(?:" + th.Benchmark + ")$")
	if err != nil {
		return nil, fmt.Errorf("compiling benchmark pattern: %w", err)
	}
	return re, nil
}

// matches reports whether r applies to the benchmark name in unit.
func (r *rule) matches(name, unit string) bool {
	return (r.Unit == "" || r.Unit == unit) && r.re.MatchString(name)
}

// firing is one rule that fired (or was checked) for a comparison.
type firing struct {
	status Status
	rule   string
	limit  float64
	note   string
}

// severity orders statuses: a verdict shows the most severe rule that fired.
func severity(s Status) int {
	switch s {
	case StatusRegressed:
		return 4
	case StatusWarning:
		return 3
	case StatusImproved:
		return 2
	case StatusOK:
		return 1
	}
	return 0
}

// Evaluate returns one Verdict per comparison, in the same order: the regression test
// (significant at o.Alpha and worse by at least the minimum effect — the last matching
// regression threshold's Warn percent, else o.MinEffect), static upper/lower limits on the
// new median, and scaling across the `n=` variants of a benchmark family. The verdict shows
// the most severe rule that fired and mentions the others in its Note. A comparison without
// a baseline and without a static rule that applies is StatusUnknown.
func (rs *Rules) Evaluate(cmps []Comparison, o Options) []Verdict {
	o = o.withDefaults()
	scaling := rs.scaling(len(cmps), func(i int) string { return cmps[i].Name }, func(i int) Comparison { return cmps[i] })
	out := make([]Verdict, len(cmps))
	for i, c := range cmps {
		f, ok := scaling[i]
		out[i] = rs.verdict(c, o, f, ok)
	}
	return out
}

// MinEffect is the minimum effect (0.05 = 5%) a significant change of benchmark name in unit
// must reach to count: the last regression threshold that matches it, else def.
func (rs *Rules) MinEffect(name, unit string, def float64) float64 {
	for j := len(rs.list) - 1; j >= 0; j-- {
		if r := &rs.list[j]; r.Kind == KindRegression && r.matches(name, unit) {
			return r.Warn / 100
		}
	}
	return def
}

// verdict judges one comparison under o (with its defaults set); sc is the scaling rule's
// firing for it when hasScaling (the comparison is the largest n of a family).
func (rs *Rules) verdict(c Comparison, o Options, sc firing, hasScaling bool) Verdict {
	v := Verdict{Name: c.Name, Unit: c.Unit, Value: c.New.Median, Baseline: c.Old.Median, Delta: c.Delta, P: c.P, Status: StatusUnknown}
	var fired []firing
	if c.New.N == 0 {
		v.Note = "missing from this run"
		return v
	}
	minEffect := rs.MinEffect(c.Name, c.Unit, o.MinEffect)
	limit := 100 * minEffect
	if c.Old.N > 0 {
		st := judge(c, c.Alpha, minEffect)
		f := firing{status: st, rule: string(KindRegression), limit: limit}
		switch st {
		case StatusRegressed:
			f.note = fmt.Sprintf("worse by %.1f%% ≥ %g%% (p=%.3f, n=%d+%d)", 100*math.Abs(c.Delta), limit, c.P, c.Old.N, c.New.N)
		case StatusImproved:
			f.note = fmt.Sprintf("better by %.1f%% (p=%.3f, n=%d+%d)", 100*math.Abs(c.Delta), c.P, c.Old.N, c.New.N)
		case StatusOK:
			f.rule = ""
		case StatusUnknown:
			f.rule, f.note = "", "direction of unit unknown: not judged"
		}
		fired = append(fired, f)
	}
	for j := range rs.list {
		r := &rs.list[j]
		if (r.Kind != KindUpper && r.Kind != KindLower) || !r.matches(c.Name, c.Unit) {
			continue
		}
		f := firing{status: StatusOK}
		m := c.New.Median
		if r.Kind == KindUpper && m > r.Warn {
			f = firing{StatusWarning, string(KindUpper), r.Warn, fmt.Sprintf("%s above the limit %s (%s)", FormatValueUnit(m, c.Unit), FormatValueUnit(r.Warn, c.Unit), r.Note)}
		}
		if r.Kind == KindLower && m < r.Warn {
			f = firing{StatusWarning, string(KindLower), r.Warn, fmt.Sprintf("%s below the limit %s (%s)", FormatValueUnit(m, c.Unit), FormatValueUnit(r.Warn, c.Unit), r.Note)}
		}
		fired = append(fired, f)
	}
	if hasScaling {
		fired = append(fired, sc)
	}
	// The most severe rule decides; the others that fired are mentioned.
	sort.SliceStable(fired, func(a, b int) bool { return severity(fired[a].status) > severity(fired[b].status) })
	var notes []string
	for k, f := range fired {
		if k == 0 {
			v.Status, v.Rule, v.Note = f.status, f.rule, f.note
			if f.rule != "" {
				v.Limit = f.limit
			}
			continue
		}
		if f.note != "" && severity(f.status) >= severity(StatusWarning) {
			notes = append(notes, "also "+f.rule+": "+f.note)
		}
	}
	if len(notes) > 0 {
		v.Note = strings.Join(append([]string{v.Note}, notes...), "; ")
	}
	return v
}

// scaling evaluates the scaling thresholds over the families of cmps (same package, procs,
// unit and name but for the value of its `n=` part) and returns the firings, keyed by the
// index in cmps of the member with the largest n. Growth is measured between the smallest
// and the largest n: for a unit ending in "/op" the per-op cost ratio divided by the ratio
// of n (an op handles n items), for other units the ratio of per-item cost (the value for
// lower-better units, its inverse for higher-better ones).
//
// n is the number of comparisons; name(i) returns the name of comparison i and cmp(i) the
// comparison itself, asked for only of names with an `n=` part (a report too large to hold
// its comparisons computes them on demand).
func (rs *Rules) scaling(n int, name func(int) string, cmp func(int) Comparison) map[int]firing {
	out := make(map[int]firing)
	if !slices.ContainsFunc(rs.list, func(r rule) bool { return r.Kind == KindScaling }) {
		return out // no scaling rule can fire
	}
	type member struct {
		n, median  float64
		idx        int
		name, unit string
		better     Direction
	}
	families := make(map[string][]member)
	var order []string
	for i := range n {
		fam, n, ok := family(name(i))
		if !ok {
			continue
		}
		c := cmp(i)
		if c.New.N == 0 || c.New.Median <= 0 {
			continue
		}
		key := c.Pkg + "\x00" + fam + "\x00" + strconv.Itoa(c.Procs) + "\x00" + c.Unit
		if _, seen := families[key]; !seen {
			order = append(order, key)
		}
		families[key] = append(families[key], member{n, c.New.Median, i, c.Name, c.Unit, c.Better})
	}
	for _, key := range order {
		ms := families[key]
		if len(ms) < 2 {
			continue
		}
		sort.Slice(ms, func(a, b int) bool { return ms[a].n < ms[b].n })
		lo, hi := ms[0], ms[len(ms)-1]
		if lo.n == hi.n {
			continue
		}
		var limit *rule
		for j := range rs.list {
			r := &rs.list[j]
			if r.Kind == KindScaling && r.matches(hi.name, hi.unit) {
				limit = r
			}
		}
		if limit == nil {
			continue
		}
		var growth float64
		switch {
		case strings.HasSuffix(hi.unit, "/op"):
			growth = (hi.median / lo.median) / (hi.n / lo.n)
		case hi.better == HigherBetter:
			growth = lo.median / hi.median
		case hi.better == LowerBetter:
			growth = hi.median / lo.median
		default:
			continue
		}
		f := firing{status: StatusOK}
		if growth > limit.Warn {
			f = firing{StatusWarning, string(KindScaling), limit.Warn, fmt.Sprintf("per-item cost grows %.2f× from n=%g to n=%g, limit %g× (%s)", growth, ms[0].n, ms[len(ms)-1].n, limit.Warn, limit.Note)}
		}
		out[ms[len(ms)-1].idx] = f
	}
	return out
}

// family returns name with the value of its `n=` part replaced by "*", and that value.
// ok is false when name has no numeric `n=` part.
func family(name string) (fam string, n float64, ok bool) {
	if !strings.Contains(name, "/n=") {
		return "", 0, false // the common case, without splitting
	}
	parts := strings.Split(name, "/")
	for i, p := range parts {
		if v, found := strings.CutPrefix(p, "n="); found && i > 0 {
			x, err := strconv.ParseFloat(v, 64)
			if err != nil || x <= 0 {
				return "", 0, false
			}
			parts[i] = "n=*"
			return strings.Join(parts, "/"), x, true
		}
	}
	return "", 0, false
}
