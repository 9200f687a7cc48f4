-- One owner of judgement (docs/methodology.md, "Baselines" and "Alerts"): a branch remembers
-- the branch it started from, an alert covers one change of one series for as long as it
-- lasts (opened once, updated by later runs on the shifted level, resolved when a run is back
-- within limits), and a run measured interleaved keeps the other side's samples.

ALTER TABLE branches
    -- The branch this one was forked from ('' when unknown) and the fork commit ('' when
    -- unknown: the start branch's newest run before this branch's first run is used).
    ADD COLUMN start_branch text NOT NULL DEFAULT '' CHECK (length(start_branch) <= 500),
    ADD COLUMN start_commit text NOT NULL DEFAULT '' CHECK (length(start_commit) <= 200);

ALTER TABLE runs
    -- The commit of what the run was compared with ('' when none or unknown).
    ADD COLUMN baseline_commit text NOT NULL DEFAULT '' CHECK (length(baseline_commit) <= 200),
    -- A readable name of the baseline: "baseline main (run 12)", "history of main (runs 30–34)".
    ADD COLUMN baseline_label text NOT NULL DEFAULT '' CHECK (length(baseline_label) <= 500);

ALTER TABLE results
    -- The samples of the same benchmark measured interleaved with this run (the baseline
    -- side of a job that alternated two commits), index-paired with samples; NULL otherwise.
    ADD COLUMN baseline_samples double precision[] CHECK (baseline_samples IS NULL OR (
        cardinality(baseline_samples) >= 1
        AND array_position(baseline_samples, NULL) IS NULL
        AND NOT ('NaN' = ANY (baseline_samples))
        AND NOT ('Infinity' = ANY (baseline_samples))
        AND NOT ('-Infinity' = ANY (baseline_samples))));

ALTER TABLE alerts
    -- The newest run of the series before the change (NULL: none) and the newest run that
    -- still showed it; the alert's own result is the first bad run's.
    ADD COLUMN last_good_run_id bigint REFERENCES runs (id) ON DELETE SET NULL,
    ADD COLUMN last_run_id      bigint REFERENCES runs (id) ON DELETE SET NULL,
    ADD COLUMN resolved_run_id  bigint REFERENCES runs (id) ON DELETE SET NULL,
    -- How many runs showed the change, and the newest of their figures.
    ADD COLUMN runs             integer NOT NULL DEFAULT 1 CHECK (runs >= 1),
    ADD COLUMN latest_value     double precision NOT NULL DEFAULT 0 CHECK (latest_value > '-Infinity' AND latest_value < 'Infinity' AND latest_value <> 'NaN'),
    ADD COLUMN latest_delta     double precision NOT NULL DEFAULT 0 CHECK (latest_delta > '-Infinity' AND latest_delta < 'Infinity' AND latest_delta <> 'NaN'),
    ADD COLUMN updated_at       timestamptz NOT NULL DEFAULT now();

UPDATE alerts a SET last_run_id = res.run_id, latest_value = a.value, latest_delta = a.delta
FROM results res WHERE res.id = a.result_id;
