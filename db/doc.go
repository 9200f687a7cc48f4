// Package db is benchd's data: the PostgreSQL schema (migrations/*.sql, embedded), the queries
// (queries/*.sql, compiled by sqlc into internal/dbsqlc) and the Store, the only way the rest of
// benchd reads or writes it. pgx and sqlc types never leave the package: the Store takes and
// returns plain Go values and the runner's value types (runner.Result, runner.Summary,
// runner.Threshold, runner.Verdict).
//
// # Opening
//
//	m, _ := db.NewMigrator(ctx, url, logger) // benchd migrate up|down|status
//	_, err := m.Up(ctx)                      // benchd's tables, then River's (the job queue)
//	s, err := db.Open(ctx, url, logger)      // refuses a stale schema: ErrStaleSchema
//	defer s.Close()
//	err = s.Ping(ctx)                        // /readyz: reachable and schema still current
//
// A search_path parameter in the URL selects the schema (the test helpers in db/dbtest give
// each test its own). With no URL, cmd/benchd starts a private cluster with db/embedpg.
//
// # The Store
//
// Runs and results:
//   - InsertRun(ctx, NewRun{Project, Branch, Testbed, Commit, Trigger, Suite, …, Results})
//     stores a run and all its results in one transaction (results in one COPY): all or
//     nothing. Project, branch and testbed are created when missing. A reused IdempotencyKey
//     returns ErrConflict and stores nothing; RunByIdempotencyKey then returns the first run, so
//     "same key twice → same answer" is InsertRun, then on ErrConflict RunByIdempotencyKey.
//   - GetRun, ListRuns(RunFilter{Project, Branch, Testbed, Before, Limit}) newest first with an
//     ID cursor, Results(runID), DeleteRun.
//   - BenchmarkHistory(HistoryQuery{Project, Branch, Testbed, Name, Unit, Limit}): the newest
//     points (run, commit, time, median, CI, n) of done runs, oldest first.
//   - ListBenchmarks(project, branch, testbed, runs): the series measured in the newest runs.
//   - EnsureProject, EnsureBranch, EnsureTestbed, ListProjects, ListBranches, ListTestbeds.
//
// Judging:
//   - SetBaseline / GetBaseline / ListBaselines / DeleteBaseline: a project's named run.
//   - CreateThreshold / GetThreshold / ListThresholds / UpdateThreshold / DeleteThreshold.
//   - Submit(Submission): the one transactional entry point of a measured run — judged by
//     runner.Judge over what it loads under the series' lock, stored with its verdicts and its
//     alert changes (open / update / resolve, recorded per run in alert_events), or not at all.
//   - ListAlerts(AlertFilter); AcknowledgeAlert; ResolveAlert; StoredVerdicts.
//
// Access:
//   - CreateToken returns the plaintext once ("bdt_…"); only its SHA-256 is stored.
//     VerifyToken looks the hash up (ErrNotFound for unknown or revoked tokens); RevokeToken;
//     ListTokens. A token with no project is valid for every project.
//   - RecordWebhookDelivery reports whether a delivery id is new; SetWebhookDeliveryJob.
//
// # Errors
//
// One function maps database errors: a missing row is ErrNotFound (never a zero value with a nil
// error), a taken unique key ErrConflict, a value refused by a CHECK, NOT NULL or foreign key
// constraint ErrInvalid. Errors are wrapped with what was being done; test with errors.Is.
// Lists of nothing are empty slices with a nil error. Times are UTC with microsecond precision.
//
// The schema refuses bad data by itself, whatever the code does: NaN or infinite samples, empty
// sample arrays, results of missing runs, unknown triggers, statuses and rule kinds, duplicate
// idempotency keys. docs/data.md describes the tables.
package db
