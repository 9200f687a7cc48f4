-- name: TokenInsert :one
INSERT INTO api_tokens (project_id, name, hash) VALUES ($1, $2, $3)
RETURNING id, created_at;

-- name: TokenGetByHash :one
SELECT tk.id, tk.project_id, coalesce(p.name, '')::text AS project, tk.name, tk.created_at,
       tk.last_used_at, tk.revoked_at
FROM api_tokens tk LEFT JOIN projects p ON p.id = tk.project_id
WHERE tk.hash = $1;

-- name: TokenTouch :execrows
-- Records use at most once a minute, so verifying a token is not a write per request.
UPDATE api_tokens SET last_used_at = now()
WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute');

-- name: TokenList :many
SELECT tk.id, tk.project_id, coalesce(p.name, '')::text AS project, tk.name, tk.created_at,
       tk.last_used_at, tk.revoked_at
FROM api_tokens tk LEFT JOIN projects p ON p.id = tk.project_id
WHERE (sqlc.narg('project')::text IS NULL OR p.name = sqlc.narg('project'))
ORDER BY tk.id;

-- name: TokenRevoke :execrows
UPDATE api_tokens SET revoked_at = now()
WHERE revoked_at IS NULL AND name = sqlc.arg('name')
  AND coalesce(project_id, 0) = coalesce(sqlc.narg('project_id')::bigint, 0);
