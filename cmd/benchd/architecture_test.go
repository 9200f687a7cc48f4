package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportDirection keeps the package graph of DESIGN.md (docs/architecture.md): the session
// core is measured as a black box and imports nothing of benchd; runner is pure (no database,
// no HTTP) and owns the judgement; db applies it (Store.Submit) and knows nothing of HTTP; the
// worker (web/jobs) judges through db, not through the HTTP package; web sees db and runner.
// Test-only imports are not checked: tests may borrow helpers such as db/embedpg.
func TestImportDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "github.com/benchd/benchd/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	const mod = "github.com/benchd/benchd/"
	// forbidden maps a package prefix (relative to the module) to import prefixes it must not use.
	forbidden := []struct{ pkg, banned, why string }{
		{"sessioncore", mod + "runner", "the session core imports nothing of benchd"},
		{"sessioncore", mod + "db", "the session core imports nothing of benchd"},
		{"sessioncore", mod + "web", "the session core imports nothing of benchd"},
		{"runner", mod + "db", "runner is pure: no database"},
		{"runner", mod + "web", "runner is pure: no HTTP"},
		{"runner", mod + "sessioncore", "the session core is measured as a black box"},
		{"runner", "github.com/jackc/pgx", "runner is pure: no database"},
		{"runner", "github.com/labstack/echo", "runner is pure: no HTTP"},
		{"runner", "net/http", "runner is pure: no HTTP"},
		{"db", mod + "web", "db is below web"},
		{"db", mod + "sessioncore", "the session core is measured as a black box"},
		{"db", "github.com/labstack/echo", "db knows nothing of HTTP"},
		{"web/jobs", mod + "web", "the worker does not depend on the HTTP package: its jobs are db.RunJob and it judges through db.Store.Submit"},
		{"web", mod + "sessioncore", "the session core is measured as a black box"},
		{"web", mod + "cmd", "nothing imports the command"},
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || !strings.HasPrefix(fields[0], mod) {
			continue
		}
		rel := strings.TrimPrefix(fields[0], mod)
		checked++
		for _, imp := range fields[1:] {
			for _, f := range forbidden {
				if !(rel == f.pkg || strings.HasPrefix(rel, f.pkg+"/")) {
					continue
				}
				// sessioncore/pgstore may use pgx; its own internal packages are its business.
				if imp == f.banned || strings.HasPrefix(imp, f.banned+"/") || (strings.HasSuffix(f.banned, "/") && strings.HasPrefix(imp, f.banned)) {
					t.Errorf("%s imports %s: %s", rel, imp, f.why)
				}
			}
		}
	}
	if checked < 3 {
		t.Fatalf("for go list of the module, got %d packages, want the whole module", checked)
	}
}
