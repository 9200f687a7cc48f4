// Package sessioncore runs many small sessions as logical processes: each session handles its
// messages one at a time (Call for request/reply, Cast for fire-and-forget) through a
// user-supplied Handler, lives in a sharded Registry with an exact size cap and a create-rate
// limit, expires after an idle TTL (and optionally an absolute lifetime), follows a validated
// state machine, and can own connections in a Pool that delivers messages through bounded
// per-connection queues.
//
// An idle session holds no goroutine and no runtime timer: it is a 120 B struct, a 24 B slot in
// its shard's index and, when it has a TTL, a place in a bucketed timing wheel. A Cast, or a
// Call to a busy session, is queued and the session is scheduled on the registry's shared
// workers; a Call to an idle session runs on a goroutine of its own, so that its timeout can
// interrupt a handler that blocks — except for the default handler and with
// Config.InlineCalls, where it runs inline on the caller's goroutine. The registry's background
// goroutines — the coarse clock/expiry ticker and the workers — are stopped by Registry.Close.
//
// Persistence is optional and pluggable through Persister (sessioncore/pgstore implements it
// for PostgreSQL). See docs/sessioncore.md for the policies and the benchmark suites.
package sessioncore
