-- name: ThresholdInsert :one
INSERT INTO thresholds (project_id, benchmark, unit, kind, warn, note)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING *;

-- name: ThresholdGet :one
SELECT * FROM thresholds WHERE id = $1;

-- name: ThresholdList :many
SELECT t.* FROM thresholds t JOIN projects p ON p.id = t.project_id
WHERE p.name = $1 ORDER BY t.benchmark, t.unit, t.kind;

-- name: ThresholdUpdate :one
UPDATE thresholds SET benchmark = $2, unit = $3, kind = $4, warn = $5, note = $6, updated_at = now()
WHERE id = $1
RETURNING *;

-- name: ThresholdDelete :execrows
DELETE FROM thresholds WHERE id = $1;
