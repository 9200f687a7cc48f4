package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/textproto"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchunit"

	"github.com/benchd/benchd/db"
	"github.com/benchd/benchd/runner"
)

// RunInput is a run as posted to POST /api/v1/projects/{project}/runs, after decoding and
// validation. It is also the JSON schema of that endpoint (see docs/api.md).
type RunInput struct {
	// Branch is the branch the benchmarks ran on (required).
	Branch string `json:"branch"`
	// Commit is the commit SHA ("" when unknown).
	Commit string `json:"commit"`
	// Testbed names the machine fingerprint. Default: "goos/goarch/cpu" from the config lines.
	Testbed string `json:"testbed"`
	// Trigger is cli, ci, schedule or webhook. Default "ci".
	Trigger string `json:"trigger"`
	// Suite names the suite that ran ("quick", "full", "pg"; "" when not a suite).
	Suite string `json:"suite"`
	// StartedAt and FinishedAt bound the run (zero: the time the server received it).
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	// Config holds the `key: value` lines of the output (goos, goarch, pkg, cpu…).
	Config []runner.ConfigLine `json:"config"`
	// Results holds the raw samples, one entry per benchmark and unit.
	Results []runner.Result `json:"results"`
	// Output is Go benchmark text; in JSON it may replace Config and Results.
	Output string `json:"output,omitempty"`
	// IdempotencyKey makes a repeated POST return the first answer instead of storing twice
	// (the Idempotency-Key header; "" when none).
	IdempotencyKey string `json:"idempotency_key"`
	// Baseline names the baseline to compare with ("" = the one named like the branch, if
	// any; docs/methodology.md "Baselines").
	Baseline string `json:"baseline,omitempty"`
	// StartPoint is the branch this branch was forked from (a pull request's base), and
	// StartPointCommit the fork commit when known ("" = the start branch's newest run before
	// this branch's first).
	StartPoint       string `json:"start_point,omitempty"`
	StartPointCommit string `json:"start_point_commit,omitempty"`
	// Failures are benchmarks the output reports as failed; they are returned, not stored.
	Failures []runner.Failure `json:"-"`
}

// jsonResult is the JSON shape of one result in a posted run.
type jsonResult struct {
	Name    string    `json:"name"`
	Procs   int       `json:"procs"`
	Pkg     string    `json:"pkg"`
	Unit    string    `json:"unit"`
	Better  *int      `json:"better"`
	Samples []float64 `json:"samples"`
}

type jsonConfig struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type jsonRun struct {
	Branch           string       `json:"branch"`
	Commit           string       `json:"commit"`
	Testbed          string       `json:"testbed"`
	Trigger          string       `json:"trigger"`
	Suite            string       `json:"suite"`
	StartedAt        time.Time    `json:"started_at"`
	FinishedAt       time.Time    `json:"finished_at"`
	Config           []jsonConfig `json:"config"`
	Results          []jsonResult `json:"results"`
	Output           string       `json:"output"`
	IdempotencyKey   string       `json:"idempotency_key"`
	Baseline         string       `json:"baseline"`
	StartPoint       string       `json:"start_point"`
	StartPointCommit string       `json:"start_point_commit"`
}

// limits bound what one posted run may hold.
type limits struct {
	maxResults int // results (benchmark × unit) per run
	maxSamples int // samples per result
}

// decodeRun reads a posted run from r: Go benchmark text (text/plain) with its metadata in
// query parameters or X-Benchd-* headers, or JSON (application/json). Every refusal is an
// *Error with a 4xx status saying what and where.
func decodeRun(r *http.Request, lim limits) (*RunInput, error) {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil {
		return nil, &Error{Status: http.StatusUnsupportedMediaType, Field: "Content-Type",
			Message: fmt.Sprintf("Content-Type %q: send text/plain (Go benchmark output) or application/json", ct)}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		var we *Error
		if errors.As(err, &mbe) || errors.As(err, &we) {
			return nil, err
		}
		return nil, &Error{Status: http.StatusBadRequest, Message: "reading request body", Err: err}
	}
	// A UTF-8 byte-order mark (PowerShell's Out-File, some editors) is no part of the run.
	body = bytes.TrimPrefix(body, []byte("\xEF\xBB\xBF"))
	in := &RunInput{}
	switch mt {
	case "text/plain":
		in.Output = string(body)
	case "application/json":
		if err := decodeJSONRun(body, in); err != nil {
			return nil, err
		}
	default:
		return nil, &Error{Status: http.StatusUnsupportedMediaType, Field: "Content-Type",
			Message: fmt.Sprintf("Content-Type %q: send text/plain (Go benchmark output) or application/json", mt)}
	}
	if err := metadata(r, in); err != nil {
		return nil, err
	}
	if in.Output != "" {
		if len(in.Results) > 0 {
			return nil, &Error{Status: http.StatusBadRequest, Field: "output", Message: "send either output or results, not both"}
		}
		if err := parseOutput(in); err != nil {
			return nil, err
		}
	}
	if err := validateRun(in, lim); err != nil {
		return nil, err
	}
	return in, nil
}

// decodeJSONRun decodes a JSON run strictly: unknown fields and trailing data are refused
// with the line they are on.
func decodeJSONRun(body []byte, in *RunInput) error {
	if err := checkUTF8(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var jr jsonRun
	if err := dec.Decode(&jr); err != nil {
		return jsonError(body, dec, err)
	}
	if dec.More() {
		return &Error{Status: http.StatusBadRequest, Line: lineAt(body, dec.InputOffset()), Message: "malformed JSON: data after the run object"}
	}
	*in = RunInput{Branch: jr.Branch, Commit: jr.Commit, Testbed: jr.Testbed, Trigger: jr.Trigger, Suite: jr.Suite,
		StartedAt: jr.StartedAt, FinishedAt: jr.FinishedAt, Output: jr.Output, IdempotencyKey: jr.IdempotencyKey,
		Baseline: jr.Baseline, StartPoint: jr.StartPoint, StartPointCommit: jr.StartPointCommit}
	for _, c := range jr.Config {
		in.Config = append(in.Config, runner.ConfigLine{Key: c.Key, Value: c.Value})
	}
	for i, r := range jr.Results {
		// Units are tidied as the text parser tidies them (ns/op → sec/op, MB/s → B/s), so a
		// benchmark posted as JSON and as text is one series.
		unit, samples := r.Unit, r.Samples
		if runner.CheckUnit(unit) == nil {
			var factor float64
			factor, unit = benchunit.Tidy(1, r.Unit)
			if factor != 1 {
				samples = make([]float64, len(r.Samples))
				for j, v := range r.Samples {
					samples[j] = v * factor
				}
			}
		}
		res := runner.Result{Name: r.Name, Procs: r.Procs, Pkg: r.Pkg, Unit: unit, Samples: samples}
		if r.Better != nil {
			if *r.Better < -1 || *r.Better > 1 {
				return &Error{Status: http.StatusUnprocessableEntity, Field: fmt.Sprintf("results[%d].better", i), Message: "better must be -1 (lower is better), 0 or 1 (higher is better)"}
			}
			res.Better = runner.Direction(*r.Better)
		} else {
			res.Better = runner.Direction(benchfmt.UnitMetadataMap{}.GetBetter(unit))
		}
		in.Results = append(in.Results, res)
	}
	return nil
}

// checkUTF8 refuses a JSON body that is not UTF-8, as JSON must be (RFC 8259): encoding/json
// would silently store U+FFFD in place of the bad bytes.
func checkUTF8(body []byte) error {
	if utf8.Valid(body) {
		return nil
	}
	i := 0
	for i < len(body) {
		r, n := utf8.DecodeRune(body[i:])
		if r == utf8.RuneError && n <= 1 {
			break
		}
		i += n
	}
	return &Error{Status: http.StatusBadRequest, Line: lineAt(body, int64(i)), Message: fmt.Sprintf("malformed JSON: JSON is not valid UTF-8 (byte %d is %#02x)", i+1, body[i])}
}

// jsonError turns a json decoding error into a 400 that names the line.
func jsonError(body []byte, dec *json.Decoder, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return &Error{Status: http.StatusBadRequest, Line: lineAt(body, se.Offset), Message: "malformed JSON: " + se.Error()}
	case errors.As(err, &te):
		return &Error{Status: http.StatusBadRequest, Line: lineAt(body, te.Offset), Field: te.Field,
			Message: fmt.Sprintf("malformed JSON: field %s must be %s, not %s", te.Field, te.Type, te.Value)}
	case errors.Is(err, io.EOF):
		return &Error{Status: http.StatusBadRequest, Message: "empty body: send a JSON run object"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &Error{Status: http.StatusBadRequest, Line: lineAt(body, int64(len(body))), Message: "malformed JSON: unexpected end of input"}
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return err
	}
	return &Error{Status: http.StatusBadRequest, Line: lineAt(body, dec.InputOffset()), Message: "malformed JSON: " + err.Error()}
}

// lineAt returns the 1-based line of byte offset off in body.
func lineAt(body []byte, off int64) int {
	if off > int64(len(body)) {
		off = int64(len(body))
	}
	if off < 0 {
		off = 0
	}
	return bytes.Count(body[:off], []byte("\n")) + 1
}

// metadata fills run metadata from query parameters and X-Benchd-* headers (either may be
// used; both with different values is refused) and the Idempotency-Key header.
func metadata(r *http.Request, in *RunInput) error {
	q := r.URL.Query()
	for _, f := range []struct {
		name string
		dst  *string
	}{{"branch", &in.Branch}, {"commit", &in.Commit}, {"testbed", &in.Testbed}, {"trigger", &in.Trigger}, {"suite", &in.Suite},
		{"baseline", &in.Baseline}, {"start_point", &in.StartPoint}, {"start_point_commit", &in.StartPointCommit}} {
		hname := textproto.CanonicalMIMEHeaderKey("X-Benchd-" + strings.ReplaceAll(f.name, "_", "-"))
		qv, hv := strings.TrimSpace(q.Get(f.name)), strings.TrimSpace(r.Header.Get(hname))
		if qv != "" && hv != "" && qv != hv {
			return &Error{Status: http.StatusBadRequest, Field: f.name, Message: fmt.Sprintf("query parameter %s=%q and header %s=%q disagree", f.name, qv, hname, hv)}
		}
		v := qv
		if v == "" {
			v = hv
		}
		if v == "" {
			continue
		}
		if *f.dst != "" && *f.dst != v {
			return &Error{Status: http.StatusBadRequest, Field: f.name, Message: fmt.Sprintf("%s %q in the request disagrees with %q in the JSON body", f.name, v, *f.dst)}
		}
		*f.dst = v
	}
	if k := strings.TrimSpace(r.Header.Get("Idempotency-Key")); k != "" {
		if in.IdempotencyKey != "" && in.IdempotencyKey != k {
			return &Error{Status: http.StatusBadRequest, Field: "Idempotency-Key", Message: "Idempotency-Key header disagrees with idempotency_key in the body"}
		}
		in.IdempotencyKey = k
	}
	return nil
}

// parseOutput parses in.Output with the runner's parser into Config and Results. Malformed
// lines are refused with the first bad line's number.
func parseOutput(in *RunInput) error {
	set, err := runner.Parse(strings.NewReader(in.Output), "body")
	if err != nil {
		var se *benchfmt.SyntaxError
		if errors.As(err, &se) {
			return &Error{Status: http.StatusBadRequest, Line: se.Line, Message: "malformed benchmark output: " + se.Msg}
		}
		return &Error{Status: http.StatusBadRequest, Message: "malformed benchmark output", Err: err}
	}
	in.Config = set.Config
	in.Results = set.Results
	in.Failures = set.Failures
	return nil
}

// Allowed triggers (the runs.trigger column).
var triggers = map[string]bool{"cli": true, "ci": true, "schedule": true, "webhook": true}

// validateRun checks a decoded run and fills defaults. Each refusal names the field (and,
// for output, the line of the first sample at fault).
func validateRun(in *RunInput, lim limits) error {
	if in.Trigger == "" {
		in.Trigger = "ci"
	}
	if !triggers[in.Trigger] {
		return &Error{Status: http.StatusUnprocessableEntity, Field: "trigger", Message: fmt.Sprintf("trigger %q: want cli, ci, schedule or webhook", in.Trigger)}
	}
	if in.Branch == "" {
		return &Error{Status: http.StatusUnprocessableEntity, Field: "branch", Message: "branch is required (query parameter branch, header X-Benchd-Branch or JSON field branch)"}
	}
	for _, f := range []struct {
		name, v string
		check   func(string) error
	}{
		{"branch", in.Branch, runner.CheckBranch},
		{"commit", in.Commit, runner.CheckCommit},
		{"testbed", in.Testbed, label},
		{"suite", in.Suite, label},
		{"idempotency_key", in.IdempotencyKey, label},
	} {
		if err := f.check(f.v); err != nil {
			return &Error{Status: http.StatusUnprocessableEntity, Field: f.name, Message: f.name + " " + err.Error()}
		}
	}
	if !in.StartedAt.IsZero() && !in.FinishedAt.IsZero() && in.FinishedAt.Before(in.StartedAt) {
		return &Error{Status: http.StatusUnprocessableEntity, Field: "finished_at", Message: fmt.Sprintf("finished_at %s is before started_at %s", in.FinishedAt.Format(time.RFC3339), in.StartedAt.Format(time.RFC3339))}
	}
	for i, c := range in.Config {
		if err := runner.CheckConfig(c.Key, c.Value); err != nil {
			e := &Error{Status: http.StatusUnprocessableEntity, Message: "config line " + err.Error()}
			if in.Output != "" {
				e.Line = findConfigLine(in.Output, c.Key)
			} else {
				e.Field = fmt.Sprintf("config[%d]", i)
			}
			return e
		}
	}
	if len(in.Results) == 0 {
		msg := "no benchmark results in the run"
		if len(in.Failures) > 0 {
			msg += fmt.Sprintf(" (%d benchmarks failed; first: %s)", len(in.Failures), in.Failures[0].String())
		}
		return &Error{Status: http.StatusUnprocessableEntity, Message: msg}
	}
	if in.Testbed == "" {
		in.Testbed = db.TestbedOf(in.Config).Name
		if in.Testbed == "" {
			return &Error{Status: http.StatusUnprocessableEntity, Field: "testbed", Message: "testbed is required when the output has no goos/goarch config lines"}
		}
		if err := label(in.Testbed); err != nil {
			return &Error{Status: http.StatusUnprocessableEntity, Field: "testbed", Message: "testbed made of the goos, goarch and cpu config lines " + err.Error() + ": name one with the testbed parameter"}
		}
	}
	if len(in.Results) > lim.maxResults {
		return &Error{Status: http.StatusRequestEntityTooLarge, Field: "results", Message: fmt.Sprintf("run has %d results (benchmark × unit), the limit is %d", len(in.Results), lim.maxResults)}
	}
	seen := make(map[[2]string]bool, len(in.Results))
	for i, r := range in.Results {
		// where locates result i: its JSON index, or its first line in the posted text (looked
		// up only when refusing, since it scans the output).
		where := func() *Error {
			if in.Output != "" {
				return &Error{Status: http.StatusUnprocessableEntity, Line: findBenchLine(in.Output, r.Name)}
			}
			return &Error{Status: http.StatusUnprocessableEntity, Field: fmt.Sprintf("results[%d]", i)}
		}
		refuse := func(format string, args ...any) error {
			e := where()
			e.Message = fmt.Sprintf("benchmark %q unit %q: ", r.Name, r.Unit) + fmt.Sprintf(format, args...)
			return e
		}
		if err := runner.CheckName(r.Name); err != nil {
			e := where()
			e.Message = fmt.Sprintf("benchmark name %+q %v", r.Name, err)
			return e
		}
		if err := runner.CheckUnit(r.Unit); err != nil {
			e := where()
			e.Message = fmt.Sprintf("benchmark %q unit %+q %v", r.Name, r.Unit, err)
			return e
		}
		if err := label(r.Pkg); err != nil {
			return refuse("pkg %v", err)
		}
		switch {
		case r.Procs < 0:
			return refuse("procs is negative")
		case len(r.Samples) == 0:
			return refuse("no samples")
		case len(r.Samples) > lim.maxSamples:
			return refuse("%d samples, the limit is %d", len(r.Samples), lim.maxSamples)
		}
		for j, v := range r.Samples {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return refuse("sample %d is %v; samples must be finite numbers", j+1, v)
			}
			if v < 0 {
				return refuse("sample %d is negative (%v); benchmark costs and rates are never negative", j+1, v)
			}
		}
		k := [2]string{r.Name, r.Unit}
		if seen[k] {
			return refuse("appears twice (different packages or GOMAXPROCS in one run); post them as separate runs or rename the benchmarks")
		}
		seen[k] = true
	}
	return nil
}

// Validate checks a run built in code (by the worker) as the API checks a posted one, and
// fills the same defaults. maxResults ≤ 0 means no limit on the number of results.
func (in *RunInput) Validate(maxResults int) error {
	if maxResults <= 0 {
		maxResults = int(^uint(0) >> 1)
	}
	return validateRun(in, limits{maxResults: maxResults, maxSamples: int(^uint(0) >> 1)})
}

// label checks a testbed, suite, package or idempotency key: text of at most
// runner.MaxLabelBytes.
func label(s string) error { return runner.CheckText(s, runner.MaxLabelBytes) }

// findConfigLine returns the 1-based line of the first "key:" config line in output (0 when
// not found).
func findConfigLine(output, key string) int {
	for i, l := range strings.Split(output, "\n") {
		if strings.HasPrefix(strings.TrimPrefix(l, "\uFEFF"), key+":") {
			return i + 1
		}
	}
	return 0
}

// findBenchLine returns the 1-based line of the first benchmark line of name in output (0 when
// not found), so an error about a result can point at the text the client sent.
func findBenchLine(output, name string) int {
	prefix := "Benchmark" + name
	line := 0
	for len(output) > 0 {
		line++
		l := output
		if i := strings.IndexByte(output, '\n'); i >= 0 {
			l, output = output[:i], output[i+1:]
		} else {
			output = ""
		}
		if f, _, _ := strings.Cut(l, "\t"); strings.HasPrefix(l, prefix) {
			f, _, _ = strings.Cut(strings.TrimSpace(f), " ")
			rest := strings.TrimPrefix(f, prefix)
			if rest == "" || rest[0] == '-' {
				return line
			}
		}
	}
	return 0
}
