-- A run's judgement is stored with it, in the same transaction: what it was compared with
-- (runs.baseline_run_id, baseline_source) and each result's verdict. The reply to a repeated
-- POST and the pages read it back instead of recomputing it; results stored without a
-- judgement (verdict_status NULL) are judged when read.

ALTER TABLE runs
    ADD COLUMN baseline_run_id bigint REFERENCES runs (id) ON DELETE SET NULL,
    -- "baseline:NAME" or "previous:BRANCH"; '' when the run was compared with nothing.
    ADD COLUMN baseline_source text NOT NULL DEFAULT '' CHECK (length(baseline_source) <= 300);

ALTER TABLE results
    ADD COLUMN verdict_status text CHECK (verdict_status IN ('ok', 'improved', 'regressed', 'warning', 'unknown')),
    ADD COLUMN verdict_rule   text NOT NULL DEFAULT '',
    ADD COLUMN baseline_value double precision NOT NULL DEFAULT 0 CHECK (baseline_value > '-Infinity' AND baseline_value < 'Infinity' AND baseline_value <> 'NaN'),
    ADD COLUMN limit_value    double precision NOT NULL DEFAULT 0 CHECK (limit_value > '-Infinity' AND limit_value < 'Infinity' AND limit_value <> 'NaN'),
    ADD COLUMN delta          double precision NOT NULL DEFAULT 0 CHECK (delta > '-Infinity' AND delta < 'Infinity' AND delta <> 'NaN'),
    ADD COLUMN p              double precision NOT NULL DEFAULT 1 CHECK (p >= 0 AND p <= 1),
    ADD COLUMN verdict_note   text NOT NULL DEFAULT '';
