-- Queries of Store.Submit: what a run's judgement needs, read in the run's transaction
-- after the series lock, and the alert changes it decides.

-- name: SeriesLock :exec
-- Serialises judgements of one series (project, branch, testbed) so that two runs posted at
-- once cannot both open an alert for the same change.
SELECT pg_advisory_xact_lock(hashtextextended('benchd-series:' || sqlc.arg('project_id')::bigint || ':' ||
    sqlc.arg('branch_id')::bigint || ':' || sqlc.arg('testbed_id')::bigint, 0));

-- name: BranchStartPointGet :one
SELECT start_branch, start_commit FROM branches WHERE id = $1;

-- name: BranchStartPointSet :exec
UPDATE branches SET start_branch = sqlc.arg('start_branch'), start_commit = sqlc.arg('start_commit')
WHERE id = sqlc.arg('id');

-- name: BaselineRunOf :one
-- The run a project's named baseline points at, if it is a done run on the testbed.
SELECT r.id, r.commit_sha FROM baselines bl JOIN runs r ON r.id = bl.run_id
WHERE bl.project_id = sqlc.arg('project_id') AND bl.name = sqlc.arg('name')
  AND r.testbed_id = sqlc.arg('testbed_id') AND r.status = 'done';

-- name: BaselineExists :one
SELECT EXISTS (SELECT 1 FROM baselines WHERE project_id = $1 AND name = $2);

-- name: RunStartPoint :one
-- The start branch's run a forked branch is compared with: the done run at the fork commit
-- when there is one, else the newest done run started before the fork (the forked branch's
-- first run, or before sqlc.arg('at') when it has none yet), on the same testbed.
SELECT r.id, r.commit_sha FROM runs r
JOIN branches sb ON sb.id = r.branch_id AND sb.project_id = sqlc.arg('project_id') AND sb.name = sqlc.arg('start_branch')
WHERE r.testbed_id = sqlc.arg('testbed_id') AND r.status = 'done'
  AND EXISTS (SELECT 1 FROM results res WHERE res.run_id = r.id)
  AND (r.commit_sha = sqlc.arg('start_commit')
       OR r.started_at <= coalesce((SELECT min(f.started_at) FROM runs f WHERE f.branch_id = sqlc.arg('branch_id')
                                    AND f.testbed_id = sqlc.arg('testbed_id')), sqlc.arg('at')::timestamptz))
ORDER BY (r.commit_sha = sqlc.arg('start_commit') AND sqlc.arg('start_commit') <> '') DESC, r.started_at DESC, r.id DESC
LIMIT 1;

-- name: SeriesHistory :many
-- The newest done runs (at most sqlc.arg('runs')) of a series started before sqlc.arg('at'),
-- with every result's median, and the raw samples of the newest sqlc.arg('sampled') runs:
-- the change-point window and the recent-history baseline in one query (runs_series_idx).
SELECT recent.id AS run_id, recent.commit_sha, recent.started_at, recent.pos::integer AS pos,
       res.name, res.procs, res.unit, res.better, res.median,
       CASE WHEN recent.pos <= sqlc.arg('sampled')::integer THEN res.samples END::float8[] AS samples
FROM (SELECT r.id, r.commit_sha, r.started_at, row_number() OVER (ORDER BY r.started_at DESC, r.id DESC) AS pos
      FROM runs r
      WHERE r.project_id = sqlc.arg('project_id') AND r.branch_id = sqlc.arg('branch_id')
        AND r.testbed_id = sqlc.arg('testbed_id') AND r.status = 'done'
        AND r.started_at < sqlc.arg('at')
      ORDER BY r.started_at DESC, r.id DESC
      LIMIT sqlc.arg('runs')) recent
JOIN LATERAL (SELECT x.name, x.procs, x.unit, x.better, x.median, x.samples
              FROM results x WHERE x.run_id = recent.id) res ON true
ORDER BY recent.started_at, recent.id, res.name, res.unit;

-- name: AlertListOpenOfBranch :many
-- The active and acknowledged alerts of a branch on a testbed (alerts_status_idx, then each
-- alert's result and run by primary key).
SELECT a.id, a.status, a.rule, a.baseline_value, a.limit_value, res.name AS benchmark, res.unit
FROM alerts a
JOIN results res ON res.id = a.result_id
JOIN runs r ON r.id = res.run_id
WHERE a.status IN ('active', 'acknowledged')
  AND r.project_id = sqlc.arg('project_id') AND r.branch_id = sqlc.arg('branch_id')
  AND r.testbed_id = sqlc.arg('testbed_id')
ORDER BY a.id;

-- name: AlertOpen :one
-- Opens an alert on the result of the change's first bad run; NULL when that result already
-- had an alert of this rule (the change was alerted before).
INSERT INTO alerts (result_id, rule, threshold_id, baseline_run_id, value, baseline_value,
                    limit_value, delta, p, note, last_good_run_id, last_run_id, latest_value, latest_delta)
SELECT res.id, sqlc.arg('rule'), sqlc.narg('threshold_id'), sqlc.narg('baseline_run_id'), sqlc.arg('value'),
       sqlc.arg('baseline_value'), sqlc.arg('limit_value'), sqlc.arg('delta'), sqlc.arg('p'), sqlc.arg('note'),
       sqlc.narg('last_good_run_id'), sqlc.arg('last_run_id'), sqlc.arg('value'), sqlc.arg('delta')
FROM results res
WHERE res.run_id = sqlc.arg('first_bad_run_id') AND res.name = sqlc.arg('name') AND res.unit = sqlc.arg('unit')
ON CONFLICT (result_id, rule) DO NOTHING
RETURNING id;

-- name: AlertSeen :exec
-- A later run still shows the alert's change.
UPDATE alerts SET last_run_id = sqlc.arg('run_id'), runs = runs + 1, latest_value = sqlc.arg('value'),
                  latest_delta = sqlc.arg('delta'), updated_at = now()
WHERE id = sqlc.arg('id') AND status <> 'resolved';

-- name: AlertResolveByRun :exec
UPDATE alerts SET status = 'resolved', resolved_at = now(), resolved_run_id = sqlc.arg('run_id'), updated_at = now()
WHERE id = sqlc.arg('id') AND status <> 'resolved';

-- name: BranchInterleaveCommit :one
-- The commit a job on a branch measures interleaved as its baseline when the push named
-- none: the commit of the baseline named like the branch, else the branch's fork commit,
-- else the commit of the start branch's newest run ('' when none is known).
SELECT coalesce(
    (SELECT r.commit_sha FROM baselines bl JOIN runs r ON r.id = bl.run_id
     WHERE bl.project_id = b.project_id AND bl.name = b.name AND r.commit_sha <> ''),
    nullif(b.start_commit, ''),
    (SELECT r.commit_sha FROM runs r JOIN branches sb ON sb.id = r.branch_id
     WHERE sb.project_id = b.project_id AND sb.name = b.start_branch AND r.status = 'done' AND r.commit_sha <> ''
     ORDER BY r.started_at DESC, r.id DESC LIMIT 1),
    '')::text AS commit_sha
FROM branches b JOIN projects p ON p.id = b.project_id
WHERE p.name = sqlc.arg('project') AND b.name = sqlc.arg('branch');

-- name: AlertEventInsert :exec
INSERT INTO alert_events (alert_id, run_id, action) VALUES ($1, $2, $3)
ON CONFLICT (run_id, alert_id) DO NOTHING;

-- name: AlertEventsOfRun :many
-- What run did to alerts, in the order it did it; with each alert's series and rule.
SELECT e.alert_id, e.action, a.rule, res.name, res.unit
FROM alert_events e
JOIN alerts a ON a.id = e.alert_id
JOIN results res ON res.id = a.result_id
WHERE e.run_id = $1
ORDER BY e.created_at, e.alert_id;
