package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/benchd/benchd/db/embedpg"
)

func TestServeConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--addr", "nonsense"}, nil, "--addr"},
		{[]string{"--schedule", "every tuesday"}, nil, "--schedule"},
		{[]string{"--schedule", "10s"}, nil, "at least 1m"},
		{[]string{"--schedule", "6h", "--no-worker"}, nil, "needs a worker"},
		{[]string{"--base-url", "bench.example.com"}, nil, "--base-url"},
		{nil, map[string]string{"BENCHD_WEBHOOK_SECRET": "short"}, "16 characters"},
		{nil, map[string]string{"BENCHD_LOG_FORMAT": "xml"}, "BENCHD_LOG_FORMAT"},
		{[]string{"--concurrency", "0"}, nil, "--concurrency"},
		{[]string{"extra"}, nil, "unexpected arguments"},
		{[]string{"--metrics-addr", "x"}, nil, "provided but not defined"}, // serve has /metrics itself
		{nil, map[string]string{"BENCHD_CONCURRENCY": "abc"}, `BENCHD_CONCURRENCY="abc": want an integer`},
		{nil, map[string]string{"BENCHD_MAX_BODY": "8MB"}, `BENCHD_MAX_BODY="8MB": want an integer`},
		{nil, map[string]string{"BENCHD_JOB_TIMEOUT": "forever"}, `BENCHD_JOB_TIMEOUT="forever": want a duration`},
		{nil, map[string]string{"BENCHD_REQUEST_TIMEOUT": "10"}, `BENCHD_REQUEST_TIMEOUT="10": want a duration`},
		{nil, map[string]string{"BENCHD_STATEMENT_TIMEOUT": "soon"}, `BENCHD_STATEMENT_TIMEOUT="soon"`},
		{nil, map[string]string{"BENCHD_DB_MAX_CONNS": "many"}, `BENCHD_DB_MAX_CONNS="many"`},
		{nil, map[string]string{"BENCHD_NO_WORKER": "maybe"}, `BENCHD_NO_WORKER="maybe": want 1 or 0`},
		{[]string{"--db-max-conns", "1"}, nil, "--db-max-conns 1 (BENCHD_DB_MAX_CONNS): want 2 to 1000"},
		{[]string{"--request-timeout", "1ms"}, nil, "--request-timeout 1ms"},
		// Every problem at once.
		{nil, map[string]string{"BENCHD_CONCURRENCY": "abc", "BENCHD_MAX_BODY": "x"}, `BENCHD_MAX_BODY="x": want an integer; BENCHD_CONCURRENCY="abc": want an integer`},
	} {
		var stderr bytes.Buffer
		env := &environ{stdin: strings.NewReader(""), stdout: io.Discard, stderr: &stderr,
			getenv: func(k string) string { return tc.env[k] }}
		err := run(context.Background(), append([]string{"serve", "--data-dir", t.TempDir()}, tc.args...), env)
		var ec exitCoder
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.As(err, &ec) || ec.ExitCode() != 2 {
			t.Errorf("for serve %v %v, got %v, want a usage error mentioning %q", tc.args, tc.env, err, tc.want)
		}
	}
}

// TestServeStartsAndStops starts `benchd serve` on the embedded PostgreSQL, checks the
// operational endpoints and the API's refusal without a token over real HTTP, then stops it
// as SIGTERM would (context cancelled) and expects a clean exit.
func TestServeStartsAndStops(t *testing.T) {
	if _, err := embedpg.FindBinDir(""); err != nil {
		t.Skip("no PostgreSQL server binaries:", err)
	}
	dataDir := reachableDataDir(t)
	addrs := make(chan net.Addr, 1)
	onListen = func(a net.Addr) { addrs <- a }
	defer func() { onListen = nil }()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr bytes.Buffer
	env := &environ{stdin: strings.NewReader(""), stdout: io.Discard, stderr: &stderr, getenv: func(string) string { return "" }}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir, "--no-worker", "--log-format", "json"}, env)
	}()
	var base string
	select {
	case a := <-addrs:
		base = "http://" + a.String()
	case err := <-done:
		t.Fatalf("serve exited early: %v\n%s", err, stderr.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not listen within 60s\n%s", stderr.String())
	}
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/metrics": 200, "/api/v1/projects": 401} {
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("for GET %s, got %d, want %d", path, res.StatusCode, want)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve after cancel: got %v, want a clean exit\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop within 30s of its context ending")
	}
	if !strings.Contains(stderr.String(), `"msg":"request"`) || !strings.Contains(stderr.String(), `"route":"/api/v1/projects","status":401`) {
		t.Errorf("the JSON log has no request lines:\n%s", stderr.String())
	}
}
