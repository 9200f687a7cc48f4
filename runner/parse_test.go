package runner

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/parse/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no inputs: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			set, err := Parse(f, filepath.Base(file))
			out := struct {
				Set   *Set
				Error string `json:",omitempty"`
			}{Set: set}
			if err != nil {
				out.Error = err.Error()
			}
			got, _ := json.MarshalIndent(out, "", "  ")
			checkGolden(t, strings.TrimSuffix(file, ".txt")+".golden", append(got, '\n'))
		})
	}
}

func TestParseBehaviour(t *testing.T) {
	open := func(name string) *Set {
		t.Helper()
		f, err := os.Open("testdata/parse/" + name)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		set, _ := Parse(f, name)
		return set
	}
	t.Run("basic", func(t *testing.T) {
		set := open("basic.txt")
		r := find(set, "Create/n=100", "sessions/s")
		if r == nil || len(r.Samples) != 3 || r.Better != HigherBetter || r.Procs != 2 {
			t.Fatalf("for Create/n=100 sessions/s, got %+v, want 3 samples, higher better, procs 2", r)
		}
		if r := find(set, "Create/n=100", "sec/op"); r == nil || math.Abs(r.Samples[0]-104e-6) > 1e-12 {
			t.Errorf("for Create/n=100 sec/op, got %+v, want ns/op tidied to sec/op (104e-6)", r)
		}
		var lookups int
		for _, r := range set.Results {
			if r.Name == "Lookup/n=5000" {
				lookups++
			}
		}
		if lookups != 2 {
			t.Errorf("for Lookup/n=5000, got %d results, want 2 (one per pkg)", lookups)
		}
		if r := find(set, "NoProcs", "B/s"); r == nil || r.Procs != 0 || r.Better != HigherBetter {
			t.Errorf("for NoProcs B/s, got %+v, want procs 0 and higher better", r)
		}
	})
	t.Run("failures", func(t *testing.T) {
		set := open("failures.txt")
		got := map[string]FailureKind{}
		for _, f := range set.Failures {
			got[f.Name] = f.Kind
		}
		want := map[string]FailureKind{"Fail": FailFailed, "SubFail/x=1": FailFailed, "Panic": FailPanic}
		if len(got) != len(want) {
			t.Errorf("got failures %v, want %v", got, want)
		}
		for n, k := range want {
			if got[n] != k {
				t.Errorf("for %s, got kind %q, want %q", n, got[n], k)
			}
		}
	})
	t.Run("syntax errors carry file and line", func(t *testing.T) {
		f, _ := os.Open("testdata/parse/syntax.txt")
		defer f.Close()
		set, err := Parse(f, "syntax.txt")
		if err == nil || !strings.Contains(err.Error(), "syntax.txt:3:") || !strings.Contains(err.Error(), "syntax.txt:4:") {
			t.Errorf("got error %v, want errors at syntax.txt:3 and :4", err)
		}
		if r := find(set, "Good", "sec/op"); r == nil || len(r.Samples) != 2 {
			t.Errorf("for Good, got %+v, want the 2 good lines kept", r)
		}
	})
}

// find returns the result name/unit of set, or nil.
func find(set *Set, name, unit string) *Result {
	for i := range set.Results {
		if set.Results[i].Name == name && set.Results[i].Unit == unit {
			return &set.Results[i]
		}
	}
	return nil
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/parse/*.txt")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		set, _ := Parse(bytes.NewReader(in), "fuzz")
		if set == nil {
			t.Fatal("got nil set for in-memory input")
		}
		for _, r := range set.Results {
			if len(r.Samples) == 0 {
				t.Fatalf("for %s %s, got no samples", r.Name, r.Unit)
			}
		}
		// Re-emitting and re-parsing keeps every result and sample count.
		var buf bytes.Buffer
		if err := WriteGoBench(&buf, set); err != nil {
			t.Fatal(err)
		}
		again, err := Parse(&buf, "again")
		if err != nil {
			t.Fatalf("re-parsing WriteGoBench output: %v\n%s", err, buf.Bytes())
		}
		if len(again.Results) != len(set.Results) {
			t.Fatalf("round trip: got %d results, want %d\n%s", len(again.Results), len(set.Results), buf.Bytes())
		}
		for i, r := range set.Results {
			a := again.Results[i]
			if a.Name != r.Name || a.Unit != r.Unit || len(a.Samples) != len(r.Samples) {
				t.Fatalf("round trip: got %s %s n=%d, want %s %s n=%d", a.Name, a.Unit, len(a.Samples), r.Name, r.Unit, len(r.Samples))
			}
		}
	})
}
