-- name: ResultVerdictCounts :many
-- How many results of each run have each stored verdict (status '' for results stored
-- without one), for the runs list.
SELECT run_id, COALESCE(verdict_status, '')::text AS status, count(*) AS n
FROM results
WHERE run_id = ANY(sqlc.arg('run_ids')::bigint[])
GROUP BY run_id, verdict_status;
