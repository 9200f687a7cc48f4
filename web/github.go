package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/benchd/benchd/runner"
)

// verifySignature checks GitHub's X-Hub-Signature-256 header ("sha256=<hex HMAC-SHA256 of
// the body keyed with the secret>") in constant time. It returns a 401 *Error naming what is
// wrong, or nil.
func verifySignature(secret []byte, body []byte, header string) error {
	if header == "" {
		return &Error{Status: http.StatusUnauthorized, Field: "X-Hub-Signature-256", Message: "missing X-Hub-Signature-256 header"}
	}
	hexSum, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return &Error{Status: http.StatusUnauthorized, Field: "X-Hub-Signature-256", Message: "X-Hub-Signature-256 must start with sha256="}
	}
	got, err := hex.DecodeString(hexSum)
	if err != nil || len(got) != sha256.Size {
		return &Error{Status: http.StatusUnauthorized, Field: "X-Hub-Signature-256", Message: "X-Hub-Signature-256 is not a hex SHA-256 digest"}
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return &Error{Status: http.StatusUnauthorized, Field: "X-Hub-Signature-256", Message: "signature does not match the body and the configured secret"}
	}
	return nil
}

// Sign returns the X-Hub-Signature-256 value GitHub would send for body and secret. Tests
// and tools that replay deliveries use it.
func Sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// pushEvent is the part of GitHub's push event payload benchd reads
// (https://docs.github.com/en/webhooks/webhook-events-and-payloads#push).
type pushEvent struct {
	Ref     string `json:"ref"`    // "refs/heads/main"
	Before  string `json:"before"` // commit before the push
	After   string `json:"after"`  // commit after the push: the one to benchmark
	Deleted bool   `json:"deleted"`
	Repo    struct {
		FullName string `json:"full_name"` // "owner/name"
		CloneURL string `json:"clone_url"`
		HTMLURL  string `json:"html_url"`
	} `json:"repository"`
	HeadCommit *struct {
		ID      string `json:"id"`
		Message string `json:"message"`
	} `json:"head_commit"`
}

// zeroSHA is the "after" of a push that deleted the branch.
const zeroSHA = "0000000000000000000000000000000000000000"

// parsePush decodes a push payload; a malformed one is a 400.
func parsePush(body []byte) (*pushEvent, error) {
	var p pushEvent
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, &Error{Status: http.StatusBadRequest, Message: "malformed push payload: " + err.Error()}
	}
	if p.Ref == "" {
		return nil, &Error{Status: http.StatusBadRequest, Field: "ref", Message: "push payload without ref"}
	}
	if err := validatePush(&p); err != nil {
		return nil, err
	}
	return &p, nil
}

// validatePush checks the fields of a push that a job would carry with runner's checks (the
// API's): a branch ref's name by git's rules, the commits as hex object ids, the clone URL
// as text. A refusal is a 422 naming the payload field, so nothing invalid is queued.
func validatePush(p *pushEvent) error {
	refCheck := func(ref string) error { return runner.CheckText(ref, runner.MaxBranchBytes+len("refs/heads/")) }
	if b, ok := strings.CutPrefix(p.Ref, "refs/heads/"); ok {
		refCheck = func(string) error { return runner.CheckBranch(b) }
	}
	head := ""
	if p.HeadCommit != nil {
		head = p.HeadCommit.ID
	}
	for _, f := range []struct {
		name, v string
		check   func(string) error
	}{
		{"ref", p.Ref, refCheck},
		{"before", p.Before, runner.CheckCommit},
		{"after", p.After, runner.CheckCommit},
		{"head_commit.id", head, runner.CheckCommit},
		{"repository.clone_url", p.Repo.CloneURL, func(v string) error { return runner.CheckText(v, runner.MaxParamBytes) }},
	} {
		if err := f.check(f.v); err != nil {
			return &Error{Status: http.StatusUnprocessableEntity, Field: f.name, Message: "push payload " + f.name + " " + err.Error()}
		}
	}
	return nil
}

// pushDecision says what a push should do: queue a run of branch at commit, or be ignored
// for reason.
func pushDecision(p *pushEvent, branches []string) (branch, reason string) {
	b, ok := strings.CutPrefix(p.Ref, "refs/heads/")
	if !ok {
		return "", fmt.Sprintf("ref %s is not a branch", p.Ref)
	}
	if p.Deleted || p.After == zeroSHA || p.After == "" {
		return "", fmt.Sprintf("branch %s was deleted", b)
	}
	for _, want := range branches {
		if want == b {
			return b, ""
		}
	}
	return "", fmt.Sprintf("branch %s is not one of the configured branches (%s)", b, strings.Join(branches, ", "))
}
