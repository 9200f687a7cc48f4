-- Older benchd needs a finite interval: bound it by the samples' range.
ALTER TABLE results DROP CONSTRAINT IF EXISTS results_ci_both_or_neither;
UPDATE results SET ci_lo = (SELECT min(x) FROM unnest(samples) AS x),
                   ci_hi = (SELECT max(x) FROM unnest(samples) AS x)
WHERE ci_lo IS NULL OR ci_hi IS NULL;
ALTER TABLE results
    ALTER COLUMN ci_lo SET NOT NULL,
    ALTER COLUMN ci_hi SET NOT NULL;
