// Package web is benchd's HTTP tier: the JSON API that CI posts results to, the GitHub
// webhook, the server-rendered pages and the operational endpoints (/healthz, /readyz,
// /metrics), on Echo v4.
//
// The tier is stateless: everything it knows comes from the Store (PostgreSQL) and every
// background run goes through the job queue, so any number of servers can run side by side.
// Templates and static files are embedded and parsed once when the Server is built; the ECharts
// library is served by benchd itself under a content-hashed name, so pages work with no
// internet and can be cached forever.
//
// Errors travel as Go errors to one handler (Server.handleError) that chooses the status code:
// a client mistake is always a 4xx with a JSON body {"error":{"message":…,"line":…}} on /api
// routes or an HTML error page elsewhere; an unreachable database is a 503; anything else is a
// 500 whose details are logged, never shown.
package web
