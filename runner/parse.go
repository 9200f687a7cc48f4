package runner

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchmath"
)

// Set is everything one piece of Go benchmark output holds: its config lines, its results
// grouped per benchmark and unit, the unit metadata it declared, and the benchmarks that
// failed instead of producing a row.
type Set struct {
	// Config holds the file-level `key: value` lines in first-seen order; a key that changes
	// mid-file (pkg: in a multi-package run) keeps its first value here.
	Config []ConfigLine
	// Results holds one Result per (Pkg, Name, Procs, Unit) in first-seen order, with the
	// samples of every repetition appended.
	Results []Result
	// Units holds the direction each unit declared with a `Unit … better=` line, keyed by
	// tidied unit. Units without metadata are absent.
	Units map[string]Direction
	// Failures lists benchmarks that failed, panicked or never ran (build failure, timeout).
	Failures []Failure
}

// FailureKind classifies a Failure.
type FailureKind string

const (
	// FailFailed is a benchmark that called b.Error/b.Fatal (`--- FAIL: BenchmarkX`).
	FailFailed FailureKind = "fail"
	// FailPanic is a benchmark that panicked; the rest of its package did not run.
	FailPanic FailureKind = "panic"
	// FailTimeout is a test binary killed by -timeout.
	FailTimeout FailureKind = "timeout"
	// FailBuild is a package whose tests did not compile.
	FailBuild FailureKind = "build"
	// FailExit is a test binary that reported FAIL without any more specific failure.
	FailExit FailureKind = "exit"
)

// Failure is a benchmark (or a whole package, when Name is "") that produced no result.
type Failure struct {
	// Name is the benchmark name without "Benchmark" and -GOMAXPROCS ("" for a package).
	Name string `json:"name"`
	// Pkg is the package, from the `pkg:` config line or the FAIL line ("" when unknown).
	Pkg  string      `json:"pkg,omitempty"`
	Kind FailureKind `json:"kind"`
	// Message is the first line of the reason (the b.Fatal text, the panic value).
	Message string `json:"message"`
	// File and Line locate the failure in the parsed output.
	File string `json:"file"`
	Line int    `json:"line"`
}

// String formats f as "file:line: Name: kind: message".
func (f Failure) String() string {
	name := f.Name
	if name == "" {
		name = f.Pkg
	}
	return fmt.Sprintf("%s:%d: %s: %s: %s", f.File, f.Line, name, f.Kind, f.Message)
}

// Parse reads Go benchmark output (from `go test -bench`, a test binary, benchstat input or
// a file pasted from elsewhere) and returns its Set. fileName is used in error positions.
//
// Malformed benchmark and Unit lines do not stop parsing: Parse returns the Set of
// everything it could read together with an error that joins one "file:line: message" error
// per bad line. An I/O error is returned wrapped. Empty input gives an empty Set and no
// error.
func Parse(r io.Reader, fileName string) (*Set, error) {
	if fileName == "" {
		fileName = "<stdin>"
	}
	fsc := newFailureScanner(r, fileName)
	set := &Set{}
	var errs []error
	idx := make(map[resultKey]int)
	cfgSeen := make(map[string]bool)
	br := benchfmt.NewReader(fsc, fileName)
	for br.Scan() {
		switch rec := br.Result().(type) {
		case *benchfmt.SyntaxError:
			errs = append(errs, rec)
		case *benchfmt.UnitMetadata:
			// Collected from br.Units() at the end.
		case *benchfmt.Result:
			if err := CheckIters(rec.Iters); err != nil {
				file, line := rec.Pos()
				errs = append(errs, &benchfmt.SyntaxError{FileName: file, Line: line, Msg: err.Error()})
				continue
			}
			pkg := rec.GetConfig("pkg")
			for _, c := range rec.Config {
				if c.File && !cfgSeen[c.Key] {
					cfgSeen[c.Key] = true
					set.Config = append(set.Config, ConfigLine{Key: c.Key, Value: string(c.Value)})
				}
			}
			name, procs := splitName(rec.Name.String())
			for _, v := range rec.Values {
				k := resultKey{pkg, name, procs, v.Unit}
				i, ok := idx[k]
				if !ok {
					i = len(set.Results)
					idx[k] = i
					set.Results = append(set.Results, Result{Name: name, Procs: procs, Unit: v.Unit, Pkg: pkg})
				}
				set.Results[i].Samples = append(set.Results[i].Samples, v.Value)
			}
		}
	}
	if err := br.Err(); err != nil {
		return nil, fmt.Errorf("reading benchmark output: %w", err)
	}
	set.Failures = fsc.result()
	units := br.Units()
	for k, m := range units {
		if k.Key != "better" {
			continue
		}
		if set.Units == nil {
			set.Units = make(map[string]Direction)
		}
		set.Units[k.Unit] = Direction(units.GetBetter(m.OrigUnit))
	}
	for i := range set.Results {
		set.Results[i].Better = Direction(units.GetBetter(set.Results[i].Unit))
		set.Results[i].Exact = units.GetAssumption(set.Results[i].Unit) == benchmath.AssumeExact
	}
	return set, errors.Join(errs...)
}

// resultKey identifies one Result within a Set.
type resultKey struct {
	pkg, name string
	procs     int
	unit      string
}

// splitName strips "Benchmark" (when present) and the -GOMAXPROCS suffix from a full name.
func splitName(full string) (name string, procs int) {
	full = strings.TrimPrefix(full, "Benchmark")
	i := strings.LastIndexByte(full, '-')
	if i < 0 || i == len(full)-1 {
		return full, 0
	}
	p, err := strconv.Atoi(full[i+1:])
	if err != nil || p <= 0 || full[i+1] == '+' {
		return full, 0
	}
	return full[:i], p
}

// failureScanner reads r line by line for benchfmt, recording failures as it goes and
// blanking the lines that benchfmt would misread (a benchmark line cut short by a panic), so
// line numbers in benchfmt's errors stay right. It streams: the input is never held whole.
type failureScanner struct {
	sc       *bufio.Scanner
	fileName string
	buf      []byte // the rest of the current line, newline included, not yet read
	failures []Failure
	pkg      string
	lineNo   int
	failPkg  []Failure // FAIL lines, kept only for packages without a specific failure
	pending  int       // index+1 of a failure whose message is on the next indented line
	panicked int       // index+1 of the last panic; a timeout panic names its benchmark later
}

func newFailureScanner(r io.Reader, fileName string) *failureScanner {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	return &failureScanner{sc: sc, fileName: fileName}
}

// Read implements io.Reader for benchfmt.
func (f *failureScanner) Read(p []byte) (int, error) {
	for len(f.buf) == 0 {
		if !f.sc.Scan() {
			if err := f.sc.Err(); err != nil {
				return 0, fmt.Errorf("%s:%d: %w", f.fileName, f.lineNo+1, err)
			}
			return 0, io.EOF
		}
		f.lineNo++
		line := f.sc.Bytes()
		if f.lineNo == 1 {
			// A UTF-8 byte-order mark (an editor's, PowerShell's) is no part of the text.
			line = bytes.TrimPrefix(line, []byte("\uFEFF"))
		}
		if f.line(string(line)) {
			line = nil
		}
		f.buf = append(append(f.buf[:0], line...), '\n')
	}
	n := copy(p, f.buf)
	f.buf = f.buf[n:]
	return n, nil
}

func (f *failureScanner) add(fl Failure) int {
	fl.File, fl.Line = f.fileName, f.lineNo
	if fl.Pkg == "" {
		fl.Pkg = f.pkg
	}
	f.failures = append(f.failures, fl)
	return len(f.failures)
}

// line records what line says about failures and reports whether to blank it.
func (f *failureScanner) line(line string) (blank bool) {
	trimmed := strings.TrimSpace(line)
	switch {
	case f.pending > 0 && f.failures[f.pending-1].Message == "" && strings.HasPrefix(line, "    ") && trimmed != "":
		f.failures[f.pending-1].Message = trimmed
		f.pending = 0
	case strings.HasPrefix(line, "pkg: "):
		f.pkg = strings.TrimSpace(line[len("pkg: "):])
	case strings.HasPrefix(trimmed, "--- FAIL: Benchmark"):
		name, _ := splitName(strings.Fields(trimmed)[2])
		f.pending = f.add(Failure{Name: name, Kind: FailFailed})
	case strings.HasPrefix(line, "Benchmark") && strings.Contains(line, "panic: "):
		full := strings.Fields(line)[0]
		name, _ := splitName(full)
		msg := strings.TrimSpace(line[strings.Index(line, "panic: ")+len("panic: "):])
		f.panicked = f.add(Failure{Name: name, Kind: FailPanic, Message: msg})
		f.pending = 0
		blank = true
	case strings.HasPrefix(line, "panic: test timed out"):
		f.panicked = f.add(Failure{Kind: FailTimeout, Message: strings.TrimPrefix(line, "panic: ")})
	case strings.HasPrefix(line, "panic: "):
		if f.panicked == 0 { // a second panic line is the first one re-raised
			f.panicked = f.add(Failure{Kind: FailPanic, Message: strings.TrimPrefix(line, "panic: ")})
		}
	case f.panicked > 0 && f.failures[f.panicked-1].Kind == FailTimeout && f.failures[f.panicked-1].Name == "" &&
		strings.HasPrefix(trimmed, "Benchmark") && strings.HasSuffix(trimmed, ")"):
		// "running tests:" lists the benchmark that hung: "BenchmarkX (10m0s)".
		f.failures[f.panicked-1].Name, _ = splitName(strings.Fields(trimmed)[0])
	case strings.HasPrefix(line, "FAIL\t") || strings.HasPrefix(line, "FAIL "):
		fs := strings.Fields(line)
		if len(fs) >= 2 {
			kind := FailExit
			if strings.Contains(line, "[build failed]") || strings.Contains(line, "[setup failed]") {
				kind = FailBuild
			}
			f.failPkg = append(f.failPkg, Failure{Pkg: fs[1], Kind: kind, Message: strings.TrimSpace(line), File: f.fileName, Line: f.lineNo})
		}
		f.panicked, f.pending = 0, 0
	}
	return blank
}

// result returns the failures of the whole input (call it after reading to EOF).
func (f *failureScanner) result() []Failure {
	failures := f.failures
	for _, fp := range f.failPkg {
		covered := false
		for _, fl := range failures {
			if fl.Pkg == fp.Pkg || (fl.Pkg == "" && fp.Kind != FailBuild) {
				covered = true
				break
			}
		}
		if !covered {
			failures = append(failures, fp)
		}
	}
	return dropParents(failures)
}

// dropParents removes a `--- FAIL: BenchmarkX` when a sub-benchmark BenchmarkX/… also
// failed: the parent fails only because its child did.
func dropParents(fs []Failure) []Failure {
	out := fs[:0]
	for i, f := range fs {
		parent := false
		if f.Kind == FailFailed && f.Message == "" {
			for j, g := range fs {
				if j != i && strings.HasPrefix(g.Name, f.Name+"/") {
					parent = true
					break
				}
			}
		}
		if !parent {
			out = append(out, f)
		}
	}
	return out
}

// SetUnits sets the direction of every result whose unit is a key of units (tidied units,
// e.g. from the project file), overriding `Unit … better=` metadata and the defaults.
func (s *Set) SetUnits(units map[string]Direction) {
	for i := range s.Results {
		if d, ok := units[s.Results[i].Unit]; ok {
			s.Results[i].Better = d
		}
	}
}
