package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/benchd/benchd/db"
)

// tokenKey is the echo.Context key of the verified *db.Token.
const tokenKey = "benchd.token"

// requireToken verifies `Authorization: Bearer <token>` through the Store: unknown, malformed
// and revoked tokens are all a 401 (the reply never says which). A token scoped to a project
// may only use routes of that project (403 otherwise); routes without a :project need an
// all-projects token.
func (s *Server) requireToken(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header.Get("Authorization")
		if h == "" {
			return &Error{Status: http.StatusUnauthorized, Field: "Authorization", Message: "missing Authorization: Bearer <token> header (create a token with `benchd token create`)"}
		}
		scheme, plain, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(plain) == "" {
			return &Error{Status: http.StatusUnauthorized, Field: "Authorization", Message: "Authorization header must be `Bearer <token>`"}
		}
		tok, err := s.store.VerifyToken(c.Request().Context(), strings.TrimSpace(plain))
		if errors.Is(err, db.ErrNotFound) {
			return &Error{Status: http.StatusUnauthorized, Field: "Authorization", Message: "invalid or revoked token"}
		}
		if err != nil {
			return err
		}
		project := c.Param("project")
		if tok.Project != "" && tok.Project != project {
			what := "this route"
			if project != "" {
				what = "project " + project
			}
			return &Error{Status: http.StatusForbidden, Message: "token " + tok.Name + " is scoped to project " + tok.Project + " and may not use " + what}
		}
		c.Set(tokenKey, &tok)
		return next(c)
	}
}
