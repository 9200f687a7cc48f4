// Package bench compares the registry part of sessioncore with the usual Go ways to build
// one: a mutex-guarded map, sync.Map, a sharded map, xsync.Map, otter (idle TTL) and
// ttlcache — side by side in one run, so ratios can be quoted. It is a separate module so
// that none of these libraries enters sessioncore's dependencies. It has no API: run
// `go test -bench .` here (see README.md).
package bench
