-- name: SessionUpsert :exec
INSERT INTO sessions (id, handler, state, created_at, last_active, expires_at, data)
VALUES (@id, @handler, @state, @created_at, @last_active, @expires_at, @data)
ON CONFLICT (id) DO UPDATE SET
    handler     = EXCLUDED.handler,
    state       = EXCLUDED.state,
    created_at  = EXCLUDED.created_at,
    last_active = EXCLUDED.last_active,
    expires_at  = EXCLUDED.expires_at,
    data        = EXCLUDED.data;

-- name: SessionUpsertMany :execrows
-- One row per id: the caller coalesces, ON CONFLICT cannot touch the same row twice. The
-- arrays have equal lengths; several unnest calls in one select list advance in lockstep.
INSERT INTO sessions (id, handler, state, created_at, last_active, expires_at, data)
SELECT
    unnest(@ids::text[]),
    unnest(@handlers::text[]),
    unnest(@states::text[]),
    unnest(@created_ats::timestamptz[]),
    unnest(@last_actives::timestamptz[]),
    unnest(@expires_ats::timestamptz[]),
    unnest(@datas::bytea[])
ON CONFLICT (id) DO UPDATE SET
    handler     = EXCLUDED.handler,
    state       = EXCLUDED.state,
    created_at  = EXCLUDED.created_at,
    last_active = EXCLUDED.last_active,
    expires_at  = EXCLUDED.expires_at,
    data        = EXCLUDED.data;

-- name: SessionTouchMany :execrows
-- Moves last_active forward (never back) and shifts an idle expiry by the same amount, so a
-- touch keeps the idle TTL the session was saved with. Touches are idempotent and may arrive
-- in any order relative to saves.
UPDATE sessions AS s SET
    last_active = t.at,
    expires_at  = s.expires_at + (t.at - s.last_active)
FROM (SELECT unnest(@ids::text[]) AS id, unnest(@ats::timestamptz[]) AS at) AS t
WHERE s.id = t.id AND t.at > s.last_active;

-- name: SessionDelete :execrows
-- Deletes the session and its queued commands in one statement.
WITH cmds AS (
    DELETE FROM session_commands WHERE session_id = @id::text
)
DELETE FROM sessions WHERE id = @id::text;

-- name: SessionDeleteMany :execrows
WITH cmds AS (
    DELETE FROM session_commands WHERE session_id = ANY(@ids::text[])
)
DELETE FROM sessions WHERE id = ANY(@ids::text[]);

-- name: SessionGet :one
SELECT id, handler, state, created_at, last_active, expires_at, data
FROM sessions
WHERE id = @id;

-- name: SessionDeleteExpired :one
-- Deletes every session whose expiry is at or before now, and their queued commands, in one
-- statement; returns how many sessions went.
WITH gone AS (
    DELETE FROM sessions WHERE expires_at <= @now RETURNING id
), cmds AS (
    DELETE FROM session_commands AS c USING gone WHERE c.session_id = gone.id
)
SELECT count(*) FROM gone;
