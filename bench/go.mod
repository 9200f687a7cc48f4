module github.com/benchd/benchd/bench

go 1.26.0

replace github.com/benchd/benchd => ../

require (
	github.com/benchd/benchd v0.0.0-00010101000000-000000000000
	github.com/jellydator/ttlcache/v3 v3.4.1
	github.com/maypok86/otter/v2 v2.4.0
	github.com/puzpuzpuz/xsync/v4 v4.5.0
)

require golang.org/x/sync v0.24.0 // indirect
