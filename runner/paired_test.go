package runner

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestSignedRankKnownValues checks V and the two-sided p of the signed-rank test against
// R's wilcox.test and small cases enumerated by hand.
func TestSignedRankKnownValues(t *testing.T) {
	check := func(name string, d []float64, wantV, wantP float64) {
		t.Helper()
		v, p := signedRankP(d)
		if v != wantV || math.Abs(p-wantP) > 1e-4 {
			t.Errorf("for %s, got V=%g p=%.5f, want V=%g p=%.5f", name, v, p, wantV, wantP)
		}
	}
	// R: x <- c(1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30)
	//    y <- c(0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29)
	//    wilcox.test(x, y, paired = TRUE)  →  V = 40, p-value = 0.03906
	// (Hollander & Wolfe's depression data; the one-sided p is 0.01953 = 10/512.)
	x := []float64{1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30}
	y := []float64{0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29}
	d := make([]float64, len(x))
	for i := range x {
		d[i] = x[i] - y[i]
	}
	check("R's depression data", d, 40, 20.0/512)
	// n = 3: the 8 sign assignments give V = 0,1,2,3,3,4,5,6.
	check("3 positive", []float64{1, 2, 3}, 6, 2.0/8)
	check("1,2 positive, 3 negative", []float64{1, 2, -3}, 3, 1)
	check("1 negative", []float64{-1, 2, 3}, 5, 4.0/8)
	// All of n pairs the same way: p = 2/2^n, the smallest possible.
	check("6 positive", []float64{.1, .2, .3, .4, .5, .6}, 21, 2.0/64)
	check("8 negative", []float64{-.1, -.2, -.3, -.4, -.5, -.6, -.7, -.8}, 0, 2.0/256)
	// Zeros are dropped (Wilcoxon's method) and, as R does ("cannot compute exact p-value
	// with zeroes"), the p is the normal approximation for n = 3: mean 3, var 3·4·7/24 = 3.5,
	// z = (6 − 3 − 0.5)/√3.5, p = 0.1814.
	check("zeros dropped", []float64{0, 1, 2, 3, 0}, 6, math.Erfc(2.5/math.Sqrt(3.5)/math.Sqrt2))
	// Ties: normal approximation with tie and continuity corrections, as R's
	// wilcox.test(c(1, 1, 2, 2, 3, -1), exact = FALSE, correct = TRUE): ranks of |d| are
	// 2,2,2 (three 1s), 4.5,4.5, 6; V = 2+2+4.5+4.5+6 = 19; mean 10.5; var = 6·7·13/24 −
	// ((27−3)+(8−2))/48 = 22.75 − 0.625 = 22.125; z = (19 − 10.5 − 0.5)/√22.125 = 1.7008.
	check("ties", []float64{1, 1, 2, 2, 3, -1}, 19, math.Erfc(8/math.Sqrt(22.125)/math.Sqrt2))
}

// TestSignedRankExactVersusNormal checks that the exact p agrees with the normal
// approximation where that is good (n = 40, no ties).
func TestSignedRankExactVersusNormal(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 20 {
		d := make([]float64, 40)
		for i := range d {
			d[i] = rng.NormFloat64() + 0.3
		}
		v, exact := signedRankP(d)
		n := 40.0
		z := (v - n*(n+1)/4)
		z -= math.Copysign(0.5, z)
		normal := math.Erfc(math.Abs(z) / math.Sqrt(n*(n+1)*(2*n+1)/24) / math.Sqrt2)
		if math.Abs(exact-normal) > 0.01 {
			t.Errorf("trial %d: exact p=%.4f, normal p=%.4f differ by more than 0.01", trial, exact, normal)
		}
	}
}

// TestWalshCI checks the Hodges-Lehmann interval's order statistics against R's
// wilcox.test(conf.int = TRUE) rule: for n = 9 at 95%, qsignrank(0.025, 9) = 6, so the
// interval is the 6th smallest and the 6th largest of the 45 Walsh averages; for n = 6 no
// finite 95% interval exists (P(V = 0) = 1/64 < 0.025 < P(V ≤ 1)) and it is the range.
func TestWalshCI(t *testing.T) {
	d := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9}
	w := walsh(d)
	lo, hi := walshCI(w, len(d), 0.95)
	if lo != w[5] || hi != w[len(w)-6] {
		t.Errorf("for n=9, got [%g, %g], want [%g, %g]", lo, hi, w[5], w[len(w)-6])
	}
	d6 := []float64{1, 2, 3, 4, 5, 6}
	w6 := walsh(d6)
	if lo, hi := walshCI(w6, 6, 0.95); lo != w6[0] || hi != w6[len(w6)-1] {
		t.Errorf("for n=6, got [%g, %g], want the range [%g, %g]", lo, hi, w6[0], w6[len(w6)-1])
	}
}

// TestCompareDetectsPairedShift is the point of the paired test: a 6% slowdown hidden under
// drift that moves both sides of each pair by up to ±30% is invisible to the U test but not
// to the signed-rank test, and unchanged code under the same drift is not flagged.
func TestCompareDetectsPairedShift(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	const n = 12
	var old, slow, same []float64
	for range n {
		drift := 1 + 0.6*(rng.Float64()-0.5) // the machine's mood, shared by the pair
		old = append(old, 100*drift*(1+0.01*rng.NormFloat64()))
		slow = append(slow, 106*drift*(1+0.01*rng.NormFloat64()))
		same = append(same, 100*drift*(1+0.01*rng.NormFloat64()))
	}
	o := Options{Alpha: 0.01, MinEffect: 0.03}
	r := func(s []float64) *Result {
		return &Result{Name: "X", Unit: "sec/op", Better: LowerBetter, Samples: s}
	}
	u := Compare(r(old), r(slow), o)
	if u.Test != TestU || u.Status != StatusOK {
		t.Errorf("for the unpaired 6%% shift, got test %s status %s (p=%.3f), want U ok", u.Test, u.Status, u.P)
	}
	o.Paired = true
	p := Compare(r(old), r(slow), o)
	if p.Test != TestSignedRank || p.Status != StatusRegressed || math.Abs(p.Delta-0.06) > 0.01 {
		t.Errorf("for the paired 6%% shift, got test %s status %s delta %.3f p=%.4f, want signed-rank regressed ≈0.06", p.Test, p.Status, p.Delta, p.P)
	}
	if p.DeltaLo > p.Delta || p.DeltaHi < p.Delta || p.DeltaLo < 0.03 {
		t.Errorf("for the paired 6%% shift, got interval [%.3f, %.3f] around %.3f, want it above 0.03", p.DeltaLo, p.DeltaHi, p.Delta)
	}
	if a := Compare(r(old), r(same), o); a.Status != StatusOK {
		t.Errorf("for paired A/A, got %s (delta %.3f p=%.4f), want ok", a.Status, a.Delta, a.P)
	}
	// A 5% change at alpha 0.01 cannot be seen with 6 pairs: the test says so.
	c := Compare(r(old[:6]), r(slow[:6]), o)
	if c.Status != StatusOK || len(c.Warnings) == 0 {
		t.Errorf("for 6 pairs, got %s with warnings %q, want ok and a warning", c.Status, c.Warnings)
	}
	// Different counts fall back to the U test and say so.
	if c := Compare(r(old), r(slow[:10]), o); c.Test != TestU || len(c.Warnings) == 0 {
		t.Errorf("for 12 vs 10 samples, got test %s warnings %q, want U with a warning", c.Test, c.Warnings)
	}
}

// TestPairedFalseAlarmRate checks the paired test's size: over 2,000 generated A/A
// comparisons of 12 pairs with shared drift and skewed noise, at most alpha of them flag.
func TestPairedFalseAlarmRate(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	o := Options{Alpha: 0.01, MinEffect: 0.02, Paired: true}
	flagged := 0
	const trials = 2000
	for range trials {
		var a, b []float64
		for range 12 {
			drift := 1 + 0.4*rng.Float64()
			a = append(a, drift*(1+0.05*rng.ExpFloat64()))
			b = append(b, drift*(1+0.05*rng.ExpFloat64()))
		}
		c := Compare(&Result{Unit: "sec/op", Better: LowerBetter, Samples: a}, &Result{Unit: "sec/op", Better: LowerBetter, Samples: b}, o)
		if c.Status != StatusOK {
			flagged++
		}
	}
	if float64(flagged) > 0.01*trials*1.5 {
		t.Errorf("for paired A/A, got %d of %d flagged, want about ≤ 1%%", flagged, trials)
	}
}
