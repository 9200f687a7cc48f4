-- What is known of a commit beyond its SHA, when a client says (benchd post reads it from
-- git): its message's first line and its commit time. Kept apart from runs, so a commit
-- benchmarked many times is described once, and a run stored before it was known gains it.
CREATE TABLE commits (
    project_id   bigint NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    sha          text NOT NULL CHECK (length(sha) BETWEEN 1 AND 64),
    message      text NOT NULL DEFAULT '' CHECK (length(message) <= 1000),
    committed_at timestamptz,
    PRIMARY KEY (project_id, sha)
);
