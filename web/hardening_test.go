package web

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/benchd/benchd/db"
)

// clientCase is one request a careless or hostile client sends: the reply must be the status
// given (never a 5xx) with a message containing msg (and, when set, naming field or line).
type clientCase struct {
	name   string
	method string
	path   string
	ctype  string
	body   string
	hdr    []string
	status int
	msg    string
}

// goodText is a valid posted run whose line 3 is its only benchmark line.
const goodText = "goos: linux\ngoarch: amd64\nBenchmarkA-2 \t 100 \t 1000 ns/op\n"

func gz(t testing.TB, s string) string {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.String()
}

func zst(t testing.TB, s string) string {
	w, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	return string(w.EncodeAll([]byte(s), nil))
}

// clientCases are the malformed inputs of issue 12, and the valid ones it found refused.
func clientCases(t testing.TB) []clientCase {
	const runs = "/api/v1/projects/sessioncore/runs"
	post := func(name, query, ctype, body string, status int, msg string, hdr ...string) clientCase {
		return clientCase{name: name, method: "POST", path: runs + query, ctype: ctype, body: body, hdr: hdr, status: status, msg: msg}
	}
	get := func(name, path string, status int, msg string) clientCase {
		return clientCase{name: name, method: "GET", path: path, status: status, msg: msg}
	}
	text := func(lines ...string) string { return strings.Join(lines, "\n") + "\n" }
	jsonRun := func(fields string) string {
		return `{"branch":"main","testbed":"t",` + fields + `}`
	}
	const oneResult = `"results":[{"name":"A","unit":"sec/op","samples":[1e-6]}]`
	bomb := gz(t, "goos: linux\n"+strings.Repeat("cpu: "+strings.Repeat("x", 900)+"\n", 200))
	zbomb := zst(t, "goos: linux\n"+strings.Repeat("cpu: "+strings.Repeat("x", 900)+"\n", 200))
	// A zstd frame header asking for a 64 MiB window (descriptor exponent 16), which the
	// decoder's default limit allows: refused before anything that large is allocated.
	zwide := "\x28\xb5\x2f\xfd\x00\x80" + strings.Repeat("\x00", 16)
	return []clientCase{
		// Benchmark text that PostgreSQL would refuse, or that would be stored wrongly.
		post("name with invalid UTF-8", "?branch=main", "text/plain", text("goos: linux", "goarch: amd64", "BenchmarkA\xff-2 1 5 ns/op"), 422, `benchmark name \"A\\xff\" is not valid UTF-8 (byte 2 is 0xff)","line":3`),
		post("name with NUL", "?branch=main", "text/plain", text("goos: linux", "goarch: amd64", "BenchmarkA\x00B-2 1 5 ns/op"), 422, `control character U+0000`),
		post("name with a control character", "?branch=main", "text/plain", text("goos: linux", "goarch: amd64", "BenchmarkA\x1bB-2 1 5 ns/op"), 422, `control character U+001B`),
		post("config value with invalid UTF-8", "?branch=main", "text/plain", text("goos: linux", "goarch: amd64", "cpu: \xfe\xff", "BenchmarkA-2 1 5 ns/op"), 422, `config line value of cpu is not valid UTF-8 (byte 1 is 0xfe)","line":3`),
		post("config value with NUL", "?branch=main", "text/plain", text("goos: linux", "goarch: amd64", "note: a\x00b", "BenchmarkA-2 1 5 ns/op"), 422, `value of note contains the control character U+0000`),
		post("unit with invalid UTF-8", "?branch=main", "text/plain", text("goos: linux", "goarch: amd64", "BenchmarkA-2 1 5 ns/op 3 x\xff/op"), 422, `unit \"x\\xff/op\" is not valid UTF-8 (byte 2 is 0xff)","line":3`),
		post("unit with a control character", "?branch=main", "text/plain", text("goos: linux", "goarch: amd64", "BenchmarkA-2 1 5 ns/op 3 x\x01/op"), 422, `control character U+0001`),
		post("zero iterations", "?branch=main", "text/plain", text("goos: linux", "goarch: amd64", "BenchmarkA-2 0 5 ns/op"), 400, `iteration count 0: a benchmark runs at least once","line":3`),
		post("negative iterations", "?branch=main", "text/plain", text("goos: linux", "goarch: amd64", "BenchmarkA-2 -7 5 ns/op"), 400, `iteration count -7`),
		// Run metadata in the query and in headers.
		post("branch %FF", "?branch=%FF", "text/plain", goodText, 400, `"field":"branch"`),
		post("branch %00", "?branch=%00", "text/plain", goodText, 400, `query parameter branch=\"\\x00\" contains the control character U+0000`),
		post("commit %FF", "?branch=main&commit=%FF", "text/plain", goodText, 400, `"field":"commit"`),
		post("testbed %00", "?branch=main&testbed=%00", "text/plain", goodText, 400, `"field":"testbed"`),
		post("suite %FF", "?branch=main&suite=%FF", "text/plain", goodText, 400, `"field":"suite"`),
		post("malformed escape", "?branch=%zz", "text/plain", goodText, 400, `malformed %-escape`),
		post("branch header with invalid UTF-8", "", "text/plain", goodText, 422, `branch is not valid UTF-8`, "X-Benchd-Branch", "ma\xffin"),
		post("testbed header with invalid UTF-8", "?branch=main", "text/plain", goodText, 422, `"field":"testbed"`, "X-Benchd-Testbed", "t\xff"),
		post("suite header with invalid UTF-8", "?branch=main", "text/plain", goodText, 422, `"field":"suite"`, "X-Benchd-Suite", "\xc3"),
		post("commit header with invalid UTF-8", "?branch=main", "text/plain", goodText, 422, `"field":"commit"`, "X-Benchd-Commit", "abc\xff123"),
		post("idempotency key with invalid UTF-8", "?branch=main", "text/plain", goodText, 422, `"field":"idempotency_key"`, "Idempotency-Key", "k\xff"),
		post("non-hex commit", "?branch=main&commit=zzzzzzz", "text/plain", goodText, 422, `byte 1 is not a hexadecimal digit","field":"commit"`),
		post("short commit", "?branch=main&commit=abc", "text/plain", goodText, 422, `want 7 to 64 hexadecimal digits`),
		post("branch ../../etc/passwd", "?branch=../../etc/passwd", "text/plain", goodText, 422, `is not a valid git branch name: it contains \"..\"","field":"branch"`),
		post("branch with a space", "?branch=a+b", "text/plain", goodText, 422, `not a valid git branch name`),
		post("branch ending in .lock", "?branch=x.lock", "text/plain", goodText, 422, `.lock`),
		post("branch -x", "?branch=-x", "text/plain", goodText, 422, `starts with '-'`),
		post("branch @{", "?branch=a@{1}", "text/plain", goodText, 422, `@{`),
		// JSON runs.
		post("JSON name with NUL", "", "application/json", jsonRun(`"results":[{"name":"A\u0000","unit":"sec/op","samples":[1]}]`), 422, `contains the control character U+0000 at byte 2","field":"results[0]"`),
		post("JSON unit with a control character", "", "application/json", jsonRun(`"results":[{"name":"A","unit":"sec/op\u0001","samples":[1]}]`), 422, `control character U+0001`),
		post("JSON config with NUL", "", "application/json", jsonRun(`"config":[{"key":"cpu","value":"a\u0000"}],`+oneResult), 422, `"field":"config[0]"`),
		post("JSON config key with a space", "", "application/json", jsonRun(`"config":[{"key":"my key","value":"a"}],`+oneResult), 422, `"field":"config[0]"`),
		post("JSON finished before started", "", "application/json", jsonRun(`"started_at":"2026-11-22T09:01:00Z","finished_at":"2026-11-22T09:00:00Z",`+oneResult), 422, `is before started_at 2026-11-22T09:01:00Z","field":"finished_at"`),
		post("JSON branch with NUL", "", "application/json", `{"branch":"a\u0000","testbed":"t",`+oneResult+`}`, 422, `"field":"branch"`),
		post("JSON name with a space", "", "application/json", jsonRun(`"results":[{"name":"A B","unit":"sec/op","samples":[1]}]`), 422, `white space`),
		// Encodings.
		post("corrupt gzip", "?branch=main", "text/plain", "\x1f\x8b\x08\x00garbage", 400, `not valid gzip`, "Content-Encoding", "gzip"),
		post("gzip bomb", "?branch=main", "text/plain", bomb, 413, `larger than 65536 bytes`, "Content-Encoding", "gzip"),
		post("corrupt zstd", "?branch=main", "text/plain", "\x28\xb5\x2f\xfdgarbage", 400, `not valid zstd`, "Content-Encoding", "zstd"),
		post("zstd bomb", "?branch=main", "text/plain", zbomb, 413, `larger than 65536 bytes`, "Content-Encoding", "zstd"),
		post("zstd window of 64 MiB", "?branch=main", "text/plain", zwide, 400, `not valid zstd: window size exceeded`, "Content-Encoding", "zstd"),
		post("brotli", "?branch=main", "text/plain", goodText, 415, `"field":"Content-Encoding"`, "Content-Encoding", "br"),
		// Page and API query parameters.
		get("dashboard ?project=%00", "/?project=%00", 400, `query parameter project`),
		get("runs page ?branch=%FF", "/runs?branch=%FF", 400, `query parameter branch`),
		get("benchmark page ?name=A%00", "/benchmark?project=sessioncore&name=A%00", 400, `query parameter name`),
		get("alerts page ?status=%FF", "/alerts?status=%FF", 400, `query parameter status`),
		get("compare page ?a=%00", "/compare?a=%00", 400, `query parameter a`),
		get("parameter name %FF", "/?%FF=1", 400, `query parameter name`),
		{name: "API history ?name=A%00", method: "GET", path: "/api/v1/projects/sessioncore/history?name=A%00&unit=sec/op&branch=main&testbed=t", status: 400, msg: `"field":"name"`},
		{name: "API runs ?testbed=%FF", method: "GET", path: runs + "?testbed=%FF", status: 400, msg: `"field":"testbed"`},
		{name: "API baseline name with NUL", method: "GET", path: "/api/v1/projects/sessioncore/baselines/a%00b", status: 400, msg: `"field":"name"`},
		{name: "API baseline delete with invalid UTF-8", method: "DELETE", path: "/api/v1/projects/sessioncore/baselines/a%FFb", status: 400, msg: `"field":"name"`},
		{name: "API threshold with NUL", method: "POST", path: "/api/v1/projects/sessioncore/thresholds", ctype: "application/json",
			body: `{"benchmark":"A\u0000","unit":"sec/op","kind":"upper","warn":1}`, status: 422, msg: `"field":"benchmark"`},
		{name: "API threshold unit with invalid UTF-8", method: "POST", path: "/api/v1/projects/sessioncore/thresholds", ctype: "application/json",
			body: "{\"benchmark\":\"A\",\"unit\":\"sec\xff\",\"kind\":\"upper\",\"warn\":1}", status: 400, msg: `JSON is not valid UTF-8`},
		post("JSON run with invalid UTF-8", "", "application/json", jsonRun("\"suite\":\"q\xff\","+oneResult), 400, `JSON is not valid UTF-8 (byte 42 is 0xff)","line":1`),
		// Valid input that was refused.
		post("gzip body", "?branch=main&testbed=gz", "text/plain", gz(t, goodText), 201, `"run_id"`, "Content-Encoding", "gzip"),
		post("zstd body", "?branch=main&testbed=zstd", "text/plain", zst(t, goodText), 201, `"run_id"`, "Content-Encoding", "zstd"),
		post("zstd JSON body", "", "application/json", zst(t, jsonRun(oneResult)), 201, `"run_id"`, "Content-Encoding", "zstd"),
		post("byte-order mark in text", "?branch=main&testbed=bom", "text/plain", "\ufeff"+goodText, 201, `"run_id"`),
		post("byte-order mark in JSON", "", "application/json", "\ufeff"+jsonRun(oneResult), 201, `"run_id"`),
		post("branch with a slash", "?branch=feature/x-1&commit=0123456789abcdef0123456789abcdef01234567", "text/plain", goodText, 201, `"run_id"`),
	}
}

// TestClientInputIsNever5xx sends every case of clientCases over real HTTP: each reply has its
// status and a JSON error naming what is wrong, nothing is a 5xx, and only the valid runs are
// stored.
func TestClientInputIsNever5xx(t *testing.T) {
	e := newEnv(t, Config{MaxBodyBytes: 64 << 10}, nil)
	stored := 0
	for _, tc := range clientCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			hdr := append([]string{"Accept", "application/json"}, tc.hdr...)
			status, raw := e.api(t, tc.method, tc.path, e.token, tc.ctype, tc.body, nil, hdr...)
			if status >= 500 || status != tc.status || !strings.Contains(raw, tc.msg) {
				t.Errorf("for %s, got %d %s, want %d containing %s", tc.name, status, raw, tc.status, tc.msg)
			}
			if status == 201 {
				stored++
			}
		})
	}
	runs, err := e.db.Store.ListRuns(context.Background(), db.RunFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != stored {
		t.Errorf("after the client cases, got %d runs stored, want %d (the 201s)", len(runs), stored)
	}
}

// TestJSONUnitsAreTidied: a JSON run in ns/op is one series with the text run in sec/op.
func TestJSONUnitsAreTidied(t *testing.T) {
	e := newEnv(t, Config{}, nil)
	const path = "/api/v1/projects/sessioncore/runs"
	j := `{"branch":"main","testbed":"t","results":[{"name":"A","unit":"ns/op","samples":[1000,1100,1200]}]}`
	var rep IngestReply
	if status, raw := e.api(t, "POST", path, e.token, "application/json", j, &rep); status != 201 {
		t.Fatalf("posting JSON in ns/op: %d %s", status, raw)
	}
	_, raw := e.api(t, "GET", path+"/"+itoa(rep.RunID)+"?samples=1", e.token, "", "", nil)
	if !strings.Contains(raw, `"unit":"sec/op"`) || !strings.Contains(raw, `"median":0.0000011,`) || strings.Contains(raw, "ns/op") {
		t.Errorf("for a JSON run in ns/op, got %s, want its samples in sec/op", raw)
	}
	// Config pairs read back in the casing they are posted in.
	j = `{"branch":"main","testbed":"t","config":[{"key":"goos","value":"linux"}],"results":[{"name":"A","unit":"sec/op","samples":[1e-6]}]}`
	if status, raw := e.api(t, "POST", path, e.token, "application/json", j, &rep); status != 201 {
		t.Fatalf("posting JSON with config: %d %s", status, raw)
	}
	_, raw = e.api(t, "GET", path+"/"+itoa(rep.RunID), e.token, "", "", nil)
	if !strings.Contains(raw, `"config":[{"key":"goos","value":"linux"}]`) {
		t.Errorf("for a run with config goos: linux, got %s, want config pairs as {\"key\",\"value\"}", raw)
	}
	var hist struct {
		Points []json.RawMessage `json:"points"`
	}
	if status, raw := e.api(t, "GET", "/api/v1/projects/sessioncore/history?name=A&unit=sec/op&branch=main&testbed=t", e.token, "", "", &hist); status != 200 || len(hist.Points) != 2 {
		t.Errorf("for the history of A in sec/op, got %d %s, want the JSON runs of ns/op and sec/op in one series", status, raw)
	}
}

// FuzzClientInput sends arbitrary requests to the server in process: none may be answered
// with a 5xx. The seeds are the cases of TestClientInputIsNever5xx.
func FuzzClientInput(f *testing.F) {
	for _, tc := range clientCases(f) {
		h := ""
		if len(tc.hdr) == 2 {
			h = tc.hdr[0] + ":" + tc.hdr[1]
		}
		f.Add(tc.method, tc.path, tc.ctype, h, tc.body)
	}
	e := newEnvTB(f, Config{MaxBodyBytes: 64 << 10}, nil)
	f.Fuzz(func(t *testing.T, method, path, ctype, header, body string) {
		if method != "GET" && method != "POST" && method != "PUT" && method != "DELETE" {
			method = "POST"
		}
		req, err := http.NewRequest(method, "http://benchd"+path, strings.NewReader(body))
		if err != nil || !strings.HasPrefix(req.URL.Path, "/") {
			return // not a request an HTTP server would receive
		}
		req.Header.Set("Authorization", "Bearer "+e.token)
		req.Header.Set("Content-Type", ctype)
		if k, v, ok := strings.Cut(header, ":"); ok && k != "" && k != "Authorization" {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		e.srv.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("for %s %q %q %q %q, got %d %s, want no 5xx for client input", method, path, ctype, header, body, rec.Code, rec.Body.String())
		}
	})
}
