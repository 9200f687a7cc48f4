ALTER TABLE alerts
    DROP COLUMN last_good_run_id,
    DROP COLUMN last_run_id,
    DROP COLUMN resolved_run_id,
    DROP COLUMN runs,
    DROP COLUMN latest_value,
    DROP COLUMN latest_delta,
    DROP COLUMN updated_at;
ALTER TABLE results DROP COLUMN baseline_samples;
ALTER TABLE runs DROP COLUMN baseline_commit, DROP COLUMN baseline_label;
ALTER TABLE branches DROP COLUMN start_branch, DROP COLUMN start_commit;
