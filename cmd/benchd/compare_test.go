package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/benchd/benchd/runner"
)

// TestCompareStreamsAsSets checks that the streaming `benchd compare` writes, exits and
// complains exactly as the Set-based pipeline it replaced (compareSets), for every format and
// for failures, bad values, syntax errors and stdin.
func TestCompareStreamsAsSets(t *testing.T) {
	dir := t.TempDir()
	big := func(name string, n int, factor float64) string {
		path := filepath.Join(dir, name)
		writeBigOutput(t, path, n, factor)
		return path
	}
	oldBig, newBig := big("old.txt", 2000, 1), big("new.txt", 2000, 1.2)
	stdin, err := os.ReadFile("testdata/old.txt")
	if err != nil {
		t.Fatal(err)
	}
	cases := [][]string{
		{"testdata/old.txt", "testdata/new.txt"},
		{"testdata/old.txt", "testdata/old.txt"},
		{"--paired", "testdata/old.txt", "testdata/new.txt"},
		{"--fail-on", "never", "testdata/new.txt", "testdata/old.txt"},
		{"testdata/old.txt", "testdata/post.txt"},
		{"testdata/bad.txt", "testdata/new.txt"},
		{"testdata/old.txt", "testdata/values_nan.txt"},
		{"testdata/values_negative.txt", "testdata/new.txt"},
		{"testdata/missing.txt", "testdata/new.txt"},
		{"-", "testdata/new.txt"},
		{oldBig, newBig},
	}
	for _, args := range cases {
		for _, format := range []string{"text", "json", "markdown", "gobench"} {
			a := append([]string{"--format", format}, args...)
			gotOut, gotErr, gotCode := invokeCmd(t, cmdCompare, string(stdin), nil, a...)
			wantOut, wantErr, wantCode := invokeCmd(t, compareSets, string(stdin), nil, a...)
			if gotOut != wantOut {
				t.Errorf("for %v, got stdout:\n%s\nwant:\n%s", a, gotOut, wantOut)
			}
			if gotErr != wantErr || gotCode != wantCode {
				t.Errorf("for %v, got exit %d %q, want exit %d %q", a, gotCode, gotErr, wantCode, wantErr)
			}
		}
	}
}

// TestCompareMemory measures `benchd compare` of two files of BENCHD_COMPARE_N benchmarks
// (3 results each) as a built binary, reporting its peak RSS and wall time: an opt-in
// harness for the issue-12 figure (BENCHD_COMPARE_N=1000000, target ≤ 500 MB), skipped
// unless the variable is set. It asserts nothing about time. BENCHD_COMPARE_BIN compares
// another binary (e.g. one built from main) on the same files.
func TestCompareMemory(t *testing.T) {
	v := os.Getenv("BENCHD_COMPARE_N")
	if v == "" {
		t.Skip("set BENCHD_COMPARE_N (e.g. 1000000) to measure compare's peak memory")
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("BENCHD_COMPARE_N=%q: want a positive integer", v)
	}
	dir := t.TempDir()
	bin := os.Getenv("BENCHD_COMPARE_BIN")
	if bin == "" {
		bin = filepath.Join(dir, "benchd")
		if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
			t.Fatalf("building benchd: %v\n%s", err, out)
		}
	}
	oldPath, newPath := filepath.Join(dir, "old.txt"), filepath.Join(dir, "new.txt")
	writeBigOutput(t, oldPath, n, 1)
	writeBigOutput(t, newPath, n, 1.02)
	for _, format := range []string{"text", "json", "markdown"} {
		cmd := exec.Command("/usr/bin/time", "-f", "maxrss_kb=%M", bin, "compare", "--format", format, oldPath, newPath)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		start := time.Now()
		err := cmd.Run()
		wall := time.Since(start)
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("running %v: %v", cmd.Args, err)
		}
		m := regexp.MustCompile(`maxrss_kb=(\d+)`).FindStringSubmatch(stderr.String())
		if m == nil {
			t.Fatalf("no peak RSS in %q", stderr.String())
		}
		kb, _ := strconv.Atoi(m[1])
		mb := float64(kb) / 1024
		t.Logf("n=%d format=%s: peak RSS %.0f MB, wall %s", n, format, mb, wall.Round(100*time.Millisecond))
		if mb > 500 {
			t.Errorf("for n=%d format=%s, got peak RSS %.0f MB, want ≤ 500 MB", n, format, mb)
		}
	}
}

// compareSets is the Set-based `benchd compare` that the streaming one replaced, kept as the
// oracle of TestCompareStreamsAsSets: both files parsed whole (runner.Parse, CheckValues),
// then buildReport and writeReport.
func compareSets(ctx context.Context, args []string, env *environ) error {
	c, err := parseCompare(args, env)
	if c == nil || err != nil {
		return err
	}
	var sets [2]*runner.Set
	for i, name := range []string{c.old, c.new} {
		set, err := readSet(name, env)
		if err != nil {
			return err
		}
		sets[i] = set
	}
	if c.format == "gobench" {
		return runner.WriteGoBench(env.stdout, sets[1])
	}
	rep, err := buildReport(c.proj, sets[0], sets[1], c.old, c.new, c.paired)
	if err != nil {
		return err
	}
	if err := writeReport(env, c.format, rep); err != nil {
		return err
	}
	if len(sets[1].Failures) > 0 {
		return &exitError{code: 2, err: fmt.Errorf("%s: %d benchmark(s) failed", c.new, len(sets[1].Failures))}
	}
	return failOn(c.failOn, rep.Status())
}

// readSet parses the Go benchmark file name ("-" = stdin). Syntax errors are exit-2
// errors naming file and line.
func readSet(name string, env *environ) (*runner.Set, error) {
	var b []byte
	var err error
	if name == "-" {
		name = "<stdin>"
		b, err = io.ReadAll(env.stdin)
	} else {
		b, err = os.ReadFile(name)
	}
	if err != nil {
		return nil, &exitError{code: 2, err: fmt.Errorf("reading benchmark file: %w", err)}
	}
	set, err := runner.Parse(bytes.NewReader(b), name)
	if err != nil {
		return nil, &exitError{code: 2, err: err}
	}
	// NaN, ±Inf and negative values are refused, as the server refuses them.
	if err := runner.CheckValues(b, name); err != nil {
		return nil, &exitError{code: 2, err: err}
	}
	if len(set.Results) == 0 && len(set.Failures) == 0 {
		return nil, &exitError{code: 2, err: fmt.Errorf("%s: no benchmark results", name)}
	}
	return set, nil
}
