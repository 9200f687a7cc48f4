package web

import (
	"testing"

	"github.com/benchd/benchd/runner"
)

func TestRunCache(t *testing.T) {
	var c runCache
	for id := range int64(runCacheSize + 1) {
		c.put(id+1, []runner.Result{{Name: "X", Unit: "sec/op", Samples: []float64{float64(id)}}})
	}
	if c.get(1) != nil {
		t.Errorf("after %d puts, the first run is still cached, want it evicted", runCacheSize+1)
	}
	m := c.get(runCacheSize + 1)
	if r := m[[2]string{"X", "sec/op"}]; r == nil || r.Samples[0] != runCacheSize {
		t.Errorf("for the newest run, got %v, want its result", m)
	}
	var none *runCache
	if none.get(1) != nil || len(none.put(1, []runner.Result{{Name: "X", Unit: "u"}})) != 1 {
		t.Errorf("a nil cache should keep nothing and still index what it is given")
	}
}

func TestRulesCache(t *testing.T) {
	var c rulesCache
	ths := runner.DefaultThresholds()
	a, err := c.compile(ths)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := c.compile(runner.DefaultThresholds())
	if a != b {
		t.Errorf("for the same thresholds twice, got two compilations, want the cached one")
	}
	changed := runner.DefaultThresholds()
	changed[0].Warn++
	if d, _ := c.compile(changed); d == a {
		t.Errorf("for a changed limit, got the cached rules of the old one")
	}
	if _, err := c.compile([]runner.Threshold{{Benchmark: "(", Kind: runner.KindUpper}}); err == nil {
		t.Errorf("for a bad pattern, got no error")
	}
}
