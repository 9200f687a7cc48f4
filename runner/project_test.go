package runner

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestLoadProjectRepoFile(t *testing.T) {
	p, err := LoadProject("../benchd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := p.SuiteNames(); !reflect.DeepEqual(got, []string{"full", "pg", "quick"}) {
		t.Errorf("got suites %v, want full pg quick", got)
	}
	q := p.Suites["quick"]
	if q.Package != "./sessioncore" || q.Count != 6 || q.Benchtime != "100ms" {
		t.Errorf("got quick %+v", q)
	}
	// The quick suite counts instructions (6 turns a side of 200 ms under valgrind), with or
	// without --against; --measure time takes the against: sampling.
	if c := q.RunConfig(".", "main"); c.Measure != MeasureInstructions || c.Count != 6 || c.Benchtime != "200ms" {
		t.Errorf("quick --against main: got measure %q, count %d, benchtime %q; want instructions, 6, 200ms", c.Measure, c.Count, c.Benchtime)
	}
	if c := q.RunConfigMeasuring(".", "main", MeasureTime); c.Interleave != InterleaveBenchmark || c.Count != 10 {
		t.Errorf("quick --against main --measure time: got interleave %q, count %d; want benchmark, 10", c.Interleave, c.Count)
	}
	// The repository's file states the defaults explicitly: same rules, limits tidied.
	def := DefaultThresholds()
	if len(p.Thresholds) != len(def) {
		t.Fatalf("got %d thresholds, want the %d defaults", len(p.Thresholds), len(def))
	}
	for i := range def {
		g, w := p.Thresholds[i], def[i]
		if g.Benchmark != w.Benchmark || g.Unit != w.Unit || g.Kind != w.Kind || math.Abs(g.Warn-w.Warn) > 1e-9*math.Abs(w.Warn) {
			t.Errorf("threshold %d: got %+v, want %+v", i+1, g, w)
		}
	}
	if p.Units["sessions/s"] != HigherBetter || p.Options.MinEffect != 0.05 {
		t.Errorf("got units %v options %+v", p.Units, p.Options)
	}
}

func TestLoadProjectErrors(t *testing.T) {
	for file, want := range map[string]string{
		"bad_key.yaml":          "bad_key.yaml:5: field bnech not found",
		"bad_kind.yaml":         `bad_kind.yaml:4: unknown kind "upperr"`,
		"bad_regexp.yaml":       "bad_regexp.yaml:4: suite quick: bench: error parsing regexp",
		"bad_type.yaml":         "bad_type.yaml:4: cannot unmarshal !!str `many`",
		"bad_direction.yaml":    `bad_direction.yaml:2: unit sessions/s: direction "up"`,
		"bad_benchtime.yaml":    `bad_benchtime.yaml:5: suite quick: benchtime "10 s"`,
		"bad_measure.yaml":      `bad_measure.yaml:5: suite quick: measure "cycles": want time or instructions`,
		"bad_instructions.yaml": "bad_instructions.yaml:7: suite quick: instructions: only count and benchtime apply",
	} {
		_, err := LoadProject("testdata/project/" + file)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("for %s, got error %v, want it to contain %q", file, err, want)
		}
	}
}

func FuzzParseProject(f *testing.F) {
	files, _ := filepath.Glob("testdata/project/*.yaml")
	files = append(files, "../benchd.yaml")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseProject(data, "fuzz.yaml")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yaml") {
				t.Fatalf("error without the file name: %v", err)
			}
			return
		}
		if _, err := NewRules(p.Thresholds); err != nil {
			t.Fatalf("accepted thresholds that do not compile: %v", err)
		}
		for name, s := range p.Suites {
			if s.Count < 1 || s.Package == "" || CheckBenchtime(s.Benchtime) != nil {
				t.Fatalf("accepted a bad suite %s: %+v", name, s)
			}
		}
	})
}
