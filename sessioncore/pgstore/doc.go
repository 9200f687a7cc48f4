// Package pgstore persists sessioncore sessions in PostgreSQL.
//
// A [Store] implements [sessioncore.Persister] in one of two modes:
//
//   - [WriteThrough]: Save and Delete reach the database before they return. Touch never
//     blocks (the Persister contract): touches are buffered, coalesced per session and written
//     in batches every [Config.FlushInterval], in this mode too.
//   - [WriteBehind]: Save, Touch and Delete are coalesced per session in memory and written in
//     batches (one statement per kind, arrays unnested server-side) every
//     [Config.FlushInterval] or as soon as [Config.BatchSize] sessions are pending, and by
//     [Store.Flush] and [Store.Close]. Whatever is pending when the process dies is lost:
//     at most one interval's worth of changes.
//
// The store also keeps a per-session command queue ([Store.Enqueue], [Store.Drain]) for
// disconnected sessions, deletes expired sessions in one statement ([Store.DeleteExpired]) and
// loads a session back for a reconnect ([Store.Get]). A [Signer] issues and checks the
// HMAC-signed reconnect tokens that let a client claim its session again.
//
// The schema is embedded and applied by [Migrate], independently of any other migrator. The
// SQL lives in queries/ and is compiled by sqlc into an internal package; pgx types never
// leave this package.
package pgstore
