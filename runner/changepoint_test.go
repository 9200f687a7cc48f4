package runner

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestChangePointsPrecisionRecall generates series with known level shifts of 3–6 noise
// standard deviations (and, in a tenth of the points, outliers of up to 4 SD) and checks
// that detection finds them (±2 points) with precision and recall ≥ 0.9.
func TestChangePointsPrecisionRecall(t *testing.T) {
	rng := rand.New(rand.NewPCG(42, 7))
	const series = 200
	var truth, found, hits int
	for s := range series {
		n := 60 + rng.IntN(140)
		shifts := rng.IntN(4) // 0..3 shifts
		var at []int
		for len(at) < shifts {
			c := 10 + rng.IntN(n-20)
			ok := true
			for _, a := range at {
				if abs(a-c) < 10 {
					ok = false
				}
			}
			if ok {
				at = append(at, c)
			}
		}
		x := make([]float64, n)
		level := 100.0
		for i := range x {
			for _, a := range at {
				if i == a {
					sign := 1.0
					if rng.IntN(2) == 0 {
						sign = -1
					}
					level += sign * (3 + 3*rng.Float64())
				}
			}
			x[i] = level + rng.NormFloat64()
			if rng.IntN(10) == 0 {
				x[i] += 4 * (rng.Float64()*2 - 1)
			}
		}
		cps := ChangePoints(x, ChangePointOptions{Seed: uint64(s) + 1})
		truth += len(at)
		found += len(cps)
		for _, a := range at {
			for _, cp := range cps {
				if abs(cp.Index-a) <= 2 {
					hits++
					break
				}
			}
		}
	}
	precision := float64(hits) / float64(max(found, 1))
	recall := float64(hits) / float64(max(truth, 1))
	t.Logf("change points: %d true, %d found, %d matched: precision %.3f, recall %.3f", truth, found, hits, precision, recall)
	if precision < 0.9 || recall < 0.9 {
		t.Errorf("got precision %.3f recall %.3f, want both ≥ 0.9", precision, recall)
	}
}

func TestChangePointsSimple(t *testing.T) {
	x := []float64{10, 10.1, 9.9, 10, 10.2, 9.8, 10, 10.1, 20, 20.2, 19.9, 20.1, 20, 19.8, 20.1, 20}
	cps := ChangePoints(x, ChangePointOptions{})
	if len(cps) != 1 || cps[0].Index != 8 || math.Abs(cps[0].Delta-1) > 0.05 {
		t.Fatalf("got %+v, want one change point at 8 with delta ≈ +100%%", cps)
	}
	if got := ChangePoints(x[:5], ChangePointOptions{}); len(got) != 0 {
		t.Errorf("for 5 points, got %+v, want none", got)
	}
	flat := make([]float64, 50)
	if got := ChangePoints(flat, ChangePointOptions{}); len(got) != 0 {
		t.Errorf("for a constant series, got %+v, want none", got)
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func TestChangePointRuleVerdict(t *testing.T) {
	var r ChangePointRule
	slower := []float64{10, 10.2, 9.9, 10.1, 10, 9.8, 10.1, 10.7, 10.8, 10.6, 10.7, 10.8}
	v, at, ok := r.Verdict("Create/n=100", "sec/op", LowerBetter, slower)
	if !ok || at != 7 || v.Rule != "changepoint" || v.Status != StatusWarning || math.Abs(v.Delta-0.07) > 0.015 {
		t.Errorf("for a 7%% slowdown in sec/op at point 8, got %+v at %d, %v, want a changepoint warning of +7%% at 7", v, at, ok)
	}
	if _, _, ok := r.Verdict("Create/n=100", "sessions/s", HigherBetter, slower); ok {
		t.Error("for a 7% rise in a higher-better unit, got a warning, want none")
	}
	old := append(append([]float64{}, slower...), 10.7, 10.6, 10.8, 10.7, 10.8, 10.6, 10.7)
	if _, _, ok := r.Verdict("Create/n=100", "sec/op", LowerBetter, old); ok {
		t.Error("for a shift 12 points back (older than Recent), got a warning, want none: it was news when it was recent")
	}
}

func TestAddVerdict(t *testing.T) {
	cp := Verdict{Name: "Create/n=100", Unit: "sec/op", Status: StatusWarning, Rule: "changepoint", Note: "level shifted +20.0%"}
	ok := Verdict{Name: "Create/n=100", Unit: "sec/op", Status: StatusOK, Value: 2, Baseline: 1, Delta: 1, P: 0.5}
	got := AddVerdict(ok, cp)
	if got.Status != StatusWarning || got.Rule != "changepoint" || got.Note != cp.Note || got.Value != 2 || got.P != 0.5 {
		t.Errorf("for ok + changepoint, got %+v, want the changepoint warning with the comparison's figures", got)
	}
	reg := Verdict{Status: StatusRegressed, Rule: "regression", Limit: 5, Note: "worse by 12%"}
	got = AddVerdict(reg, cp)
	if got.Status != StatusRegressed || got.Rule != "regression" || got.Limit != 5 || got.Note != "worse by 12%; also changepoint: level shifted +20.0%" {
		t.Errorf("for regression + changepoint, got %+v, want the regression noting the change point", got)
	}
	up := Verdict{Status: StatusWarning, Rule: "upper", Note: "above"}
	if got := AddVerdict(cp, up); got.Rule != "changepoint" || got.Note != "level shifted +20.0%; also upper: above" {
		t.Errorf("for a tie, got %+v, want the first verdict noting the second", got)
	}
	if got := AddVerdict(ok, Verdict{Status: StatusOK}); got != ok {
		t.Errorf("for ok + ok, got %+v, want %+v", got, ok)
	}
}

// TestChangePointAtTheStep: a clean 25% step whose last point before it is the old level's
// highest is found at the step, not one point early (the rank statistic alone put it there).
func TestChangePointAtTheStep(t *testing.T) {
	var series []float64
	for i := range 40 {
		series = append(series, 30+0.01*float64(i%7))
	}
	series[39] = 30.2 // the highest of the old level, just before the step
	for i := range 20 {
		series = append(series, 38+0.01*float64(i%5))
	}
	cps := ChangePoints(series, ChangePointOptions{MinEffect: 0.05})
	if len(cps) != 1 || cps[0].Index != 40 {
		t.Errorf("got change points %+v, want one at index 40", cps)
	}
}
