package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/benchd/benchd/db"
)

// CommitInput is the body of PUT /api/v1/projects/{project}/commits/{sha}: what a client
// knows of a commit (benchd post reads it from git).
type CommitInput struct {
	// Message is the commit message; only its first line is kept, at most 200 characters.
	Message string `json:"message"`
	// CommittedAt is the commit time (RFC 3339; omitted: unknown).
	CommittedAt *time.Time `json:"committed_at"`
}

// putCommit stores what is known of a commit, shown beside it on the pages.
func (s *Server) putCommit(c echo.Context) error {
	sha := c.Param("sha")
	if len(sha) == 0 || len(sha) > 64 || strings.Trim(sha, "0123456789abcdefABCDEF") != "" {
		return &Error{Status: http.StatusBadRequest, Field: "sha", Message: "a commit is 1 to 64 hexadecimal digits"}
	}
	var in CommitInput
	if err := c.Bind(&in); err != nil {
		return &Error{Status: http.StatusBadRequest, Message: "the body is {\"message\": \"…\", \"committed_at\": \"RFC 3339\"}"}
	}
	msg, _, _ := strings.Cut(strings.TrimSpace(in.Message), "\n")
	if r := []rune(msg); len(r) > 200 {
		msg = string(r[:199]) + "…"
	}
	cm := db.Commit{SHA: strings.ToLower(sha), Message: strings.TrimSpace(msg)}
	if in.CommittedAt != nil {
		cm.CommittedAt = in.CommittedAt.UTC()
	}
	if err := s.store.SetCommit(c.Request().Context(), c.Param("project"), cm); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
