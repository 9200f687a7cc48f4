package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// This file builds test binaries whose testing package tells callgrind where each
// benchmark's timer starts and stops, for instruction counting (instructions.go).
//
// callgrind can dump its counts on entry to a named function (--dump-before), but with Go
// that misses calls: on a goroutine's fresh stack its call tracking loses the first calls
// (testing.(*B).runN, run1 and Run were each missed in a trial of the quick suite), so the
// dumps cannot be attributed to benchmarks. Instead the build overlays the standard testing
// package (`go test -c -overlay`) with a copy whose StartTimer, StopTimer, ResetTimer and
// runN make a callgrind client request — CALLGRIND_DUMP_STATS_AT with "benchd K N NAME" as
// its description — exactly where the timer changes state. Outside valgrind a client request
// is a few no-op instructions, and the marking allocates nothing (allocs/op stay exact).
//
// Note: written here because nothing in the Go ecosystem does it; valgrind.h's client request
// is a fixed instruction sequence (its "special instruction preamble") that valgrind
// recognises, reproduced in the assembly below for amd64.

// benchdMarkGo is added to package testing.
const benchdMarkGo = `// Code added by benchd (runner/instrument.go) for ` + "`benchd run --measure instructions`" + `.

package testing

import "unsafe"

// benchdClientRequest executes the valgrind client request in args; a no-op outside valgrind.
func benchdClientRequest(args *[6]uintptr) uintptr

var (
	benchdDesc [512]byte
	benchdArgs [6]uintptr
)

// benchdMark asks callgrind to dump its counts (and zero them), described as
// "benchd KIND b.N NAME". It allocates nothing.
func benchdMark(b *B, kind byte) {
	p := copy(benchdDesc[:], "benchd ")
	benchdDesc[p], benchdDesc[p+1] = kind, ' '
	p += 2
	var d [20]byte
	i := len(d)
	for u := uint64(b.N); ; u /= 10 {
		i--
		d[i] = byte('0' + u%10)
		if u < 10 {
			break
		}
	}
	p += copy(benchdDesc[p:], d[i:])
	benchdDesc[p] = ' '
	p++
	p += copy(benchdDesc[p:len(benchdDesc)-1], b.name)
	benchdDesc[p] = 0
	// CALLGRIND_DUMP_STATS_AT: VG_USERREQ_TOOL_BASE('C','T') + 3.
	benchdArgs = [6]uintptr{0x43540003, uintptr(unsafe.Pointer(&benchdDesc[0]))}
	benchdClientRequest(&benchdArgs)
}
`

// benchdMarkAMD64 is valgrind.h's VALGRIND_DO_CLIENT_REQUEST for amd64: the preamble of four
// rotations of RDI (128 bits in all: no change), then xchg rbx,rbx; RAX points at the
// request, RDX holds the default result and receives valgrind's.
const benchdMarkAMD64 = `// Code added by benchd (runner/instrument.go).

#include "textflag.h"

// func benchdClientRequest(args *[6]uintptr) uintptr
TEXT ·benchdClientRequest(SB), NOSPLIT, $0-16
	MOVQ args+0(FP), AX
	MOVQ $0, DX
	ROLQ $3, DI
	ROLQ $13, DI
	ROLQ $61, DI
	ROLQ $51, DI
	XCHGQ BX, BX
	MOVQ DX, ret+8(FP)
	RET
`

// markBenchmarkSource inserts the benchdMark calls into the testing package's benchmark.go:
// at the end of StartTimer's "timer was off" branch (after its ReadMemStats, so that is not
// counted), at the start of StopTimer's "timer was on" branch (before its ReadMemStats), at
// the end of ResetTimer, and after the StopTimer that ends a run in runN.
func markBenchmarkSource(src string) (string, error) {
	type edit struct {
		fn, anchor, insert string
		before             bool // insert before the anchor, not after
	}
	for _, e := range []edit{
		{"func (b *B) StartTimer() {", "\t\tb.timerOn = true\n", "\t\tbenchdMark(b, 's')\n", false},
		{"func (b *B) StopTimer() {", "\tif b.timerOn {\n", "\t\tbenchdMark(b, 'p')\n", false},
		{"func (b *B) ResetTimer() {", "\n}\n", "\n\tbenchdMark(b, 'r')", true},
		{"func (b *B) runN(n int) {", "\tb.benchFunc(b)\n\tb.StopTimer()\n", "\tbenchdMark(b, 'e')\n", false},
	} {
		i := strings.Index(src, e.fn)
		if i < 0 {
			return "", fmt.Errorf("no %q", e.fn)
		}
		end := len(src)
		if k := strings.Index(src[i+len(e.fn):], "\nfunc "); k >= 0 {
			end = i + len(e.fn) + k + 1
		}
		j := strings.Index(src[i:end], e.anchor)
		if j < 0 {
			return "", fmt.Errorf("no %q in %s", strings.TrimSpace(e.anchor), e.fn)
		}
		at := i + j
		if !e.before {
			at += len(e.anchor)
		}
		src = src[:at] + e.insert + src[at:]
	}
	return src, nil
}

// instrumentTesting writes, under dir, an overlay of the standard testing package of the Go
// that builds in root (go env GOROOT, GOARCH), and returns the overlay file for
// `go test -c -overlay`.
func instrumentTesting(ctx context.Context, goCmd, root, dir string) (string, error) {
	cmd := exec.CommandContext(ctx, goCmd, "env", "GOROOT", "GOARCH")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("instruction counting: go env: %w", err)
	}
	f := strings.Fields(string(out))
	if len(f) != 2 {
		return "", fmt.Errorf("instruction counting: go env GOROOT GOARCH printed %q", out)
	}
	goroot, goarch := f[0], f[1]
	if goarch != "amd64" {
		return "", fmt.Errorf("instruction counting works on amd64 only (this Go builds for %s)", goarch)
	}
	testing := filepath.Join(goroot, "src", "testing")
	src, err := os.ReadFile(filepath.Join(testing, "benchmark.go"))
	if err != nil {
		return "", fmt.Errorf("instruction counting: reading the testing package: %w", err)
	}
	marked, err := markBenchmarkSource(string(src))
	if err != nil {
		return "", fmt.Errorf("instruction counting: the testing package of the Go in %s is not one benchd can instrument: %w", goroot, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	files := map[string]string{"benchmark.go": marked, "zz_benchd_mark.go": benchdMarkGo, "zz_benchd_mark_amd64.s": benchdMarkAMD64}
	replace := map[string]string{}
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			return "", err
		}
		replace[filepath.Join(testing, name)] = p
	}
	j, err := json.Marshal(map[string]any{"Replace": replace})
	if err != nil {
		return "", err
	}
	overlay := filepath.Join(dir, "overlay.json")
	return overlay, os.WriteFile(overlay, append(j, '\n'), 0o644)
}

// buildArgs are the `go test -c` arguments that build s's test binary for cfg.
func buildArgs(ctx context.Context, cfg RunConfig, s *side) ([]string, error) {
	args := []string{"test", "-c", "-o", s.binary}
	if cfg.Measure == MeasureInstructions {
		overlay, err := instrumentTesting(ctx, cfg.Go, s.root, s.binary+".overlay")
		if err != nil {
			return nil, err
		}
		args = append(args, "-overlay", overlay)
	}
	return append(args, cfg.Package), nil
}
