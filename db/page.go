package db

import "context"

// VerdictCounts returns, for each of runIDs, how many of its results have each stored verdict
// status ("regressed", "ok", …; "" for results stored without a verdict). A run with no
// results is absent; no IDs give an empty map.
func (s *Store) VerdictCounts(ctx context.Context, runIDs []int64) (map[int64]map[string]int, error) {
	out := make(map[int64]map[string]int, len(runIDs))
	if len(runIDs) == 0 {
		return out, nil
	}
	rows, err := s.q.ResultVerdictCounts(ctx, runIDs)
	if err != nil {
		return nil, mapError(err, "counting the verdicts of %d runs", len(runIDs))
	}
	for _, r := range rows {
		if out[r.RunID] == nil {
			out[r.RunID] = map[string]int{}
		}
		out[r.RunID][r.Status] = int(r.N)
	}
	return out, nil
}
