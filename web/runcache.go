package web

import (
	"fmt"
	"sync"

	"github.com/benchd/benchd/runner"
)

// runCacheSize is how many runs' results the Ingester keeps for comparisons (a run of 200
// results of 10 samples is ~40 KB).
const runCacheSize = 64

// runCache keeps the results of recently stored or compared runs by run id, so a run of a
// branch is compared with the previous one without reading its samples back. It is safe for
// concurrent use; the zero value is empty, and a nil *runCache keeps nothing.
//
// Note: a stored run's results never change (they are only deleted with the run), so an entry
// is never stale: the baseline's run id itself always comes from the database, and a deleted
// run is not chosen again.
type runCache struct {
	mu    sync.Mutex
	runs  map[int64]map[[2]string]*runner.Result
	order []int64 // insertion order, for eviction
}

// get returns the results of run id by name and unit, or nil.
func (c *runCache) get(id int64) map[[2]string]*runner.Result {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.runs[id]
}

// put indexes results as run id's, keeps them (evicting the oldest entry when full) and
// returns the index.
func (c *runCache) put(id int64, results []runner.Result) map[[2]string]*runner.Result {
	m := make(map[[2]string]*runner.Result, len(results))
	for i := range results {
		m[[2]string{results[i].Name, results[i].Unit}] = &results[i]
	}
	if c == nil {
		return m
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.runs == nil {
		c.runs = make(map[int64]map[[2]string]*runner.Result, runCacheSize)
	}
	if _, ok := c.runs[id]; !ok {
		if len(c.order) >= runCacheSize {
			delete(c.runs, c.order[0])
			c.order = c.order[1:]
		}
		c.order = append(c.order, id)
	}
	c.runs[id] = m
	return m
}

// rulesCache keeps compiled threshold sets by their content, so a posted run does not compile
// its project's patterns again (a quarter of judging a 200-result run). It is safe for
// concurrent use (runner.Rules is read-only once built); a nil *rulesCache compiles every time.
type rulesCache struct {
	mu    sync.Mutex
	rules map[string]*runner.Rules
}

// compile returns ths compiled, from the cache when the same set was compiled before.
func (c *rulesCache) compile(ths []runner.Threshold) (*runner.Rules, error) {
	if c == nil {
		return runner.NewRules(ths)
	}
	key := fmt.Sprintf("%#v", ths) // every field, whatever runner.Threshold grows
	c.mu.Lock()
	r, ok := c.rules[key]
	c.mu.Unlock()
	if ok {
		return r, nil
	}
	r, err := runner.NewRules(ths)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rules == nil || len(c.rules) >= 256 {
		c.rules = map[string]*runner.Rules{} // projects × edits of their rules: rarely more
	}
	c.rules[key] = r
	return r, nil
}
