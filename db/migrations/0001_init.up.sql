-- benchd's data: what was measured (projects, testbeds, branches, runs, results), how it is
-- judged (baselines, thresholds, alerts) and who may post (api_tokens, webhook_deliveries).
-- The CHECK constraints keep bad data out even when code has a bug.

CREATE TABLE projects (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text NOT NULL UNIQUE CHECK (name <> '' AND length(name) <= 200),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- A testbed is a machine fingerprint: comparisons stay within one.
CREATE TABLE testbeds (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text NOT NULL UNIQUE CHECK (name <> '' AND length(name) <= 200),
    goos       text NOT NULL DEFAULT '',
    goarch     text NOT NULL DEFAULT '',
    cpu        text NOT NULL DEFAULT '',
    go_version text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE branches (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id bigint NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name       text NOT NULL CHECK (name <> '' AND length(name) <= 500),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, name)
);

CREATE TABLE runs (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id      bigint NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    branch_id       bigint NOT NULL REFERENCES branches (id) ON DELETE CASCADE,
    testbed_id      bigint NOT NULL REFERENCES testbeds (id),
    commit_sha      text NOT NULL DEFAULT '' CHECK (length(commit_sha) <= 200),
    trigger         text NOT NULL CHECK (trigger IN ('cli', 'ci', 'schedule', 'webhook')),
    suite           text NOT NULL DEFAULT '',
    status          text NOT NULL DEFAULT 'done' CHECK (status IN ('running', 'done', 'failed')),
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz CHECK (finished_at IS NULL OR finished_at >= started_at),
    -- config lines of the Go benchmark output, in order: [{"key": "goos", "value": "linux"}, …]
    config          jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(config) = 'array'),
    idempotency_key text CHECK (idempotency_key IS NULL OR (idempotency_key <> '' AND length(idempotency_key) <= 200)),
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, idempotency_key)
);

-- History of a branch on a testbed, newest first (BenchmarkHistory, RunList).
CREATE INDEX runs_series_idx ON runs (project_id, branch_id, testbed_id, started_at DESC, id DESC);

-- One benchmark measured in one unit in one run, with every raw sample.
CREATE TABLE results (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id  bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    name    text NOT NULL CHECK (name <> ''),
    procs   integer NOT NULL DEFAULT 0 CHECK (procs >= 0),
    unit    text NOT NULL CHECK (unit <> ''),
    better  smallint NOT NULL CHECK (better IN (-1, 0, 1)),
    samples double precision[] NOT NULL CHECK (
        -- cardinality, not array_length: array_length('{}', 1) is NULL, and a CHECK that is
        -- NULL passes.
        cardinality(samples) >= 1
        AND array_ndims(samples) = 1
        AND array_position(samples, NULL) IS NULL
        AND NOT ('NaN' = ANY (samples))
        AND NOT ('Infinity' = ANY (samples))
        AND NOT ('-Infinity' = ANY (samples))),
    n       integer NOT NULL,
    median  double precision NOT NULL,
    ci_lo   double precision NOT NULL,
    ci_hi   double precision NOT NULL,
    CHECK (n = cardinality(samples)),
    CHECK (ci_lo <= median AND median <= ci_hi),
    CHECK (ci_lo > '-Infinity' AND ci_hi < 'Infinity' AND median <> 'NaN' AND ci_lo <> 'NaN' AND ci_hi <> 'NaN'),
    UNIQUE (run_id, name, unit)
);

-- Note: no index on results (name, unit, …): it costs 30–80% more database CPU per inserted
-- result and helps only reads of a whole long series (docs/data.md has the figures). The
-- history walks runs_series_idx and probes the unique (run_id, name, unit) index instead.

-- A named baseline of a project points at one run ("main", "v1.2").
CREATE TABLE baselines (
    project_id bigint NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name       text NOT NULL CHECK (name <> '' AND length(name) <= 200),
    run_id     bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, name)
);

-- Thresholds are data: a project's rules per benchmark pattern and unit.
CREATE TABLE thresholds (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id bigint NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    benchmark  text NOT NULL CHECK (benchmark <> ''),
    unit       text NOT NULL DEFAULT '',
    kind       text NOT NULL CHECK (kind IN ('upper', 'lower', 'regression', 'scaling')),
    warn       double precision NOT NULL CHECK (warn > '-Infinity' AND warn < 'Infinity' AND warn <> 'NaN'),
    note       text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, benchmark, unit, kind)
);

CREATE TABLE alerts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    result_id       bigint NOT NULL REFERENCES results (id) ON DELETE CASCADE,
    rule            text NOT NULL CHECK (rule IN ('regression', 'upper', 'lower', 'scaling', 'changepoint')),
    threshold_id    bigint REFERENCES thresholds (id) ON DELETE SET NULL,
    baseline_run_id bigint REFERENCES runs (id) ON DELETE SET NULL,
    value           double precision NOT NULL,
    baseline_value  double precision NOT NULL DEFAULT 0,
    limit_value     double precision NOT NULL DEFAULT 0,
    delta           double precision NOT NULL DEFAULT 0,
    p               double precision NOT NULL DEFAULT 1 CHECK (p >= 0 AND p <= 1),
    note            text NOT NULL DEFAULT '',
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'acknowledged', 'resolved')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    acknowledged_at timestamptz,
    resolved_at     timestamptz,
    CHECK ((status = 'resolved') = (resolved_at IS NOT NULL)),
    CHECK (status = 'active' OR acknowledged_at IS NOT NULL OR resolved_at IS NOT NULL),
    UNIQUE (result_id, rule)
);

CREATE INDEX alerts_status_idx ON alerts (status, id DESC);

-- API tokens are stored as the SHA-256 of the secret; project NULL = every project.
CREATE TABLE api_tokens (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id   bigint REFERENCES projects (id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (name <> '' AND length(name) <= 200),
    hash         bytea NOT NULL UNIQUE CHECK (length(hash) = 32),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);

-- One live token per name and project (a revoked name may be reused).
CREATE UNIQUE INDEX api_tokens_live_name_idx ON api_tokens (coalesce(project_id, 0), name)
    WHERE revoked_at IS NULL;

-- GitHub delivery ids seen, so a redelivered webhook enqueues nothing twice.
CREATE TABLE webhook_deliveries (
    delivery_id text PRIMARY KEY CHECK (delivery_id <> '' AND length(delivery_id) <= 200),
    event       text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    job_id      bigint
);
