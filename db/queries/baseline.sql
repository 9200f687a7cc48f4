-- name: BaselineSet :one
INSERT INTO baselines (project_id, name, run_id)
SELECT r.project_id, sqlc.arg('name'), r.id FROM runs r
WHERE r.id = sqlc.arg('run_id') AND r.project_id = (SELECT p.id FROM projects p WHERE p.name = sqlc.arg('project'))
ON CONFLICT (project_id, name) DO UPDATE SET run_id = EXCLUDED.run_id, updated_at = now()
RETURNING run_id, updated_at;

-- name: BaselineGet :one
SELECT bl.name, bl.run_id, bl.updated_at FROM baselines bl JOIN projects p ON p.id = bl.project_id
WHERE p.name = sqlc.arg('project') AND bl.name = sqlc.arg('name');

-- name: BaselineList :many
SELECT bl.name, bl.run_id, bl.updated_at FROM baselines bl JOIN projects p ON p.id = bl.project_id
WHERE p.name = $1 ORDER BY bl.name;

-- name: BaselineDelete :execrows
DELETE FROM baselines bl USING projects p
WHERE p.id = bl.project_id AND p.name = sqlc.arg('project') AND bl.name = sqlc.arg('name');
