-- name: CommitUpsert :exec
-- Describes a commit of a project (creating nothing else: the project must exist).
INSERT INTO commits (project_id, sha, message, committed_at)
SELECT p.id, sqlc.arg('sha'), sqlc.arg('message'), sqlc.narg('committed_at')
FROM projects p WHERE p.name = sqlc.arg('project')
ON CONFLICT (project_id, sha) DO UPDATE SET message = EXCLUDED.message, committed_at = EXCLUDED.committed_at;

-- name: CommitList :many
-- The known commits of a project among the given SHAs.
SELECT c.sha, c.message, c.committed_at
FROM commits c JOIN projects p ON p.id = c.project_id
WHERE p.name = sqlc.arg('project') AND c.sha = ANY(sqlc.arg('shas')::text[]);
