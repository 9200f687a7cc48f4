package runner

import (
	"strings"
	"testing"
)

func TestChecks(t *testing.T) {
	for _, tc := range []struct {
		check string
		f     func(string) error
		in    string
		want  string // "" = valid
	}{
		{"branch", CheckBranch, "main", ""},
		{"branch", CheckBranch, "feature/x-1.2", ""},
		{"branch", CheckBranch, "release/v1+2", ""},
		{"branch", CheckBranch, "ünïcode", ""},
		{"branch", CheckBranch, "", "empty"},
		{"branch", CheckBranch, "../../etc/passwd", `".."`},
		{"branch", CheckBranch, "a/.hidden", "starts with '.'"},
		{"branch", CheckBranch, "a.lock", ".lock"},
		{"branch", CheckBranch, "/a", "'/'"},
		{"branch", CheckBranch, "a//b", "'/'"},
		{"branch", CheckBranch, "a/", "'/'"},
		{"branch", CheckBranch, "a.", "ends with '.'"},
		{"branch", CheckBranch, "a b", `' '`},
		{"branch", CheckBranch, "a~1", `'~'`},
		{"branch", CheckBranch, "a^", `'^'`},
		{"branch", CheckBranch, "a:b", `':'`},
		{"branch", CheckBranch, "a?", `'?'`},
		{"branch", CheckBranch, "a*", `'*'`},
		{"branch", CheckBranch, "a[b", `'['`},
		{"branch", CheckBranch, `a\b`, `'\\'`},
		{"branch", CheckBranch, "a@{1}", "@{"},
		{"branch", CheckBranch, "@", "reserved"},
		{"branch", CheckBranch, "HEAD", "reserved"},
		{"branch", CheckBranch, "-x", "'-'"},
		{"branch", CheckBranch, "a\x00", "U+0000"},
		{"branch", CheckBranch, "a\x7f", "U+007F"},
		{"branch", CheckBranch, "a\xff", "not valid UTF-8"},
		{"branch", CheckBranch, strings.Repeat("a", 256), "limit is 255"},
		{"commit", CheckCommit, "", ""},
		{"commit", CheckCommit, "4f2a9c1", ""},
		{"commit", CheckCommit, strings.Repeat("ab", 20), ""},
		{"commit", CheckCommit, strings.Repeat("AB", 32), ""},
		{"commit", CheckCommit, "abc", "7 to 64"},
		{"commit", CheckCommit, strings.Repeat("a", 65), "7 to 64"},
		{"commit", CheckCommit, "zzzzzzz", "byte 1 is not a hexadecimal digit"},
		{"commit", CheckCommit, "abcdef\xff", "not valid UTF-8"},
		{"name", CheckName, "Create/n=100", ""},
		{"name", CheckName, "", "empty"},
		{"name", CheckName, "A B", "white space"},
		{"name", CheckName, "A\u00a0B", "white space"},
		{"name", CheckName, "A\x00", "U+0000"},
		{"name", CheckName, "A\u0085", "U+0085"},
		{"name", CheckName, "A\xc3", "not valid UTF-8 (byte 2 is 0xc3)"},
		{"unit", CheckUnit, "sec/op", ""},
		{"unit", CheckUnit, "", "empty"},
		{"unit", CheckUnit, "sec/op\x01", "U+0001"},
		{"text", func(s string) error { return CheckText(s, 4) }, "abcde", "limit is 4"},
		{"text", func(s string) error { return CheckText(s, 4) }, "a\tb", "U+0009"},
		{"config", func(s string) error { k, v, _ := strings.Cut(s, "="); return CheckConfig(k, v) }, "cpu=AMD EPYC\t(2 cores)", ""},
		{"config", func(s string) error { k, v, _ := strings.Cut(s, "="); return CheckConfig(k, v) }, "Cpu=x", "lower-case"},
		{"config", func(s string) error { k, v, _ := strings.Cut(s, "="); return CheckConfig(k, v) }, "my key=x", "space"},
		{"config", func(s string) error { k, v, _ := strings.Cut(s, "="); return CheckConfig(k, v) }, "cpu=\xff", "value of cpu is not valid UTF-8"},
		{"config", func(s string) error { k, v, _ := strings.Cut(s, "="); return CheckConfig(k, v) }, "=x", "key is empty"},
	} {
		err := tc.f(tc.in)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("for %s %q, got %v, want valid", tc.check, tc.in, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("for %s %q, got %v, want an error containing %q", tc.check, tc.in, err, tc.want)
		}
	}
	if err := CheckIters(1); err != nil {
		t.Errorf("for 1 iteration, got %v, want valid", err)
	}
	for _, n := range []int{0, -1} {
		if err := CheckIters(n); err == nil {
			t.Errorf("for %d iterations, got no error, want one", n)
		}
	}
}

// TestParseRefusesIterationsAndToleratesBOM: iteration counts below 1 are errors of their
// line; a byte-order mark before the first line is no part of it.
func TestParseRefusesIterationsAndToleratesBOM(t *testing.T) {
	set, err := Parse(strings.NewReader("\ufeffgoos: linux\ngoarch: amd64\nBenchmarkA-2 0 5 ns/op\nBenchmarkB-2 -3 5 ns/op\nBenchmarkC-2 1 5 ns/op\n"), "in")
	if err == nil || !strings.Contains(err.Error(), "in:3: iteration count 0") || !strings.Contains(err.Error(), "in:4: iteration count -3") {
		t.Errorf("for iteration counts 0 and -3, got error %v, want one per line", err)
	}
	if len(set.Results) != 1 || set.Results[0].Name != "C" || len(set.Config) != 2 || set.Config[0].Key != "goos" {
		t.Errorf("for output with a BOM, got results %+v and config %+v, want C and goos, goarch", set.Results, set.Config)
	}
}

func FuzzCheckBranch(f *testing.F) {
	for _, s := range []string{"main", "../../etc/passwd", "a\x00", "a\xff", "feature/x", "a@{1}", "x.lock"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if CheckBranch(s) != nil {
			return
		}
		if CheckText(s, MaxBranchBytes) != nil || strings.Contains(s, "..") || strings.HasPrefix(s, "/") || strings.ContainsAny(s, " ~^:?*[\\") {
			t.Fatalf("for %q, CheckBranch accepted a name git refuses", s)
		}
	})
}
