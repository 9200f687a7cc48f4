package runner

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
)

// ChangePoint is a place in a series where its level shifts.
type ChangePoint struct {
	// Index is the first index of the new level: series[Index] is the first point after
	// the shift.
	Index int `json:"index"`
	// Before and After are the medians of the segments either side (bounded by the
	// neighbouring change points), in the series' unit.
	Before float64 `json:"before"`
	After  float64 `json:"after"`
	// Delta is After/Before-1 (0 when Before is 0).
	Delta float64 `json:"delta"`
	// P is the permutation test's p-value for the split.
	P float64 `json:"p"`
}

// ChangePointOptions tune ChangePoints. The zero value means the defaults.
type ChangePointOptions struct {
	// Alpha is the significance level of each split's permutation test. Default 0.01.
	Alpha float64
	// Permutations is the number of shuffles per test. Default 199.
	Permutations int
	// MinSize is the smallest segment, in points, on either side of a split. Default 3.
	MinSize int
	// MinEffect drops change points whose |Delta| is below it (0.05 = 5%). Default 0.
	MinEffect float64
	// Seed makes the permutations reproducible. Default 1.
	Seed uint64
}

// ChangePoints finds the level shifts of series with E-Divisive means in the style of
// Hunter (MongoDB's change-point tool): binary segmentation that splits a segment where the
// between-sides statistic n1·n2/n·(mean1−mean2)² peaks, accepting the split when a
// permutation test says it is significant, then recursing into both sides. The statistic is
// computed on the ranks of the segment's values, so single outliers do not make change
// points and no distribution is assumed. Series shorter than 2·MinSize have none. The
// result is ordered by Index.
func ChangePoints(series []float64, o ChangePointOptions) []ChangePoint {
	if o.Alpha == 0 {
		o.Alpha = 0.01
	}
	if o.Permutations == 0 {
		o.Permutations = 199
	}
	if o.MinSize == 0 {
		o.MinSize = 3
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x9e3779b97f4a7c15))
	type seg struct{ lo, hi int }
	var (
		splits []int
		pvals  = map[int]float64{}
		queue  = []seg{{0, len(series)}}
		ranks  []float64
		prefix []float64
	)
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		n := s.hi - s.lo
		if n < 2*o.MinSize {
			continue
		}
		ranks = rankInto(ranks[:0], series[s.lo:s.hi])
		at, obs := bestSplit(ranks, o.MinSize, &prefix)
		exceed := 0
		shuffled := slices.Clone(ranks)
		// The split is refused as soon as p = (exceed+1)/(Permutations+1) exceeds Alpha, so most
		// segments without a shift stop after a few shuffles; the decision, and the p-value of
		// every accepted split, are those of all the shuffles.
		rejected := false
		for range o.Permutations {
			rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
			if _, q := bestSplit(shuffled, o.MinSize, &prefix); q >= obs {
				exceed++
				if float64(exceed+1) > o.Alpha*float64(o.Permutations+1) {
					rejected = true
					break
				}
			}
		}
		if rejected {
			continue
		}
		at = refineSplit(series[s.lo:s.hi], at, o.MinSize)
		p := float64(exceed+1) / float64(o.Permutations+1)
		splits = append(splits, s.lo+at)
		pvals[s.lo+at] = p
		queue = append(queue, seg{s.lo, s.lo + at}, seg{s.lo + at, s.hi})
	}
	sort.Ints(splits)
	var out []ChangePoint
	bounds := append(append([]int{0}, splits...), len(series))
	for i, at := range splits {
		before := median(series[bounds[i]:at])
		after := median(series[at:bounds[i+2]])
		cp := ChangePoint{Index: at, Before: before, After: after, P: pvals[at]}
		if before != 0 {
			cp.Delta = after/before - 1
		}
		if o.MinEffect > 0 && math.Abs(cp.Delta) < o.MinEffect {
			continue
		}
		out = append(out, cp)
	}
	return out
}

// bestSplit returns the split index (size of the left side) in [minSize, len(x)-minSize]
// maximising n1·n2/n·(mean1−mean2)², and that maximum. prefix is scratch space.
func bestSplit(x []float64, minSize int, prefix *[]float64) (int, float64) {
	n := len(x)
	p := (*prefix)[:0]
	sum := 0.0
	p = append(p, 0)
	for _, v := range x {
		sum += v
		p = append(p, sum)
	}
	*prefix = p
	best, bestQ := minSize, -1.0
	for k := minSize; k <= n-minSize; k++ {
		n1, n2 := float64(k), float64(n-k)
		d := p[k]/n1 - (sum-p[k])/n2
		q := n1 * n2 / float64(n) * d * d
		if q > bestQ {
			best, bestQ = k, q
		}
	}
	return best, bestQ
}

// refineSplit moves an accepted split at by at most one point when the raw values
// statistic n1·n2/n·(mean1−mean2)² is larger there. On ranks, a clean step's statistic barely
// changes when the last point of the old level (often a high one) moves across, and the
// balance factor n1·n2 then pulls the split one point early; the raw values see that point's
// level. The significance test stays on ranks.
func refineSplit(x []float64, at, minSize int) int {
	stat := func(k int) float64 {
		var s1, s2 float64
		for _, v := range x[:k] {
			s1 += v
		}
		for _, v := range x[k:] {
			s2 += v
		}
		n1, n2 := float64(k), float64(len(x)-k)
		d := s1/n1 - s2/n2
		return n1 * n2 / float64(len(x)) * d * d
	}
	best, bestQ := at, stat(at)
	for _, k := range []int{at - 1, at + 1} {
		if k < minSize || k > len(x)-minSize {
			continue
		}
		if q := stat(k); q > bestQ {
			best, bestQ = k, q
		}
	}
	return best
}

// rankInto appends the ranks of x (1-based, ties averaged) to dst.
func rankInto(dst, x []float64) []float64 {
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return x[idx[a]] < x[idx[b]] })
	dst = append(dst, make([]float64, len(x))...)
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && x[idx[j+1]] == x[idx[i]] {
			j++
		}
		r := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			dst[idx[k]] = r
		}
		i = j + 1
	}
	return dst
}

// median returns the median of x (NaN for none); x is not modified.
func median(x []float64) float64 {
	if len(x) == 0 {
		return math.NaN()
	}
	s := slices.Clone(x)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// AddVerdict returns v with w (another rule's verdict on the same benchmark and unit, such as
// ChangePointRule.Verdict's) taken into account as Evaluate combines rules: the more severe status
// decides Status, Rule, Limit and Note (v wins a tie), and the other, when it fired (warning
// or worse), is mentioned in the Note as "also RULE: note". Value, Baseline, Delta and P stay
// v's: they describe the comparison with the baseline.
func AddVerdict(v, w Verdict) Verdict {
	if severity(w.Status) > severity(v.Status) {
		prev := v
		v.Status, v.Rule, v.Limit, v.Note = w.Status, w.Rule, w.Limit, w.Note
		if prev.Note != "" && severity(prev.Status) >= severity(StatusWarning) {
			v.Note += "; also " + prev.Rule + ": " + prev.Note
		}
		return v
	}
	if w.Note != "" && severity(w.Status) >= severity(StatusWarning) {
		if v.Note != "" {
			v.Note += "; "
		}
		v.Note += "also " + w.Rule + ": " + w.Note
	}
	return v
}
