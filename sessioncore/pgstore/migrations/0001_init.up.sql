-- sessioncore/pgstore schema, version 1: sessions and their queued commands.

-- sessions holds one row per live session. expires_at is NULL for a session that never expires.
CREATE TABLE sessions (
    id          text        PRIMARY KEY,
    handler     text        NOT NULL,
    state       text        NOT NULL,
    created_at  timestamptz NOT NULL,
    last_active timestamptz NOT NULL,
    expires_at  timestamptz,
    data        bytea
);

-- DeleteExpired deletes by expiry: the partial index keeps never-expiring sessions out of it.
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at) WHERE expires_at IS NOT NULL;

-- session_commands queues commands for a (disconnected) session; Drain deletes and returns
-- them in id order. There is no foreign key to sessions on purpose: in write-behind mode the
-- session row may reach the database after its first command.
CREATE TABLE session_commands (
    id          bigserial   PRIMARY KEY,
    session_id  text        NOT NULL,
    payload     bytea       NOT NULL,
    enqueued_at timestamptz NOT NULL DEFAULT now()
);

-- The drain's index: all commands of one session, in order.
CREATE INDEX session_commands_session_id_id_idx ON session_commands (session_id, id);
