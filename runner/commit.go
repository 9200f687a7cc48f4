package runner

import (
	"context"
	"strings"
	"time"
)

// CommitInfo returns what git in dir knows of commit: its message's first line and its
// commit time; ok is false when git does not know it (no repository, a shallow clone of
// another commit). `benchd post`, `benchd run` and the worker all read a commit this way.
func CommitInfo(ctx context.Context, dir, commit string) (message string, at time.Time, ok bool) {
	if commit == "" {
		return "", time.Time{}, false
	}
	out, err := gitOut(ctx, dir, "log", "-1", "--format=%cI%n%s", strings.TrimSuffix(commit, "-dirty"))
	if err != nil {
		return "", time.Time{}, false
	}
	when, msg, found := strings.Cut(out, "\n")
	if !found {
		return "", time.Time{}, false
	}
	at, _ = time.Parse(time.RFC3339, when)
	return msg, at, true
}
