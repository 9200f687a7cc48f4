package jobs

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/benchd/benchd/web"
)

// TestWebhookRefusesBadPayloads delivers signed pushes whose branch, commits or clone URL
// are invalid (as GitHub never sends them, but anyone with the secret could) over real HTTP
// to a server with a real River queue: each is a 422 naming the payload field, never a 5xx,
// and no job is queued; a valid push is still queued.
func TestWebhookRefusesBadPayloads(t *testing.T) {
	h := newHarness(t, false)
	sha := strings.Repeat("ab", 20)
	zero := strings.Repeat("0", 40)
	push := func(edit func(map[string]any)) []byte {
		var p map[string]any
		if err := json.Unmarshal(pushPayload("/srv/git/bench.git", "refs/heads/main", zero, sha), &p); err != nil {
			t.Fatal(err)
		}
		edit(p)
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	set := func(key string, v any) func(map[string]any) { return func(p map[string]any) { p[key] = v } }
	for i, tc := range []struct {
		name  string
		body  []byte
		field string // "" for a queued push
	}{
		{"a branch climbing out", push(set("ref", "refs/heads/../../etc/passwd")), "ref"},
		{"a branch with a space", push(set("ref", "refs/heads/my branch")), "ref"},
		{"a branch ending in .lock", push(set("ref", "refs/heads/main.lock")), "ref"},
		{"a branch with NUL", push(set("ref", "refs/heads/ma\x00in")), "ref"},
		{"a branch starting with -", push(set("ref", "refs/heads/-x")), "ref"},
		{"a tag with a control character", push(set("ref", "refs/tags/v1\x7f")), "ref"},
		{"a non-hex after", push(set("after", "zzzz"+sha[4:])), "after"},
		{"an option as after", push(set("after", "--upload-pack=touch")), "after"},
		{"a too long after", push(set("after", sha+sha+sha+sha)), "after"},
		{"a non-hex before", push(set("before", "HEAD~1")), "before"},
		{"a head commit id that is not hex", push(func(p map[string]any) { p["head_commit"] = map[string]any{"id": "main", "message": "x"} }), "head_commit.id"},
		{"a clone URL with a newline", push(func(p map[string]any) { p["repository"].(map[string]any)["clone_url"] = "https://x/\nrepo" }), "repository.clone_url"},
		{"a valid push", push(func(map[string]any) {}), ""},
		{"a valid SHA-256 push", push(func(p map[string]any) {
			p["after"] = sha + sha[:24]
			p["head_commit"] = map[string]any{"id": sha + sha[:24], "message": "x"}
		}), ""},
	} {
		before := h.jobCount(t)
		status, out := h.deliver(t, "push", fmt.Sprintf("bad-%d", i), tc.body, web.Sign([]byte(secret), tc.body))
		after := h.jobCount(t)
		if tc.field == "" {
			if status != 202 || out["action"] != "queued" || after != before+1 {
				t.Errorf("for %s, got %d %v with %d new jobs, want 202 queued with 1", tc.name, status, out, after-before)
			}
			continue
		}
		e, _ := out["error"].(map[string]any)
		if status != 422 || e["field"] != tc.field || after != before {
			t.Errorf("for %s, got %d %v with %d new jobs, want 422 naming field %s and no job", tc.name, status, out, after-before, tc.field)
		}
	}
}
