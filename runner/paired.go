package runner

import (
	"math"
	"slices"
)

// Note: golang.org/x/perf/benchmath has only unpaired tests (Mann-Whitney U) and a sign-free
// summary, so the Wilcoxon signed-rank test below is hand-written. It is checked against
// values from R's wilcox.test and against small cases enumerated by hand (paired_test.go).
// A bootstrap of the median ratio was considered and rejected: with the 8–20 pairs a run has,
// its intervals are too short (it under-covers), and its result depends on a random seed.

// PairedTest is the outcome of a Wilcoxon signed-rank test on the per-pair log ratios
// log(new[i]/old[i]) of samples measured in pairs (interleaved runs: pair i is turn i of
// both sides).
type PairedTest struct {
	// N is the number of pairs used (pairs with a zero or negative value are dropped).
	N int
	// P is the two-sided p-value (1 when N == 0). It is exact (the full permutation
	// distribution of the rank sum) when no |log ratio| is tied or zero and N ≤ 60, and the
	// normal approximation with tie and continuity corrections otherwise, as R computes it.
	P float64
	// Ratio is the Hodges-Lehmann estimate of new/old: exp of the median of the Walsh
	// averages of the log ratios (1 when N == 0).
	Ratio float64
	// Lo and Hi bound the confidence interval of the ratio at the requested level (from the
	// order statistics of the Walsh averages); ±Inf-free, but equal to the extreme Walsh
	// averages when N is too small for the level.
	Lo, Hi float64
}

// SignedRank tests whether the per-pair log ratios log(new[i]/old[i]) are centred on 0
// (Wilcoxon signed-rank, two-sided) and estimates the ratio with a confidence interval at
// level confidence (0.95 when 0). Pairs beyond the shorter of old and new, and pairs with a
// value ≤ 0, are ignored. No pairs give N == 0, P == 1 and Ratio == 1.
func SignedRank(old, new []float64, confidence float64) PairedTest {
	if confidence == 0 {
		confidence = 0.95
	}
	var d []float64
	for i := range min(len(old), len(new)) {
		if old[i] > 0 && new[i] > 0 {
			d = append(d, math.Log(new[i]/old[i]))
		}
	}
	t := PairedTest{N: len(d), P: 1, Ratio: 1, Lo: 1, Hi: 1}
	if len(d) == 0 {
		return t
	}
	_, t.P = signedRankP(d)
	w := walsh(d)
	t.Ratio = math.Exp(medianSorted(w))
	lo, hi := walshCI(w, len(d), confidence)
	t.Lo, t.Hi = math.Exp(lo), math.Exp(hi)
	return t
}

// signedRankP returns Wilcoxon's statistic V (the sum of the ranks of |d| over the positive
// d, zeros dropped, ties given average ranks) and its two-sided p-value.
func signedRankP(d []float64) (v, p float64) {
	var nz []float64
	for _, x := range d {
		if x != 0 {
			nz = append(nz, x)
		}
	}
	n := len(nz)
	if n == 0 {
		return 0, 1
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		x, y := math.Abs(nz[a]), math.Abs(nz[b])
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	})
	ranks := make([]float64, n)
	ties := false
	tieTerm := 0.0 // Σ (t³ − t) over groups of tied |d|
	for i := 0; i < n; {
		j := i + 1
		for j < n && math.Abs(nz[idx[j]]) == math.Abs(nz[idx[i]]) {
			j++
		}
		r := float64(i+j+1) / 2 // average of ranks i+1 … j
		for k := i; k < j; k++ {
			ranks[idx[k]] = r
		}
		if g := float64(j - i); g > 1 {
			ties = true
			tieTerm += g*g*g - g
		}
		i = j
	}
	for i, x := range nz {
		if x > 0 {
			v += ranks[i]
		}
	}
	fn := float64(n)
	mean := fn * (fn + 1) / 4
	if !ties && n == len(d) && n <= 60 {
		// Exact: count the subsets of {1..n} by their sum (each subset is one assignment of
		// signs, all 2^n equally likely under the null).
		maxSum := n * (n + 1) / 2
		counts := make([]float64, maxSum+1)
		counts[0] = 1
		for k := 1; k <= n; k++ {
			for s := maxSum; s >= k; s-- {
				counts[s] += counts[s-k]
			}
		}
		total := math.Ldexp(1, n)
		// P(V ≤ min(v, maxSum−v)) doubled; the distribution is symmetric.
		lo := int(math.Min(v, float64(maxSum)-v) + 1e-9)
		tail := 0.0
		for s := 0; s <= lo; s++ {
			tail += counts[s]
		}
		return v, math.Min(1, 2*tail/total)
	}
	sd := math.Sqrt(fn*(fn+1)*(2*fn+1)/24 - tieTerm/48)
	if sd == 0 {
		return v, 1
	}
	z := v - mean
	z -= math.Copysign(0.5, z) // continuity correction, as R's correct = TRUE
	if math.Abs(v-mean) < 0.5 {
		z = 0
	}
	return v, math.Min(1, math.Erfc(math.Abs(z/sd)/math.Sqrt2))
}

// walsh returns the sorted Walsh averages (d[i]+d[j])/2, i ≤ j.
func walsh(d []float64) []float64 {
	w := make([]float64, 0, len(d)*(len(d)+1)/2)
	for i := range d {
		for j := i; j < len(d); j++ {
			w = append(w, (d[i]+d[j])/2)
		}
	}
	slices.Sort(w)
	return w
}

// medianSorted is the median of sorted values (not empty).
func medianSorted(s []float64) float64 {
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// walshCI is the distribution-free confidence interval of the centre of n values from their
// sorted Walsh averages w: the k-th smallest and k-th largest, where k−1 is the largest
// value c of the signed-rank statistic with P(V ≤ c) ≤ (1−level)/2 (normal approximation
// of that distribution for n > 60), as R's wilcox.test(conf.int = TRUE) computes it. With
// too few values for the level it is the whole range of w.
func walshCI(w []float64, n int, level float64) (lo, hi float64) {
	half := (1 - level) / 2
	m := len(w)
	k := 0 // the k-th Walsh average from each end bounds the interval
	if n <= 60 {
		maxSum := n * (n + 1) / 2
		counts := make([]float64, maxSum+1)
		counts[0] = 1
		for j := 1; j <= n; j++ {
			for s := maxSum; s >= j; s-- {
				counts[s] += counts[s-j]
			}
		}
		total := math.Ldexp(1, n)
		cum := 0.0
		for s := 0; s <= maxSum; s++ {
			cum += counts[s]
			if cum/total > half {
				break
			}
			k = s + 1 // P(V ≤ s) ≤ half
		}
	} else {
		fn := float64(n)
		z := math.Sqrt2 * math.Erfinv(1-2*half)
		k = int(math.Floor(fn*(fn+1)/4-z*math.Sqrt(fn*(fn+1)*(2*fn+1)/24))) + 1
	}
	if k <= 1 || 2*k > m {
		return w[0], w[m-1]
	}
	return w[k-1], w[m-k]
}
