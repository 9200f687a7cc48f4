package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// writeBigOutput writes Go benchmark output of n benchmarks, one line each in sec/op, B/op
// and allocs/op (3n results), slower by factor than the base.
func writeBigOutput(tb testing.TB, path string, n int, factor float64) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintf(w, "goos: linux\ngoarch: amd64\npkg: example.com/big\ncpu: test\n")
	for i := range n {
		fmt.Fprintf(w, "BenchmarkB%07d-2 \t 1000\t %d ns/op\t 56 B/op\t 2 allocs/op\n", i, int(float64(1000+i%5000+i%7)*factor))
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	f.Close()
}

// BenchmarkCompare runs `benchd compare OLD NEW` on two files of n benchmarks (3n results)
// in process, writing the table to io.Discard. The issue-12 figure is n=1000000: set
// BENCHD_COMPARE_N=1000000 (default 10000), and measure the peak memory of the built binary
// with `/usr/bin/time -v benchd compare old.txt new.txt` on the files this writes to
// BENCHD_COMPARE_DIR when set (see docs/development.md).
func BenchmarkCompare(b *testing.B) {
	n := 10000
	if v := os.Getenv("BENCHD_COMPARE_N"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("BENCHD_COMPARE_N=%q: want a positive integer", v)
		}
	}
	dir := os.Getenv("BENCHD_COMPARE_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	oldPath, newPath := filepath.Join(dir, "old.txt"), filepath.Join(dir, "new.txt")
	writeBigOutput(b, oldPath, n, 1)
	writeBigOutput(b, newPath, n, 1.02)
	b.Run("n="+strconv.Itoa(n), func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			env := &environ{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }}
			if err := run(context.Background(), []string{"compare", "--format", "text", oldPath, newPath}, env); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(3*n), "results/op")
	})
}
