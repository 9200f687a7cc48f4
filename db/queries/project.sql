-- name: ProjectGetByName :one
SELECT * FROM projects WHERE name = $1;

-- name: ProjectInsert :one
INSERT INTO projects (name) VALUES ($1)
ON CONFLICT (name) DO NOTHING
RETURNING *;

-- name: ProjectList :many
SELECT * FROM projects ORDER BY name;

-- name: BranchGetByName :one
SELECT * FROM branches WHERE project_id = $1 AND name = $2;

-- name: BranchInsert :one
INSERT INTO branches (project_id, name) VALUES ($1, $2)
ON CONFLICT (project_id, name) DO NOTHING
RETURNING *;

-- name: BranchList :many
SELECT b.* FROM branches b JOIN projects p ON p.id = b.project_id
WHERE p.name = $1 ORDER BY b.name;

-- name: TestbedGetByName :one
SELECT * FROM testbeds WHERE name = $1;

-- name: TestbedInsert :one
INSERT INTO testbeds (name, goos, goarch, cpu, go_version) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (name) DO NOTHING
RETURNING *;

-- name: TestbedUpdateFingerprint :one
UPDATE testbeds SET goos = $2, goarch = $3, cpu = $4, go_version = $5
WHERE id = $1
RETURNING *;

-- name: TestbedList :many
SELECT * FROM testbeds ORDER BY name;

-- name: SeriesLookup :one
-- The ids of a project, its branch and a testbed in one round trip (InsertRun's common case:
-- all three exist).
SELECT p.id AS project_id, b.id AS branch_id, t.id AS testbed_id, t.goos, t.goarch, t.cpu, t.go_version
FROM projects p
JOIN branches b ON b.project_id = p.id AND b.name = sqlc.arg('branch')
CROSS JOIN testbeds t
WHERE p.name = sqlc.arg('project') AND t.name = sqlc.arg('testbed');
