-- name: RunInsert :one
INSERT INTO runs (project_id, branch_id, testbed_id, commit_sha, trigger, suite, status,
                  started_at, finished_at, config, idempotency_key, baseline_run_id, baseline_source,
                  baseline_commit, baseline_label)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
ON CONFLICT (project_id, idempotency_key) DO NOTHING
RETURNING id, created_at;

-- name: RunGet :one
SELECT r.id, r.project_id, p.name AS project, r.branch_id, b.name AS branch, r.testbed_id,
       t.name AS testbed, r.commit_sha, r.trigger, r.suite, r.status, r.started_at,
       r.finished_at, r.config, r.idempotency_key, r.created_at, r.baseline_run_id, r.baseline_source,
       r.baseline_commit, r.baseline_label, (SELECT count(*) FROM results WHERE results.run_id = r.id) AS result_count
FROM runs r
JOIN projects p ON p.id = r.project_id
JOIN branches b ON b.id = r.branch_id
JOIN testbeds t ON t.id = r.testbed_id
WHERE r.id = $1;

-- name: RunGetByIdempotencyKey :one
SELECT r.id FROM runs r JOIN projects p ON p.id = r.project_id
WHERE p.name = $1 AND r.idempotency_key = $2;

-- name: RunList :many
SELECT r.id, r.project_id, p.name AS project, r.branch_id, b.name AS branch, r.testbed_id,
       t.name AS testbed, r.commit_sha, r.trigger, r.suite, r.status, r.started_at,
       r.finished_at, r.config, r.idempotency_key, r.created_at, r.baseline_run_id, r.baseline_source,
       r.baseline_commit, r.baseline_label, (SELECT count(*) FROM results WHERE results.run_id = r.id) AS result_count
FROM runs r
JOIN projects p ON p.id = r.project_id
JOIN branches b ON b.id = r.branch_id
JOIN testbeds t ON t.id = r.testbed_id
WHERE (sqlc.narg('project')::text IS NULL OR p.name = sqlc.narg('project'))
  AND (sqlc.narg('branch')::text IS NULL OR b.name = sqlc.narg('branch'))
  AND (sqlc.narg('testbed')::text IS NULL OR t.name = sqlc.narg('testbed'))
  AND (sqlc.narg('before')::bigint IS NULL OR r.id < sqlc.narg('before'))
ORDER BY r.id DESC
LIMIT sqlc.arg('lim');

-- name: RunDelete :execrows
DELETE FROM runs WHERE id = $1;

-- name: RunLatestWithResults :one
-- The newest done run with results of a branch on a testbed, among runs with an id below
-- before (NULL: any): what a run of the branch is compared with when no baseline is named
-- (runs_series_idx, newest first, stopping at the first match).
SELECT r.id FROM runs r
WHERE r.project_id = (SELECT p.id FROM projects p WHERE p.name = sqlc.arg('project'))
  AND r.branch_id = (SELECT b.id FROM branches b JOIN projects p ON p.id = b.project_id
                     WHERE p.name = sqlc.arg('project') AND b.name = sqlc.arg('branch'))
  AND r.testbed_id = (SELECT t.id FROM testbeds t WHERE t.name = sqlc.arg('testbed'))
  AND r.status = 'done'
  AND (sqlc.narg('before')::bigint IS NULL OR r.id < sqlc.narg('before'))
  AND EXISTS (SELECT 1 FROM results res WHERE res.run_id = r.id)
ORDER BY r.started_at DESC, r.id DESC
LIMIT 1;
