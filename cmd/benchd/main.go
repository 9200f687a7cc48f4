// Command benchd is the benchd server, worker and command-line tool.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// exitCoder is an error that carries the process exit code (1 = regression, 2 = usage).
type exitCoder interface {
	error
	ExitCode() int
}

// exitError wraps err with an exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }
func (e *exitError) ExitCode() int { return e.code }

// usageErrorf returns an error that exits with code 2.
func usageErrorf(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

// command is one subcommand: its one-line summary and its entry point.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, env *environ) error
}

// environ is what a subcommand gets from the process: streams and environment lookup.
type environ struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
}

func commands() map[string]command {
	return map[string]command{
		"serve":   {"run the HTTP server (API, webhook, pages) and a worker", cmdServe},
		"worker":  {"run a worker that takes benchmark jobs from the queue", cmdWorker},
		"run":     {"run benchmark suites here and compare with a baseline", cmdRun},
		"compare": {"compare two files of Go benchmark output", cmdCompare},
		"power":   {"measure how often a calibrated slowdown (or none) is flagged", cmdPower},
		"post":    {"send Go benchmark output to a benchd server", cmdPost},
		"migrate": {"apply, revert or show database migrations", cmdMigrate},
		"token":   {"create, list or revoke API tokens", cmdToken},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], &environ{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv})
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchd:", err)
		var ec exitCoder
		if errors.As(err, &ec) {
			os.Exit(ec.ExitCode())
		}
		os.Exit(2)
	}
}

// run dispatches args[0] to its subcommand.
func run(ctx context.Context, args []string, env *environ) error {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(env.stdout, cmds)
		if len(args) == 0 {
			return usageErrorf("no command given")
		}
		return nil
	}
	c, ok := cmds[args[0]]
	if !ok {
		printUsage(env.stderr, cmds)
		return usageErrorf("unknown command %q", args[0])
	}
	return c.run(ctx, args[1:], env)
}

func printUsage(w io.Writer, cmds map[string]command) {
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("usage: benchd <command> [flags]\n\ncommands:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  %-8s %s\n", n, cmds[n].summary)
	}
	b.WriteString("\nRun 'benchd <command> -h' for a command's flags.\n")
	io.WriteString(w, b.String())
}
