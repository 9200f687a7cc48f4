package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/benchd/benchd/runner"
)

// serverFlags locate a benchd server: flags, else BENCHD_SERVER, BENCHD_TOKEN and
// BENCHD_PROJECT.
type serverFlags struct {
	url     string        // server base URL, e.g. https://bench.example.com
	token   string        // API token (sent as a Bearer token)
	project string        // project name on the server
	timeout time.Duration // HTTP timeout; default 60s
	env     *environ
}

func (s *serverFlags) register(fs *flag.FlagSet, env *environ, _ bool) {
	s.env = env
	fs.StringVar(&s.url, "server", "", "benchd server URL (default $BENCHD_SERVER)")
	fs.StringVar(&s.token, "token", "", "API token for the server (default $BENCHD_TOKEN)")
	fs.StringVar(&s.project, "project", "", "project name on the server (default $BENCHD_PROJECT)")
	fs.DurationVar(&s.timeout, "http-timeout", 60*time.Second, "timeout of each request to the server")
}

// fromEnv fills empty fields from the environment. Tokens never come from flag defaults,
// so -h never prints one.
func (s *serverFlags) fromEnv() {
	if s.url == "" {
		s.url = s.env.getenv("BENCHD_SERVER")
	}
	if s.token == "" {
		s.token = s.env.getenv("BENCHD_TOKEN")
	}
	if s.project == "" {
		s.project = s.env.getenv("BENCHD_PROJECT")
	}
}

func (s *serverFlags) validate() error {
	s.fromEnv()
	if s.url == "" {
		return usageErrorf("no server: give --server or set BENCHD_SERVER")
	}
	u, err := url.Parse(s.url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usageErrorf("--server %q: want an http(s) URL", s.url)
	}
	if s.project == "" {
		return usageErrorf("no project: give --project or set BENCHD_PROJECT")
	}
	if s.token == "" {
		return usageErrorf("no token: give --token or set BENCHD_TOKEN")
	}
	return nil
}

// endpoint returns the URL of the API path under the project, with query q.
func (s *serverFlags) endpoint(path string, q url.Values) string {
	u := strings.TrimRight(s.url, "/") + "/api/v1/projects/" + url.PathEscape(s.project) + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// do sends a request with the token and returns the response body, or an error built from
// the server's JSON error body for a status ≥ 300.
func (s *serverFlags) do(ctx context.Context, method, u string, body []byte, header http.Header) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return 0, nil, fmt.Errorf("building request: %w", err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, u, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("%s %s: reading reply: %w", method, u, err)
	}
	return resp.StatusCode, data, nil
}

// apiError is the server's error body: {"error": {"message": "...", "line": 12}}.
type apiError struct {
	Error struct {
		Message string `json:"message"`
		Line    int    `json:"line"`
	} `json:"error"`
}

// replyError describes a failed reply: the server's message (with the input line when it
// named one) or the raw status.
func replyError(status int, data []byte, file string) error {
	var ae apiError
	if json.Unmarshal(data, &ae) == nil && ae.Error.Message != "" {
		if ae.Error.Line > 0 {
			return fmt.Errorf("server replied %d: %s:%d: %s", status, file, ae.Error.Line, ae.Error.Message)
		}
		return fmt.Errorf("server replied %d: %s", status, ae.Error.Message)
	}
	return fmt.Errorf("server replied %d: %s", status, bytes.TrimSpace(data[:min(len(data), 200)]))
}

// httpStore is a runner.BaselineStore on a benchd server:
// GET/PUT {server}/api/v1/projects/{project}/baselines/{name} with Go benchmark text.
type httpStore struct{ s serverFlags }

var _ runner.BaselineStore = (*httpStore)(nil)

func (h *httpStore) Get(ctx context.Context, name string) (*runner.Set, error) {
	u := h.s.endpoint("/baselines/"+url.PathEscape(name), nil)
	status, data, err := h.s.do(ctx, http.MethodGet, u, nil, http.Header{"Accept": {"text/plain"}})
	if err != nil {
		return nil, fmt.Errorf("getting baseline %s: %w", name, err)
	}
	if status == http.StatusNotFound {
		return nil, fmt.Errorf("getting baseline %s from %s: %w", name, h.s.url, runner.ErrNoBaseline)
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("getting baseline %s: %w", name, replyError(status, data, name))
	}
	set, err := runner.Parse(bytes.NewReader(data), "baseline "+name)
	if err != nil {
		return nil, fmt.Errorf("parsing baseline %s: %w", name, err)
	}
	return set, nil
}

func (h *httpStore) Save(ctx context.Context, name string, set *runner.Set) error {
	var b bytes.Buffer
	if err := runner.WriteGoBench(&b, set); err != nil {
		return err
	}
	u := h.s.endpoint("/baselines/"+url.PathEscape(name), nil)
	status, data, err := h.s.do(ctx, http.MethodPut, u, b.Bytes(), http.Header{"Content-Type": {"text/plain; charset=utf-8"}})
	if err != nil {
		return fmt.Errorf("saving baseline %s: %w", name, err)
	}
	if status >= 300 {
		return fmt.Errorf("saving baseline %s: %w", name, replyError(status, data, name))
	}
	return nil
}

// postReply is the server's reply to a posted run.
type postReply struct {
	RunID    int64         `json:"run_id"`
	URL      string        `json:"url"`
	Status   runner.Status `json:"status"`
	Baseline *struct {
		RunID  int64  `json:"run_id"`
		Source string `json:"source"`
		Label  string `json:"label"`
	} `json:"baseline"`
	Verdicts []runner.Verdict `json:"verdicts"`
}

func cmdPost(ctx context.Context, args []string, env *environ) error {
	var (
		sf                                      serverFlags
		branch, commit, testbed, suite, trigger string
		key, format, failPolicy                 string
		baseline, startPoint, startCommit       string
	)
	fs := flag.NewFlagSet("benchd post", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	sf.register(fs, env, true)
	fs.StringVar(&branch, "branch", "", "branch (default $GITHUB_HEAD_REF, $GITHUB_REF_NAME, or git's current branch)")
	fs.StringVar(&commit, "commit", "", "commit (default $GITHUB_SHA or git's HEAD)")
	fs.StringVar(&testbed, "testbed", "", "testbed name (default $BENCHD_TESTBED; empty: the server derives it from the config lines)")
	fs.StringVar(&suite, "suite", "", "suite the results come from (quick, full, pg)")
	fs.StringVar(&trigger, "trigger", "", "what ran the benchmarks: ci or cli (default ci when $CI is set, else cli)")
	fs.StringVar(&baseline, "baseline", "", "compare with this named baseline (default: the server's choice, docs/methodology.md \"Baselines\")")
	fs.StringVar(&startPoint, "start-point", "", "branch this branch was forked from (default $GITHUB_BASE_REF, a pull request's base)")
	fs.StringVar(&startCommit, "start-point-commit", "", "the fork commit (default with --start-point: git merge-base of HEAD and origin/START or START)")
	fs.StringVar(&key, "idempotency-key", "", "key making a retried post create one run (default: none)")
	fs.StringVar(&format, "format", "text", "output format: text or json (the server's reply)")
	fs.StringVar(&failPolicy, "fail-on", "regression", "exit 1 on: regression, warning (or regression) or never")
	fs.Usage = func() {
		fmt.Fprint(env.stderr, "usage: benchd post [flags] FILE|-\n\nSends Go benchmark output to a benchd server and prints its verdicts.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageErrorf("%v", err)
	}
	if fs.NArg() != 1 {
		return usageErrorf("post takes one file (or - for stdin), got %d arguments", fs.NArg())
	}
	if format != "text" && format != "json" {
		return usageErrorf("--format %q: want text or json", format)
	}
	if err := (&reportFlags{format: "text", failOn: failPolicy}).validate(); err != nil {
		return err
	}
	if err := sf.validate(); err != nil {
		return err
	}
	name := fs.Arg(0)
	var body []byte
	var err error
	if name == "-" {
		body, err = io.ReadAll(env.stdin)
		name = "<stdin>"
	} else {
		body, err = os.ReadFile(name)
	}
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("reading benchmark output: %w", err)}
	}
	// Catch bad input here, with file and line, rather than as a server error.
	set, err := runner.Parse(bytes.NewReader(body), name)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if len(set.Results) == 0 {
		return &exitError{code: 2, err: fmt.Errorf("%s: no benchmark results to post", name)}
	}
	if branch == "" {
		branch = firstNonEmpty(env.getenv("GITHUB_HEAD_REF"), env.getenv("GITHUB_REF_NAME"))
		if branch == "" {
			branch = gitValue(ctx, "rev-parse", "--abbrev-ref", "HEAD")
		}
	}
	if commit == "" {
		commit = env.getenv("GITHUB_SHA")
		if commit == "" {
			commit = gitValue(ctx, "rev-parse", "HEAD")
		}
	}
	if testbed == "" {
		testbed = env.getenv("BENCHD_TESTBED")
	}
	if trigger == "" {
		trigger = "cli"
		if env.getenv("CI") != "" {
			trigger = "ci"
		}
	}
	if startPoint == "" {
		startPoint = env.getenv("GITHUB_BASE_REF")
	}
	if startPoint == branch {
		startPoint = ""
	}
	if startPoint != "" && startCommit == "" {
		startCommit = firstNonEmpty(gitValue(ctx, "merge-base", "HEAD", "origin/"+startPoint), gitValue(ctx, "merge-base", "HEAD", startPoint))
	}
	q := url.Values{}
	for k, v := range map[string]string{"branch": branch, "commit": commit, "testbed": testbed, "trigger": trigger, "suite": suite,
		"baseline": baseline, "start_point": startPoint, "start_point_commit": startCommit} {
		if v != "" {
			q.Set(k, v)
		}
	}
	h := http.Header{"Content-Type": {"text/plain; charset=utf-8"}, "Accept": {"application/json"}}
	if key != "" {
		h.Set("Idempotency-Key", key)
	}
	status, data, err := sf.do(ctx, http.MethodPost, sf.endpoint("/runs", q), body, h)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("posting results: %w", err)}
	}
	if status != http.StatusOK && status != http.StatusCreated {
		return &exitError{code: 2, err: fmt.Errorf("posting results: %w", replyError(status, data, name))}
	}
	describeCommit(ctx, &sf, commit)
	var reply postReply
	if err := json.Unmarshal(data, &reply); err != nil {
		return &exitError{code: 2, err: fmt.Errorf("posting results: decoding the server's reply: %w", err)}
	}
	if format == "json" {
		if _, err := env.stdout.Write(data); err != nil {
			return err
		}
	} else if err := writeReply(env.stdout, reply); err != nil {
		return err
	}
	return failOn(failPolicy, reply.Status)
}

// writeReply prints the server's verdicts as a table, problems first, every value in human
// units (runner.FormatValue). A verdict without a baseline says "no baseline" instead of a
// change of +0.00% against itself.
func writeReply(w io.Writer, r postReply) error {
	fmt.Fprintf(w, "run %d: %s (%s)\n", r.RunID, r.Status, r.URL)
	compared := false
	for _, v := range r.Verdicts {
		compared = compared || v.Baseline != 0
	}
	switch {
	case r.Baseline != nil:
		if r.Baseline.Label != "" {
			fmt.Fprintf(w, "compared with %s\n\n", r.Baseline.Label)
		} else {
			fmt.Fprintf(w, "compared with run %d (%s)\n\n", r.Baseline.RunID, r.Baseline.Source)
		}
	case compared:
		fmt.Fprintln(w)
	default:
		fmt.Fprint(w, "no baseline: the first run of this branch on this testbed, so nothing was compared\n\n")
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "benchmark\tunit\tstatus\tvalue\tbaseline\tchange\tp\trule\tnote")
	for pass := 0; pass < 2; pass++ {
		for _, v := range r.Verdicts {
			bad := v.Status == runner.StatusRegressed || v.Status == runner.StatusWarning
			if bad != (pass == 0) {
				continue
			}
			base, change, p := "no baseline", "", ""
			if v.Baseline != 0 {
				base, change, p = runner.FormatValue(v.Baseline, v.Unit), fmt.Sprintf("%+.1f%%", 100*v.Delta), fmt.Sprintf("%.3f", v.P)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", v.Name, v.Unit, v.Status, runner.FormatValue(v.Value, v.Unit), base, change, p, v.Rule, v.Note)
		}
	}
	return tw.Flush()
}

// describeCommit tells the server what git knows of commit — its message's first line and its
// commit time — so the pages show them beside it. It is a courtesy: when git does not know
// the commit (CI's shallow clone of another SHA, no repository) or the server does not
// answer, nothing is said.
func describeCommit(ctx context.Context, sf *serverFlags, commit string) {
	if commit == "" {
		return
	}
	msg, when, ok := runner.CommitInfo(ctx, "", commit)
	if !ok {
		return
	}
	body := map[string]any{"message": msg}
	if !when.IsZero() {
		body["committed_at"] = when
	}
	b, _ := json.Marshal(body)
	sf.do(ctx, http.MethodPut, sf.endpoint("/commits/"+url.PathEscape(commit), nil), b, http.Header{"Content-Type": {"application/json"}})
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// gitValue runs git in the current directory and returns its trimmed output, or "" when
// git fails (not a repository): the server then records the run without it.
func gitValue(ctx context.Context, args ...string) string { return gitIn(ctx, "", args...) }
