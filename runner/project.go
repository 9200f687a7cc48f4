package runner

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	"golang.org/x/perf/benchunit"
)

// Project is a project file (benchd.yaml): its suites, unit directions, comparison settings
// and thresholds. Changing any of them never needs a code change.
type Project struct {
	// File is the path the project was loaded from ("" for DefaultProject).
	File string
	// Suites by name.
	Suites map[string]Suite
	// Units gives the direction of units by tidied unit, overriding `Unit … better=` lines.
	Units map[string]Direction
	// Options are the comparison settings (alpha, minimum effect, wide-CI warning).
	Options Options
	// Unpaired turns the paired test off for interleaved runs (`compare: paired: false`):
	// `run --against` then judges with the U test like a stored baseline. Default false:
	// interleaved samples are compared paired (Options.Paired).
	Unpaired bool
	// Thresholds are the rules; DefaultThresholds when the file has no thresholds key.
	Thresholds []Threshold
	// Baselines is the directory of the local baseline store, relative to the project
	// file's directory. Default ".benchd/baselines".
	Baselines string
}

// Suite is one named set of benchmarks: what `go test` runs.
type Suite struct {
	Name string
	// Package is the package pattern to benchmark, relative to the project root
	// ("./sessioncore").
	Package string
	// Bench is the -bench regular expression. Default ".".
	Bench string
	// Count is the number of samples per benchmark (-count). Default 6.
	Count int
	// Benchtime is the -benchtime value ("100ms" or "1000x"). Default "" (go test's 1s).
	Benchtime string
	// Timeout is the -timeout of each test binary run. Default 10m.
	Timeout time.Duration
	// Against is how `run --against` samples (paired); its zero fields take the suite's.
	Against Sampling
	// Measure is what a sample measures: MeasureTime (default) or MeasureInstructions
	// (callgrind's instruction counts, for `run`, `run --against` and the worker alike;
	// `benchd run --measure` overrides it).
	Measure string
	// Instructions is how instruction counts are sampled (Count, Benchtime of valgrind's
	// clock); its zero fields take the defaults: 6 turns a side of 20ms. Turns run in
	// parallel, one per CPU, with or without a ref to compare with.
	Instructions Sampling
}

// Sampling is how a suite's samples are taken (RunConfig's fields of the same names).
type Sampling struct {
	// Interleave is "turn" or "benchmark". Default "" (turn).
	Interleave string
	// Count is the number of samples (pairs with --against) per benchmark. Default: the
	// suite's count.
	Count int
	// Benchtime is the -benchtime of one sample. Default: the suite's benchtime.
	Benchtime string
	// Budget keeps sampling after Count until the sampling has lasted this long
	// (InterleaveBenchmark only). Default 0: Count samples.
	Budget time.Duration
}

// DefaultProject is the project used when there is no project file: no suites, the
// default thresholds, sessions/s and calls/s higher-better, B/session and instructions/op
// lower-better.
func DefaultProject() *Project {
	return &Project{
		Suites:     map[string]Suite{},
		Units:      map[string]Direction{"sessions/s": HigherBetter, "calls/s": HigherBetter, "B/session": LowerBetter, InstructionsUnit: LowerBetter},
		Options:    Options{}.withDefaults(),
		Thresholds: DefaultThresholds(),
		Baselines:  ".benchd/baselines",
	}
}

// SuiteNames returns the names of p's suites, sorted.
func (p *Project) SuiteNames() []string {
	names := make([]string, 0, len(p.Suites))
	for n := range p.Suites {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// projectFile is the YAML shape of a project file.
type projectFile struct {
	Version   int                  `yaml:"version"`
	Baselines string               `yaml:"baselines"`
	Compare   compareFile          `yaml:"compare"`
	Units     map[string]string    `yaml:"units"`
	Suites    map[string]suiteFile `yaml:"suites"`
	// Thresholds is a pointer so that an absent key (defaults) differs from an empty list.
	Thresholds *[]thresholdFile `yaml:"thresholds"`
}

type compareFile struct {
	Alpha     float64 `yaml:"alpha"`
	MinEffect float64 `yaml:"min_effect"` // percent
	WideCI    float64 `yaml:"wide_ci"`    // percent
	Paired    *bool   `yaml:"paired"`     // default true
}

type suiteFile struct {
	Package   string `yaml:"package"`
	Bench     string `yaml:"bench"`
	Count     int    `yaml:"count"`
	Benchtime string `yaml:"benchtime"`
	Timeout   string `yaml:"timeout"`
	// Against is the sampling of `run --against`.
	Against samplingFile `yaml:"against"`
	// Measure is time or instructions; Instructions the sampling of instruction counts.
	Measure      string       `yaml:"measure"`
	Instructions samplingFile `yaml:"instructions"`
}

type samplingFile struct {
	Interleave string `yaml:"interleave"` // turn|benchmark
	Count      int    `yaml:"count"`
	Benchtime  string `yaml:"benchtime"`
	Budget     string `yaml:"budget"` // a duration
}

type thresholdFile struct {
	Benchmark string  `yaml:"benchmark"`
	Unit      string  `yaml:"unit"`
	Kind      string  `yaml:"kind"`
	Warn      float64 `yaml:"warn"`
	Note      string  `yaml:"note"`
}

// LoadProject reads and validates the project file at path. Unknown keys and bad values are
// errors of the form "path:line: message".
func LoadProject(path string) (*Project, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading project file: %w", err)
	}
	return ParseProject(data, path)
}

var (
	yamlLine = regexp.MustCompile(`line (\d+): `)
	yamlType = regexp.MustCompile(` in type runner\.\w+`)
)

// ParseProject parses and validates project file data; path is used in error positions.
func ParseProject(data []byte, path string) (*Project, error) {
	var pf projectFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&pf); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			msgs := make([]string, len(te.Errors))
			for i, m := range te.Errors {
				m = yamlType.ReplaceAllString(m, "")
				msgs[i] = path + ":" + yamlLine.ReplaceAllString(m, "$1: ")
			}
			return nil, errors.New(strings.Join(msgs, "\n"))
		}
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if m := yamlLine.FindStringSubmatchIndex(msg); m != nil {
			return nil, fmt.Errorf("%s:%s: %s", path, msg[m[2]:m[3]], msg[m[1]:])
		}
		return nil, fmt.Errorf("%s: %s", path, msg)
	}
	var root yaml.Node
	_ = yaml.Unmarshal(data, &root) // it decoded above, so it parses
	at := func(keys ...any) string { return fmt.Sprintf("%s:%d", path, lineOf(&root, keys...)) }

	p := DefaultProject()
	p.File = path
	if pf.Version != 0 && pf.Version != 1 {
		return nil, fmt.Errorf("%s: unsupported version %d (want 1)", at("version"), pf.Version)
	}
	if pf.Baselines != "" {
		p.Baselines = pf.Baselines
	}
	if c := pf.Compare; c.Alpha != 0 || c.MinEffect != 0 || c.WideCI != 0 {
		if c.Alpha < 0 || c.Alpha >= 1 {
			return nil, fmt.Errorf("%s: alpha %g out of range (0, 1)", at("compare", "alpha"), c.Alpha)
		}
		if c.MinEffect < 0 || c.WideCI < 0 {
			return nil, fmt.Errorf("%s: min_effect and wide_ci are percentages ≥ 0", at("compare"))
		}
		p.Options = Options{Alpha: c.Alpha, MinEffect: c.MinEffect / 100, WideCI: c.WideCI / 100}.withDefaults()
	}
	if pf.Compare.Paired != nil {
		p.Unpaired = !*pf.Compare.Paired
	}
	for u, d := range pf.Units {
		dir, ok := ParseDirection(d)
		if !ok {
			return nil, fmt.Errorf("%s: unit %s: direction %q (want higher or lower)", at("units", u), u, d)
		}
		_, tidy := benchunit.Tidy(1, u)
		p.Units[tidy] = dir
	}
	for name, sf := range pf.Suites {
		s := Suite{Name: name, Package: sf.Package, Bench: sf.Bench, Count: sf.Count, Benchtime: sf.Benchtime, Timeout: 10 * time.Minute}
		ag := sf.Against
		s.Against = Sampling{Interleave: ag.Interleave, Count: ag.Count, Benchtime: ag.Benchtime}
		if err := CheckInterleave(ag.Interleave); err != nil {
			return nil, fmt.Errorf("%s: suite %s: against: %w", at("suites", name, "against", "interleave"), name, err)
		}
		if ag.Count < 0 {
			return nil, fmt.Errorf("%s: suite %s: against: count %d must be ≥ 1", at("suites", name, "against", "count"), name, ag.Count)
		}
		if err := CheckBenchtime(ag.Benchtime); err != nil {
			return nil, fmt.Errorf("%s: suite %s: against: %w", at("suites", name, "against", "benchtime"), name, err)
		}
		if ag.Budget != "" {
			d, err := time.ParseDuration(ag.Budget)
			if err != nil || d < 0 {
				return nil, fmt.Errorf("%s: suite %s: against: budget %q is not a duration ≥ 0", at("suites", name, "against", "budget"), name, ag.Budget)
			}
			s.Against.Budget = d
		}
		if err := CheckMeasure(sf.Measure); err != nil {
			return nil, fmt.Errorf("%s: suite %s: %w", at("suites", name, "measure"), name, err)
		}
		s.Measure = sf.Measure
		in := sf.Instructions
		if in.Interleave != "" || in.Budget != "" {
			key := "interleave"
			if in.Budget != "" {
				key = "budget"
			}
			return nil, fmt.Errorf("%s: suite %s: instructions: only count and benchtime apply (instruction counts are taken by turn, in parallel)", at("suites", name, "instructions", key), name)
		}
		if in.Count < 0 {
			return nil, fmt.Errorf("%s: suite %s: instructions: count %d must be ≥ 1", at("suites", name, "instructions", "count"), name, in.Count)
		}
		if err := CheckBenchtime(in.Benchtime); err != nil {
			return nil, fmt.Errorf("%s: suite %s: instructions: %w", at("suites", name, "instructions", "benchtime"), name, err)
		}
		s.Instructions = Sampling{Count: in.Count, Benchtime: in.Benchtime}
		if s.Package == "" {
			return nil, fmt.Errorf("%s: suite %s: package is required", at("suites", name), name)
		}
		if s.Bench == "" {
			s.Bench = "."
		}
		if _, err := regexp.Compile(s.Bench); err != nil {
			return nil, fmt.Errorf("%s: suite %s: bench: %w", at("suites", name, "bench"), name, err)
		}
		if s.Count == 0 {
			s.Count = 6
		}
		if s.Count < 1 {
			return nil, fmt.Errorf("%s: suite %s: count %d must be ≥ 1", at("suites", name, "count"), name, s.Count)
		}
		if err := CheckBenchtime(s.Benchtime); err != nil {
			return nil, fmt.Errorf("%s: suite %s: %w", at("suites", name, "benchtime"), name, err)
		}
		if sf.Timeout != "" {
			d, err := time.ParseDuration(sf.Timeout)
			if err != nil || d <= 0 {
				return nil, fmt.Errorf("%s: suite %s: timeout %q is not a positive duration", at("suites", name, "timeout"), name, sf.Timeout)
			}
			s.Timeout = d
		}
		p.Suites[name] = s
	}
	if pf.Thresholds != nil {
		p.Thresholds = nil
		for i, tf := range *pf.Thresholds {
			th := Threshold{Benchmark: tf.Benchmark, Unit: tf.Unit, Kind: ThresholdKind(tf.Kind), Warn: tf.Warn, Note: tf.Note}
			if th.Benchmark == "" {
				th.Benchmark = ".*"
			}
			if th.Unit != "" && (th.Kind == KindUpper || th.Kind == KindLower) {
				// Limits written in ns/op or MB/s are compared with tidied values.
				th.Warn, th.Unit = benchunit.Tidy(th.Warn, th.Unit)
			} else if th.Unit != "" {
				_, th.Unit = benchunit.Tidy(1, th.Unit)
			}
			if _, err := compileThreshold(th); err != nil {
				return nil, fmt.Errorf("%s: %w", at("thresholds", i), err)
			}
			if (th.Kind == KindScaling || th.Kind == KindRegression) && th.Warn <= 0 {
				return nil, fmt.Errorf("%s: a %s threshold needs warn > 0", at("thresholds", i, "warn"), th.Kind)
			}
			p.Thresholds = append(p.Thresholds, th)
		}
	}
	return p, nil
}

// lineOf returns the line of the node at keys (map keys as strings, sequence indexes as
// ints) under root, or of the deepest node found on the way.
func lineOf(root *yaml.Node, keys ...any) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, k := range keys {
		var next *yaml.Node
		switch k := k.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == k {
						line = n.Content[i].Line
						next = n.Content[i+1]
						break
					}
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && k < len(n.Content) {
				next = n.Content[k]
				line = next.Line
			}
		}
		if next == nil {
			break
		}
		n = next
	}
	return line
}

// CheckBenchtime returns an error unless s is "", a positive duration ("100ms") or a
// positive iteration count ("1000x"), the forms `go test -benchtime` accepts.
func CheckBenchtime(s string) error {
	if s == "" {
		return nil
	}
	if n, ok := strings.CutSuffix(s, "x"); ok {
		if v, err := strconv.Atoi(n); err == nil && v > 0 {
			return nil
		}
		return fmt.Errorf("benchtime %q: want a positive count such as 1000x", s)
	}
	if d, err := time.ParseDuration(s); err != nil || d <= 0 {
		return fmt.Errorf("benchtime %q: want a positive duration such as 100ms or a count such as 1000x", s)
	}
	return nil
}

// RunConfig returns the configuration that runs s in dir: its package, benchmarks, count,
// benchtime and timeout; with against (a git ref), also s.Against's sampling (the paired,
// interleaved design `run --against` uses) over the suite's. Compare such a run's Old and New
// with Options.Paired set.
func (s Suite) RunConfig(dir, against string) RunConfig {
	return s.RunConfigMeasuring(dir, against, s.Measure)
}

// RunConfigMeasuring is RunConfig with what a sample measures chosen by the caller
// (`benchd run --measure`): with MeasureInstructions, s.Instructions' sampling (default 6
// turns a side of 20ms), with or without against.
func (s Suite) RunConfigMeasuring(dir, against, measure string) RunConfig {
	cfg := RunConfig{Dir: dir, Package: s.Package, Bench: s.Bench, Count: s.Count, Benchtime: s.Benchtime,
		Timeout: s.Timeout, Against: against, Measure: measure}
	if measure == MeasureInstructions {
		cfg.Count, cfg.Benchtime = cmp.Or(s.Instructions.Count, 6), cmp.Or(s.Instructions.Benchtime, "20ms")
		return cfg
	}
	if against != "" {
		a := s.Against
		cfg.Interleave, cfg.Budget = a.Interleave, a.Budget
		if a.Count > 0 {
			cfg.Count = a.Count
		}
		if a.Benchtime != "" {
			cfg.Benchtime = a.Benchtime
		}
	}
	return cfg
}
