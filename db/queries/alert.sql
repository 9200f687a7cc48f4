-- name: AlertList :many
SELECT a.id, a.result_id, r.id AS run_id, p.name AS project, b.name AS branch, t.name AS testbed,
       r.commit_sha, res.name AS benchmark, res.unit, a.rule, a.threshold_id, a.baseline_run_id,
       a.value, a.baseline_value, a.limit_value, a.delta, a.p, a.note, a.status, a.created_at,
       a.acknowledged_at, a.resolved_at, a.last_good_run_id, a.last_run_id, a.resolved_run_id, a.runs,
       a.latest_value, a.latest_delta, a.updated_at, res.better,
       coalesce(lg.commit_sha, '')::text AS last_good_commit, coalesce(lr.commit_sha, '')::text AS last_commit,
       r.baseline_label
FROM alerts a
JOIN results res ON res.id = a.result_id
JOIN runs r ON r.id = res.run_id
LEFT JOIN runs lg ON lg.id = a.last_good_run_id
LEFT JOIN runs lr ON lr.id = a.last_run_id
JOIN projects p ON p.id = r.project_id
JOIN branches b ON b.id = r.branch_id
JOIN testbeds t ON t.id = r.testbed_id
WHERE (sqlc.narg('project')::text IS NULL OR p.name = sqlc.narg('project'))
  AND (sqlc.narg('status')::text IS NULL OR a.status = sqlc.narg('status'))
  AND (sqlc.narg('run_id')::bigint IS NULL OR r.id = sqlc.narg('run_id')
       OR EXISTS (SELECT 1 FROM alert_events e WHERE e.alert_id = a.id AND e.run_id = sqlc.narg('run_id')))
  AND (sqlc.narg('branch')::text IS NULL OR b.name = sqlc.narg('branch'))
  AND (sqlc.narg('testbed')::text IS NULL OR t.name = sqlc.narg('testbed'))
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

-- name: AlertListByResults :many
-- The alerts of the given results, newest first (the benchmark page's pins for the points it
-- shows), through the unique (result_id, rule) index.
SELECT a.id, a.result_id, res.run_id, a.rule, a.threshold_id, a.baseline_run_id,
       a.value, a.baseline_value, a.limit_value, a.delta, a.p, a.note, a.status, a.created_at,
       a.acknowledged_at, a.resolved_at, a.last_good_run_id, a.last_run_id, a.resolved_run_id, a.runs,
       a.latest_value, a.latest_delta, a.updated_at
FROM alerts a
JOIN results res ON res.id = a.result_id
WHERE a.result_id = ANY (sqlc.arg('result_ids')::bigint[])
ORDER BY a.id DESC;
