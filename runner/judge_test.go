package runner

import (
	"math/rand/v2"
	"testing"
)

// noisyResult is a sec/op result of 10 samples around v with ±1.5% noise.
func noisyResult(rng *rand.Rand, name string, v float64) Result {
	s := make([]float64, 10)
	for i := range s {
		s[i] = v * (1 + 0.03*(rng.Float64()-0.5))
	}
	return Result{Name: name, Unit: "sec/op", Better: LowerBetter, Samples: s}
}

func TestChooseBaselinePrecedence(t *testing.T) {
	b := func(k BaselineKind) *Baseline {
		return &Baseline{Kind: k, Name: string(k), Results: []Result{{Name: "X", Unit: "sec/op", Samples: []float64{1}}}}
	}
	empty := &Baseline{Kind: BaselineNamed, Name: "empty"}
	for _, tc := range []struct {
		c    BaselineCandidates
		want BaselineKind
	}{
		{BaselineCandidates{Interleaved: b(BaselineInterleaved), Named: b(BaselineNamed), StartPoint: b(BaselineStartPoint), History: b(BaselineHistory)}, BaselineInterleaved},
		{BaselineCandidates{Named: b(BaselineNamed), StartPoint: b(BaselineStartPoint), History: b(BaselineHistory)}, BaselineNamed},
		{BaselineCandidates{Named: empty, StartPoint: b(BaselineStartPoint), History: b(BaselineHistory)}, BaselineStartPoint},
		{BaselineCandidates{History: b(BaselineHistory)}, BaselineHistory},
	} {
		if got := ChooseBaseline(tc.c); got == nil || got.Kind != tc.want {
			t.Errorf("for %+v, got %+v, want %s", tc.c, got, tc.want)
		}
	}
	if got := ChooseBaseline(BaselineCandidates{}); got != nil {
		t.Errorf("for no candidates, got %+v, want nil", got)
	}
}

func TestBaselineLabel(t *testing.T) {
	for _, tc := range []struct {
		b    *Baseline
		want string
	}{
		{nil, "no baseline"},
		{&Baseline{Kind: BaselineNamed, Name: "main", RunIDs: []int64{12}}, "baseline main (run 12)"},
		{&Baseline{Kind: BaselineStartPoint, Name: "main", RunIDs: []int64{7}, Commit: "1a2b3c4d5e"}, "start point main at 1a2b3c4 (run 7)"},
		{&Baseline{Kind: BaselineHistory, Name: "main", RunIDs: []int64{34, 33, 32, 31, 30}}, "history of main (5 runs, 30–34)"},
		{&Baseline{Kind: BaselineInterleaved, Name: "0123456789abcdef"}, "interleaved with 0123456"},
	} {
		if got := tc.b.Label(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

func TestPoolResults(t *testing.T) {
	got := PoolResults([][]Result{
		{{Name: "A", Unit: "sec/op", Samples: []float64{1, 2}}},
		{{Name: "A", Unit: "sec/op", Samples: []float64{3}}, {Name: "B", Unit: "sec/op", Samples: []float64{4}}},
	})
	if len(got) != 2 || len(got[0].Samples) != 3 || got[0].Samples[2] != 3 || got[1].Name != "B" {
		t.Errorf("got %+v, want A with samples 1 2 3, then B", got)
	}
}

// TestJudgeAlertLifecycle walks one series through a 7% step: the run that shows it opens one
// alert (after the newest good run), later runs on the shifted level update that alert (the
// change-point rule, once it sees the shift, joins it rather than opening a second), a steady
// benchmark never alerts, and the first run back within 5% of the old level resolves it.
func TestJudgeAlertLifecycle(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	named := func() *Baseline {
		return &Baseline{Kind: BaselineNamed, Name: "main", RunIDs: []int64{1},
			Results: []Result{noisyResult(rng, "Step", 100e-9), noisyResult(rng, "Steady", 50e-9)}}
	}
	var history []HistoryRun
	var open []OpenAlert
	nextID := int64(100)
	opened := 0
	level := func(i int) float64 {
		if i >= 20 && i < 32 {
			return 107e-9
		}
		return 100e-9
	}
	for i := 1; i <= 34; i++ {
		run := []Result{noisyResult(rng, "Step", level(i)), noisyResult(rng, "Steady", 50e-9)}
		j := Judge(JudgeInput{Results: run, Baseline: named(), History: history, Open: open, Options: Options{Alpha: 0.01}})
		for _, ch := range j.Alerts {
			switch ch.Action {
			case AlertOpen:
				opened++
				if ch.Verdict.Name != "Step" || i != 20 || ch.FirstBad != -1 || ch.LastGood != len(history)-1 {
					t.Fatalf("run %d opened %+v, want only Step at run 20 after run 19", i, ch)
				}
				open = append(open, OpenAlert{ID: nextID, Name: ch.Verdict.Name, Unit: ch.Verdict.Unit, Rule: ch.Verdict.Rule,
					Baseline: ch.Verdict.Baseline, Limit: ch.Verdict.Limit})
				nextID++
			case AlertUpdate:
				if i < 21 || i >= 32 || ch.ID != open[0].ID {
					t.Errorf("run %d updated alert %d, want updates of the one alert on runs 21–31", i, ch.ID)
				}
			case AlertResolve:
				if i != 32 {
					t.Errorf("run %d resolved alert %d, want the first run back (32) to", i, ch.ID)
				}
				open = nil
			}
		}
		if i >= 20 && i < 32 && j.Verdicts[0].Status == StatusOK {
			t.Errorf("run %d: the 7%% slower Step judged %+v, want flagged", i, j.Verdicts[0])
		}
		if j.Verdicts[1].Status == StatusRegressed || j.Verdicts[1].Status == StatusWarning {
			t.Errorf("run %d: steady benchmark judged %+v, want not flagged", i, j.Verdicts[1])
		}
		if j.Verdicts[0].Against != "baseline main (run 1)" {
			t.Errorf("run %d: verdict names %q, want the baseline", i, j.Verdicts[0].Against)
		}
		meds := map[SeriesKey]float64{}
		for _, c := range j.Comparisons {
			meds[SeriesKey{c.Name, c.Unit}] = c.New.Median
		}
		history = append(history, HistoryRun{RunID: int64(i), Medians: meds})
		if len(history) > 30 {
			history = history[1:]
		}
	}
	if opened != 1 || open != nil {
		t.Errorf("got %d alerts opened and %d left open, want one opened and resolved", opened, len(open))
	}
}

// TestChangePointOpensAtTheShift: with no baseline to compare with, the change-point rule
// finds an 8% step and the alert it opens starts at the run where the level shifted.
func TestChangePointOpensAtTheShift(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	var history []HistoryRun
	for i := range 14 {
		v := 100e-9
		if i >= 8 {
			v = 108e-9
		}
		history = append(history, HistoryRun{RunID: int64(i + 1), Medians: map[SeriesKey]float64{{"Step", "sec/op"}: v * (1 + 0.01*(rng.Float64()-0.5))}})
	}
	j := Judge(JudgeInput{Results: []Result{noisyResult(rng, "Step", 108e-9)}, History: history})
	if len(j.Alerts) != 1 || j.Alerts[0].Action != AlertOpen || j.Verdicts[0].Rule != "changepoint" {
		t.Fatalf("got alerts %+v and verdict %+v, want one change-point alert", j.Alerts, j.Verdicts[0])
	}
	if a := j.Alerts[0]; history[a.FirstBad].RunID != 9 || history[a.LastGood].RunID != 8 {
		t.Errorf("got the change at runs %d..%d, want 8..9", history[a.LastGood].RunID, history[a.FirstBad].RunID)
	}
}

func TestRuleSource(t *testing.T) {
	db := []Threshold{{Benchmark: ".*", Kind: KindRegression, Warn: 3}}
	file := []Threshold{{Benchmark: ".*", Kind: KindRegression, Warn: 7}}
	if got, src := RuleSource(db, file); src != "database" || got[0].Warn != 3 {
		t.Errorf("got %v from %s, want the database's", got, src)
	}
	if got, src := RuleSource(nil, file); src != "project file" || got[0].Warn != 7 {
		t.Errorf("got %v from %s, want the project file's", got, src)
	}
	if got, src := RuleSource(nil, nil); src != "defaults" || len(got) != len(DefaultThresholds()) {
		t.Errorf("got %d rules from %s, want the defaults", len(got), src)
	}
	if _, err := NewRules(DefaultThresholds()); err != nil {
		t.Errorf("the default thresholds do not compile: %v", err)
	}
}
