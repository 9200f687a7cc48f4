-- name: ResultInsertMany :copyfrom
INSERT INTO results (run_id, name, procs, unit, better, samples, n, median, ci_lo, ci_hi,
                     verdict_status, verdict_rule, baseline_value, limit_value, delta, p, verdict_note,
                     baseline_samples)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18);

-- name: ResultListByRun :many
SELECT * FROM results WHERE run_id = $1 ORDER BY name, unit;

-- name: BenchmarkHistory :many
-- The newest points of one benchmark/unit on a branch and testbed (runs_series_idx, then
-- results' unique (run_id, name, unit) index per run).
SELECT r.id AS run_id, res.id AS result_id, r.commit_sha, r.started_at, res.median, res.ci_lo, res.ci_hi, res.n,
       res.verdict_status, res.baseline_value, res.delta, res.p, r.baseline_label
FROM runs r
JOIN results res ON res.run_id = r.id AND res.name = sqlc.arg('name') AND res.unit = sqlc.arg('unit')
WHERE r.project_id = (SELECT p.id FROM projects p WHERE p.name = sqlc.arg('project'))
  AND r.branch_id = (SELECT b.id FROM branches b JOIN projects p ON p.id = b.project_id
                     WHERE p.name = sqlc.arg('project') AND b.name = sqlc.arg('branch'))
  AND r.testbed_id = (SELECT t.id FROM testbeds t WHERE t.name = sqlc.arg('testbed'))
  AND r.status = 'done'
ORDER BY r.started_at DESC, r.id DESC
LIMIT sqlc.arg('lim');

-- name: BenchmarkList :many
-- The benchmarks (name, unit) measured in the newest runs of a branch on a testbed.
SELECT res.name, res.unit, max(res.better)::smallint AS better, count(*) AS runs
FROM results res
JOIN (SELECT r.id FROM runs r
      WHERE r.project_id = (SELECT p.id FROM projects p WHERE p.name = sqlc.arg('project'))
        AND r.branch_id = (SELECT b.id FROM branches b JOIN projects p ON p.id = b.project_id
                           WHERE p.name = sqlc.arg('project') AND b.name = sqlc.arg('branch'))
        AND r.testbed_id = (SELECT t.id FROM testbeds t WHERE t.name = sqlc.arg('testbed'))
        AND r.status = 'done'
      ORDER BY r.started_at DESC, r.id DESC
      LIMIT sqlc.arg('runs')) recent ON recent.id = res.run_id
GROUP BY res.name, res.unit
ORDER BY res.name, res.unit;

-- name: ResultMediansOfLatestRuns :many
-- The medians of every result of the newest done runs of a branch on a testbed up to and
-- including run newest, oldest first: the dashboard's trend lines in one query
-- (runs_series_idx for the runs, results' unique (run_id, name, unit) index for each run).
SELECT res.name, res.unit, res.median
FROM (SELECT r.id, r.started_at FROM runs r
      WHERE r.project_id = sqlc.arg('project_id') AND r.branch_id = sqlc.arg('branch_id')
        AND r.testbed_id = sqlc.arg('testbed_id') AND r.status = 'done'
        AND r.started_at <= (SELECT n.started_at FROM runs n WHERE n.id = sqlc.arg('newest'))
      ORDER BY r.started_at DESC, r.id DESC
      LIMIT sqlc.arg('runs')) recent
JOIN results res ON res.run_id = recent.id
ORDER BY recent.started_at, recent.id;
