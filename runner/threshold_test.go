package runner

import (
	"strings"
	"testing"
)

// res makes a result of 10 samples spread ±0.5% around v.
func res(name, unit string, d Direction, v float64) *Result {
	r := &Result{Name: name, Unit: unit, Better: d, Procs: 2}
	for i := range 10 {
		r.Samples = append(r.Samples, v*(1+float64(i-5)*0.001))
	}
	return r
}

func TestEvaluate(t *testing.T) {
	ths := append(DefaultThresholds(), Threshold{Benchmark: "Call/.*", Kind: KindRegression, Warn: 20})
	rules, err := NewRules(ths)
	if err != nil {
		t.Fatal(err)
	}
	type pair struct{ old, new *Result }
	pairs := []pair{
		{res("Create/n=100", "sessions/s", HigherBetter, 600), res("Create/n=100", "sessions/s", HigherBetter, 600)},
		{res("Lookup/n=5000", "sec/op", LowerBetter, 2e-3), res("Lookup/n=5000", "sec/op", LowerBetter, 2.4e-3)},
		{nil, res("Cleanup/n=100", "sec/op", LowerBetter, 1e-4)},
		{nil, res("Cleanup/n=1000", "sec/op", LowerBetter, 3e-3)},
		{res("Call/n=50", "sec/op", LowerBetter, 1e-5), res("Call/n=50", "sec/op", LowerBetter, 1.1e-5)},
		{res("Cast/n=50", "sec/op", LowerBetter, 1e-5), res("Cast/n=50", "sec/op", LowerBetter, 1.1e-5)},
		{res("Cast/n=50", "B/op", LowerBetter, 100), res("Cast/n=50", "B/op", LowerBetter, 80)},
		{nil, res("Other", "sec/op", LowerBetter, 1)},
		{res("Gone", "sec/op", LowerBetter, 1), nil},
	}
	var cmps []Comparison
	for _, p := range pairs {
		cmps = append(cmps, Compare(p.old, p.new, Options{}))
	}
	vs := rules.Evaluate(cmps, Options{})
	want := []struct {
		status Status
		rule   string
		note   string
	}{
		{StatusWarning, "lower", "below the limit 1.000k sessions/s"},
		{StatusRegressed, "regression", "also upper: 2.399 ms/op above the limit 1.000 ms/op"},
		{StatusUnknown, "", ""}, // no baseline, no static rule for it
		{StatusWarning, "scaling", "grows 3.00× from n=100 to n=1000"},
		{StatusOK, "", ""}, // 10% worse, but Call's own minimum effect is 20%
		{StatusRegressed, "regression", "worse by 10.0% ≥ 5%"},
		{StatusImproved, "regression", "better by 20.0%"},
		{StatusUnknown, "", ""},
		{StatusUnknown, "", "missing from this run"},
	}
	for i, w := range want {
		v := vs[i]
		if v.Status != w.status || v.Rule != w.rule || !strings.Contains(v.Note, w.note) {
			t.Errorf("for %s %s, got %s/%q %q, want %s/%q containing %q", v.Name, v.Unit, v.Status, v.Rule, v.Note, w.status, w.rule, w.note)
		}
	}
	if vs[1].Limit != 5 || vs[0].Limit != 1000 {
		t.Errorf("got limits %g and %g, want 5 (percent) and 1000", vs[1].Limit, vs[0].Limit)
	}
}

func TestFamily(t *testing.T) {
	for name, want := range map[string]string{
		"Create/n=100":          "Create/n=*",
		"Batch/op=start/n=100":  "Batch/op=start/n=*",
		"Pool/op=send/conns=10": "",
		"n=5":                   "",
	} {
		got, _, _ := family(name)
		if got != want {
			t.Errorf("for %s, got family %q, want %q", name, got, want)
		}
	}
}
