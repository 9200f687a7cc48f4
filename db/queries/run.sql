-- name: RunInsert :one
INSERT INTO runs (project_id, branch_id, testbed_id, commit_sha, trigger, suite, status,
                  started_at, finished_at, config, idempotency_key)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (project_id, idempotency_key) DO NOTHING
RETURNING id, created_at;

-- name: RunGet :one
SELECT r.id, r.project_id, p.name AS project, r.branch_id, b.name AS branch, r.testbed_id,
       t.name AS testbed, r.commit_sha, r.trigger, r.suite, r.status, r.started_at,
       r.finished_at, r.config, r.idempotency_key, r.created_at,
       (SELECT count(*) FROM results WHERE results.run_id = r.id) AS result_count
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
       r.finished_at, r.config, r.idempotency_key, r.created_at,
       (SELECT count(*) FROM results WHERE results.run_id = r.id) AS result_count
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
