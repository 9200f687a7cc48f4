package web

import (
	"net/http"
	"os"
	"strings"
	"testing"
)

var testLimits = limits{maxResults: 100, maxSamples: 1000}

func newPost(t *testing.T, target, ctype, body string, hdr ...string) *http.Request {
	t.Helper()
	r, err := http.NewRequest("POST", target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	return r
}

func TestDecodeRunText(t *testing.T) {
	out, err := os.ReadFile("testdata/bench.txt")
	if err != nil {
		t.Fatal(err)
	}
	r := newPost(t, "/x?branch=main&commit=abc1234", "text/plain; charset=utf-8", string(out), "X-Benchd-Suite", "quick", "Idempotency-Key", "ci-42")
	in, err := decodeRun(r, testLimits)
	if err != nil {
		t.Fatalf("decodeRun: %v", err)
	}
	if in.Branch != "main" || in.Commit != "abc1234" || in.Suite != "quick" || in.Trigger != "ci" || in.IdempotencyKey != "ci-42" {
		t.Errorf("for metadata, got %+v", in)
	}
	if !strings.HasPrefix(in.Testbed, "linux/amd64/") {
		t.Errorf("for the default testbed, got %q, want linux/amd64/<cpu>", in.Testbed)
	}
	// Create/n=100, Create/n=1000: sec/op, sessions/s, B/op, allocs/op; Lookup: sec/op, B/op, allocs/op.
	if len(in.Results) != 11 {
		t.Errorf("for results, got %d, want 11", len(in.Results))
	}
	for _, res := range in.Results {
		if len(res.Samples) != 8 {
			t.Errorf("for %s %s, got %d samples, want 8", res.Name, res.Unit, len(res.Samples))
		}
	}
}

func TestDecodeRunJSON(t *testing.T) {
	body := `{"branch":"feature/x","testbed":"ci","results":[
 {"name":"Create/n=100","unit":"sec/op","samples":[1e-6,1.1e-6]},
 {"name":"Create/n=100","unit":"sessions/s","better":1,"samples":[1e6,0.9e6]}]}`
	in, err := decodeRun(newPost(t, "/x", "application/json", body), testLimits)
	if err != nil {
		t.Fatalf("decodeRun: %v", err)
	}
	if len(in.Results) != 2 || in.Results[0].Better != -1 || in.Results[1].Better != 1 || in.Branch != "feature/x" {
		t.Errorf("for a JSON run, got %+v", in)
	}
}

func TestDecodeRunRefusals(t *testing.T) {
	good := "goos: linux\ngoarch: amd64\nBenchmarkA-2 \t 10 \t 100 ns/op\n"
	for _, tc := range []struct {
		name, target, ctype, body string
		status                    int
		msg                       string
		line                      int
	}{
		{"no content type", "/x?branch=m", "", good, 415, "Content-Type", 0},
		{"wrong content type", "/x?branch=m", "application/xml", good, 415, "text/plain", 0},
		{"no branch", "/x", "text/plain", good, 422, "branch is required", 0},
		{"bad trigger", "/x?branch=m&trigger=cron", "text/plain", good, 422, "trigger", 0},
		{"no samples", "/x?branch=m", "text/plain", "goos: linux\ngoarch: amd64\nPASS\n", 422, "no benchmark results", 0},
		{"malformed line", "/x?branch=m", "text/plain", "goos: linux\ngoarch: amd64\nBenchmarkA-2 10 100\n", 400, "malformed benchmark output", 3},
		{"NaN", "/x?branch=m", "text/plain", "goos: linux\ngoarch: amd64\n\nBenchmarkA-2 10 NaN ns/op\n", 422, "finite", 4},
		{"Inf", "/x?branch=m", "text/plain", "goos: linux\ngoarch: amd64\nBenchmarkA-2 10 +Inf ns/op\n", 422, "finite", 3},
		{"negative", "/x?branch=m", "text/plain", "goos: linux\ngoarch: amd64\nBenchmarkA-2 10 -5 ns/op\n", 422, "negative", 3},
		{"no testbed", "/x?branch=m", "text/plain", "BenchmarkA-2 10 5 ns/op\n", 422, "testbed", 0},
		{"query and header disagree", "/x?branch=m", "text/plain", good, 400, "disagree", 0},
		{"malformed JSON", "/x", "application/json", "{\"branch\":\"m\",\n\"results\": [}", 400, "malformed JSON", 2},
		{"unknown JSON field", "/x", "application/json", `{"branch":"m","testbed":"t","resluts":[]}`, 400, "resluts", 1},
		{"JSON wrong type", "/x", "application/json", "{\"branch\":\"m\",\n\"results\":[{\"name\":\"A\",\"unit\":\"sec/op\",\"samples\":\"1\"}]}", 400, "samples", 2},
		{"JSON empty samples", "/x", "application/json", `{"branch":"m","testbed":"t","results":[{"name":"A","unit":"sec/op","samples":[]}]}`, 422, "no samples", 0},
		{"JSON negative procs", "/x", "application/json", `{"branch":"m","testbed":"t","results":[{"name":"A","procs":-1,"unit":"sec/op","samples":[1]}]}`, 422, "procs", 0},
		{"JSON bad better", "/x", "application/json", `{"branch":"m","testbed":"t","results":[{"name":"A","unit":"sec/op","better":7,"samples":[1]}]}`, 422, "better", 0},
		{"JSON trailing data", "/x", "application/json", `{"branch":"m","testbed":"t"} {}`, 400, "after the run", 1},
		{"empty JSON", "/x", "application/json", ``, 400, "empty body", 0},
		{"duplicate result", "/x", "application/json", `{"branch":"m","testbed":"t","results":[{"name":"A","unit":"sec/op","samples":[1]},{"name":"A","unit":"sec/op","samples":[2]}]}`, 422, "twice", 0},
		{"too many results", "/x?branch=m&testbed=t", "text/plain", strings.Repeat("BenchmarkA 1 1 ns/op 1 u1 1 u2 1 u3 1 u4\n", 1) + manyBenchmarks(101), 413, "limit is 100", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr := []string{}
			if tc.name == "query and header disagree" {
				hdr = []string{"X-Benchd-Branch", "other"}
			}
			_, err := decodeRun(newPost(t, tc.target, tc.ctype, tc.body, hdr...), testLimits)
			e, ok := err.(*Error)
			if !ok {
				t.Fatalf("for %s, got error %v (%T), want *Error", tc.name, err, err)
			}
			if e.Status != tc.status || !strings.Contains(e.Error(), tc.msg) || e.Line != tc.line {
				t.Errorf("for %s, got %d %q line %d, want %d containing %q line %d", tc.name, e.Status, e.Error(), e.Line, tc.status, tc.msg, tc.line)
			}
		})
	}
}

func manyBenchmarks(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString("BenchmarkB")
		b.WriteString(strings.Repeat("x", i+1))
		b.WriteString(" 1 1 ns/op\n")
	}
	return b.String()
}

func FuzzDecodeRun(f *testing.F) {
	out, err := os.ReadFile("testdata/bench.txt")
	if err != nil {
		f.Fatal(err)
	}
	f.Add("text/plain", string(out))
	f.Add("application/json", `{"branch":"m","testbed":"t","results":[{"name":"A","unit":"sec/op","samples":[1e-6]}]}`)
	f.Add("application/json", `{"branch":"m","output":"goos: linux\ngoarch: amd64\nBenchmarkA 1 2 ns/op\n"}`)
	f.Fuzz(func(t *testing.T, ctype, body string) {
		in, err := decodeRun(newPost(t, "/x?branch=m", ctype, body), testLimits)
		if err != nil {
			e, ok := err.(*Error)
			if !ok || e.Status < 400 || e.Status >= 500 {
				t.Fatalf("for %q %q, got %v, want a 4xx *Error", ctype, body, err)
			}
			return
		}
		if len(in.Results) == 0 || in.Branch == "" || in.Testbed == "" {
			t.Fatalf("for %q %q, accepted an incomplete run %+v", ctype, body, in)
		}
		for _, r := range in.Results {
			for _, v := range r.Samples {
				if v != v || v < 0 || v > 1e308 {
					t.Fatalf("for %q %q, accepted sample %v", ctype, body, v)
				}
			}
		}
	})
}
