// Package runner turns Go benchmark output into verdicts.
//
// It parses the Go benchmark format with golang.org/x/perf/benchfmt (config lines, every
// value/unit pair, `Unit … better=` metadata, `/key=value` names, the -GOMAXPROCS suffix),
// summarises each benchmark/unit with golang.org/x/perf/benchmath (median and 95% confidence
// interval), compares a run with a baseline (Mann-Whitney U test plus a minimum effect size in
// the unit's worse direction), evaluates thresholds (static limits, regression percentage,
// scaling across `n=` variants), detects change points in a history, and runs suites with
// `go test` in a checkout.
//
// The package is pure: it never opens a database or an HTTP connection. Statistical caveats
// (too few samples, zero variance, a wide confidence interval) are data (Warnings), not
// errors.
package runner
