-- name: AlertInsertMany :many
-- One alert per verdict, matched to the run's result by benchmark name and unit.
INSERT INTO alerts (result_id, rule, threshold_id, baseline_run_id, value, baseline_value,
                    limit_value, delta, p, note)
SELECT res.id, v.rule, NULLIF(v.threshold_id, 0), sqlc.narg('baseline_run_id'), v.value,
       v.baseline_value, v.limit_value, v.delta, v.p, v.note
FROM (SELECT unnest(sqlc.arg('names')::text[]) AS name, unnest(sqlc.arg('units')::text[]) AS unit,
             unnest(sqlc.arg('rules')::text[]) AS rule,
             unnest(sqlc.arg('threshold_ids')::bigint[]) AS threshold_id,
             unnest(sqlc.arg('vals')::float8[]) AS value,
             unnest(sqlc.arg('baseline_vals')::float8[]) AS baseline_value,
             unnest(sqlc.arg('limits')::float8[]) AS limit_value,
             unnest(sqlc.arg('deltas')::float8[]) AS delta, unnest(sqlc.arg('ps')::float8[]) AS p,
             unnest(sqlc.arg('notes')::text[]) AS note) AS v
JOIN results res ON res.run_id = sqlc.arg('run_id') AND res.name = v.name AND res.unit = v.unit
RETURNING id;

-- name: AlertList :many
SELECT a.id, a.result_id, r.id AS run_id, p.name AS project, b.name AS branch, t.name AS testbed,
       r.commit_sha, res.name AS benchmark, res.unit, a.rule, a.threshold_id, a.baseline_run_id,
       a.value, a.baseline_value, a.limit_value, a.delta, a.p, a.note, a.status, a.created_at,
       a.acknowledged_at, a.resolved_at
FROM alerts a
JOIN results res ON res.id = a.result_id
JOIN runs r ON r.id = res.run_id
JOIN projects p ON p.id = r.project_id
JOIN branches b ON b.id = r.branch_id
JOIN testbeds t ON t.id = r.testbed_id
WHERE (sqlc.narg('project')::text IS NULL OR p.name = sqlc.narg('project'))
  AND (sqlc.narg('status')::text IS NULL OR a.status = sqlc.narg('status'))
  AND (sqlc.narg('run_id')::bigint IS NULL OR r.id = sqlc.narg('run_id'))
  AND (sqlc.narg('before')::bigint IS NULL OR a.id < sqlc.narg('before'))
ORDER BY a.id DESC
LIMIT sqlc.arg('lim');

-- name: AlertStatus :one
SELECT status FROM alerts WHERE id = $1;

-- name: AlertAcknowledge :execrows
UPDATE alerts SET status = 'acknowledged', acknowledged_at = now()
WHERE id = $1 AND status = 'active';

-- name: AlertResolve :execrows
UPDATE alerts SET status = 'resolved', resolved_at = now()
WHERE id = $1 AND status <> 'resolved';

-- name: AlertListOpenOfSeries :many
-- The active and acknowledged alerts of the runs of a branch on a testbed older than run
-- before: what a new run of the series may resolve (alerts_status_idx, then each alert's
-- result and run by primary key).
SELECT a.id, a.status, a.rule, a.baseline_value, a.limit_value, res.name AS benchmark, res.unit, r.id AS run_id
FROM alerts a
JOIN results res ON res.id = a.result_id
JOIN runs r ON r.id = res.run_id
WHERE a.status IN ('active', 'acknowledged')
  AND r.project_id = sqlc.arg('project_id') AND r.branch_id = sqlc.arg('branch_id')
  AND r.testbed_id = sqlc.arg('testbed_id') AND r.id < sqlc.arg('before')
ORDER BY a.id;

-- name: AlertListByResults :many
-- The alerts of the given results, newest first (the benchmark page's pins for the points it
-- shows), through the unique (result_id, rule) index.
SELECT a.id, a.result_id, res.run_id, a.rule, a.threshold_id, a.baseline_run_id,
       a.value, a.baseline_value, a.limit_value, a.delta, a.p, a.note, a.status, a.created_at,
       a.acknowledged_at, a.resolved_at
FROM alerts a
JOIN results res ON res.id = a.result_id
WHERE a.result_id = ANY (sqlc.arg('result_ids')::bigint[])
ORDER BY a.id DESC;
