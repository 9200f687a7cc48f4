-- A 95% confidence interval that cannot be computed (fewer than 6 samples: benchmath gives
-- ±Inf) is stored as NULL rather than invented: both bounds or neither.
ALTER TABLE results
    ALTER COLUMN ci_lo DROP NOT NULL,
    ALTER COLUMN ci_hi DROP NOT NULL,
    ADD CONSTRAINT results_ci_both_or_neither CHECK ((ci_lo IS NULL) = (ci_hi IS NULL));
