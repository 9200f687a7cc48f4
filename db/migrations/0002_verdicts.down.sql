ALTER TABLE results
    DROP COLUMN IF EXISTS verdict_status,
    DROP COLUMN IF EXISTS verdict_rule,
    DROP COLUMN IF EXISTS baseline_value,
    DROP COLUMN IF EXISTS limit_value,
    DROP COLUMN IF EXISTS delta,
    DROP COLUMN IF EXISTS p,
    DROP COLUMN IF EXISTS verdict_note;

ALTER TABLE runs
    DROP COLUMN IF EXISTS baseline_run_id,
    DROP COLUMN IF EXISTS baseline_source;
