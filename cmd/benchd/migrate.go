package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/benchd/benchd/db"
)

// parseAction splits `benchd <cmd> ACTION [flags]` (flags may also come first) into the action
// and parses the flags.
func parseAction(fs *flag.FlagSet, args []string) (string, error) {
	var action string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		action, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return "", err
		}
		return "", usageErrorf("%v", err)
	}
	if action == "" && fs.NArg() > 0 {
		action = fs.Arg(0)
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return "", usageErrorf("%v", err)
		}
	}
	if fs.NArg() > 0 {
		return "", usageErrorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	return action, nil
}

// cmdMigrate is `benchd migrate up|down|status`: benchd's migrations and the job queue's.
func cmdMigrate(ctx context.Context, args []string, env *environ) error {
	fs := flag.NewFlagSet("benchd migrate", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	var dbf databaseFlags
	dbf.register(fs, env)
	steps := fs.Int("steps", 1, "down: how many of benchd's migrations to revert")
	all := fs.Bool("all", false, "down: revert every migration, the job queue's tables included")
	fs.Usage = func() {
		fmt.Fprintln(env.stderr, "usage: benchd migrate up|down|status [flags]")
		fs.PrintDefaults()
	}
	action, err := parseAction(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	switch action {
	case "up", "down", "status":
	case "":
		fs.Usage()
		return usageErrorf("migrate: no action (want up, down or status)")
	default:
		return usageErrorf("migrate: unknown action %q (want up, down or status)", action)
	}
	if action == "down" && !*all && *steps < 1 {
		return usageErrorf("migrate down: --steps must be at least 1 (or use --all)")
	}
	logger := cliLogger(env)
	url, stop, err := startDatabase(ctx, dbf.url, dbf.dataDir, logger, false)
	if err != nil {
		return err
	}
	defer stop()
	m, err := db.NewMigrator(ctx, url, logger)
	if err != nil {
		return err
	}
	defer m.Close()
	switch action {
	case "up":
		done, err := m.Up(ctx)
		printMigrations(env.stdout, "applied", done, err)
		return err
	case "down":
		n := *steps
		if *all {
			n = 0
		}
		done, err := m.Down(ctx, n)
		printMigrations(env.stdout, "reverted", done, err)
		return err
	default:
		st, err := m.Status(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "LINE\tVERSION\tNAME\tAPPLIED")
		for _, s := range st {
			at := "pending"
			if s.Applied {
				at = s.AppliedAt.Local().Format(time.DateTime)
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", s.Line, s.Version, s.Name, at)
		}
		return tw.Flush()
	}
}

func printMigrations(w io.Writer, verb string, done []db.MigrationState, err error) {
	if len(done) == 0 && err == nil {
		fmt.Fprintf(w, "nothing %s: the schema was already there\n", verb)
		return
	}
	for _, d := range done {
		fmt.Fprintf(w, "%s %s %d %s\n", verb, d.Line, d.Version, d.Name)
	}
}

// cmdToken is `benchd token create|list|revoke`.
func cmdToken(ctx context.Context, args []string, env *environ) error {
	fs := flag.NewFlagSet("benchd token", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	var dbf databaseFlags
	dbf.register(fs, env)
	project := fs.String("project", "", "the token's project (empty: every project)")
	name := fs.String("name", "", "the token's name (create, revoke)")
	fs.Usage = func() {
		fmt.Fprintln(env.stderr, "usage: benchd token create|list|revoke [--project P] [--name N] [flags]")
		fs.PrintDefaults()
	}
	action, err := parseAction(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	switch action {
	case "create", "revoke":
		if *name == "" {
			return usageErrorf("token %s: --name is required", action)
		}
	case "list":
	case "":
		fs.Usage()
		return usageErrorf("token: no action (want create, list or revoke)")
	default:
		return usageErrorf("token: unknown action %q (want create, list or revoke)", action)
	}
	store, closeDB, err := openDatabase(ctx, dbf.url, dbf.dataDir, cliLogger(env))
	if err != nil {
		return err
	}
	defer closeDB()
	switch action {
	case "create":
		if *project != "" {
			if _, err := store.EnsureProject(ctx, *project); err != nil {
				return err
			}
		}
		tok, plain, err := store.CreateToken(ctx, *project, *name)
		if err != nil {
			return err
		}
		scope := "every project"
		if tok.Project != "" {
			scope = "project " + tok.Project
		}
		fmt.Fprintf(env.stderr, "created token %q for %s; it is shown once, store it now:\n", tok.Name, scope)
		fmt.Fprintln(env.stdout, plain)
		return nil
	case "revoke":
		if err := store.RevokeToken(ctx, *project, *name); err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "revoked token %q\n", *name)
		return nil
	default:
		toks, err := store.ListTokens(ctx, *project)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tPROJECT\tNAME\tCREATED\tLAST USED\tREVOKED")
		for _, t := range toks {
			p := t.Project
			if p == "" {
				p = "*"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", t.ID, p, t.Name, when(t.CreatedAt), when(t.LastUsedAt), when(t.RevokedAt))
		}
		return tw.Flush()
	}
}

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format(time.DateTime)
}
