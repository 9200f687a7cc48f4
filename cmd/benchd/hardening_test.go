package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCompareClientInput is issue 12's malformed and valid inputs on the command line: each
// refusal is a usage error (exit 2) naming the file and line, never a crash.
func TestCompareClientInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.txt", "goos: linux\ngoarch: amd64\nBenchmarkA-2 100 1000 ns/op\n")
	for _, tc := range []struct {
		name, body string
		code       int
		want       string
	}{
		{"byte-order mark", "\ufeffgoos: linux\ngoarch: amd64\nBenchmarkA-2 100 1000 ns/op\n", 0, ""},
		{"zero iterations", "goos: linux\nBenchmarkA-2 0 1000 ns/op\n", 2, "zero_iterations.txt:2: iteration count 0"},
		{"negative iterations", "goos: linux\nBenchmarkA-2 -4 1000 ns/op\n", 2, "negative_iterations.txt:2: iteration count -4"},
		{"no results", "PASS\n", 2, "no benchmark results"},
	} {
		p := write(strings.ReplaceAll(tc.name, " ", "_")+".txt", tc.body)
		_, stderr, code := invoke(t, "", nil, "compare", "--fail-on", "never", good, p)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("for compare with %s, got exit %d %q, want %d containing %q", tc.name, code, stderr, tc.code, tc.want)
		}
	}
}
