package runner

import (
	"os/exec"
	"strings"
	"testing"
)

// TestPure keeps runner free of databases and HTTP (DESIGN.md's import direction): db and
// web import runner, never the other way round.
func TestPure(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"net/http", "database/sql", "github.com/jackc/", "github.com/benchd/benchd/db", "github.com/benchd/benchd/web", "github.com/labstack/"} {
			if dep == banned || strings.HasPrefix(dep, banned+"/") || strings.HasPrefix(banned, "github.com/jackc/") && strings.HasPrefix(dep, banned) {
				t.Errorf("runner depends on %s", dep)
			}
		}
	}
}
