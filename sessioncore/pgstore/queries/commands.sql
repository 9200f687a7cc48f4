-- name: CommandInsert :one
INSERT INTO session_commands (session_id, payload, enqueued_at)
VALUES (@session_id, @payload, @enqueued_at)
RETURNING id;

-- name: CommandDrain :many
-- Deletes and returns every queued command of the session, oldest first, in one statement:
-- a concurrent drainer blocks on the row locks and then skips the rows already deleted, so no
-- command is returned twice.
WITH drained AS (
    DELETE FROM session_commands
    WHERE session_id = @session_id
    RETURNING id, session_id, payload, enqueued_at
)
SELECT id, session_id, payload, enqueued_at FROM drained ORDER BY id;
