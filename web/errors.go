package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/benchd/benchd/db"
)

// Error is an error with an HTTP status and a message safe to show to the client. Field and
// Line say where in the request the problem is (empty/0 when not applicable).
type Error struct {
	// Status is the HTTP status code (400, 401, 404, 409, 413, 415, 422, 503…).
	Status int
	// Message says what is wrong, in words a client can act on.
	Message string
	// Field names the parameter, header or JSON field at fault ("" when none).
	Field string
	// Line is the 1-based line of the request body at fault (0 when none).
	Line int
	// Err is the underlying cause, logged but never shown (nil when none).
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Message)
	if e.Field != "" {
		fmt.Fprintf(&b, " (field %s)", e.Field)
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, " (line %d)", e.Line)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// errorf returns an *Error with status and a formatted message.
func errorf(status int, format string, args ...any) *Error {
	return &Error{Status: status, Message: fmt.Sprintf(format, args...)}
}

// errorBody is the JSON shape of every API error: {"error":{"message":…}}.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Status  int    `json:"status"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	Line    int    `json:"line,omitempty"`
	// RequestID lets an operator find the log line of a failed request.
	RequestID string `json:"request_id,omitempty"`
}

// classify turns any error into an *Error: the status, and a message safe to show.
func (s *Server) classify(err error) *Error {
	var we *Error
	if errors.As(err, &we) {
		return we
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		msg := http.StatusText(he.Code)
		if m, ok := he.Message.(string); ok && m != "" {
			msg = m
		}
		return &Error{Status: he.Code, Message: msg, Err: he.Internal}
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &Error{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("request body larger than %d bytes", mbe.Limit), Err: err}
	}
	switch {
	case errors.Is(err, db.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Message: "not found", Err: err}
	case errors.Is(err, db.ErrConflict):
		return &Error{Status: http.StatusConflict, Message: "conflict with stored data", Err: err}
	case errors.Is(err, db.ErrInvalid):
		return &Error{Status: http.StatusUnprocessableEntity, Message: "the database refused the values", Err: err}
	case errors.Is(err, context.Canceled):
		// The client went away; 499 is nginx's "client closed request", never seen by it.
		return &Error{Status: 499, Message: "request cancelled", Err: err}
	}
	if errors.Is(err, db.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		return &Error{Status: http.StatusServiceUnavailable, Message: "database unavailable, retry later", Err: err}
	}
	return &Error{Status: http.StatusInternalServerError, Message: "internal error", Err: err}
}

// handleError is Echo's HTTPErrorHandler: the one place where errors become responses.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	e := s.classify(err)
	req := c.Request()
	rid := c.Response().Header().Get(echo.HeaderXRequestID)
	if e.Status >= 500 {
		s.log.ErrorContext(req.Context(), "request failed", "method", req.Method, "path", req.URL.Path,
			"status", e.Status, "request_id", rid, "error", err.Error())
	} else if e.Err != nil {
		s.log.DebugContext(req.Context(), "request refused", "method", req.Method, "path", req.URL.Path,
			"status", e.Status, "request_id", rid, "error", err.Error())
	}
	if e.Status == http.StatusUnauthorized {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="benchd"`)
	}
	if e.Status == http.StatusServiceUnavailable {
		c.Response().Header().Set("Retry-After", "5")
	}
	var werr error
	switch {
	case req.Method == http.MethodHead:
		werr = c.NoContent(e.Status)
	case wantsJSON(req):
		werr = c.JSON(e.Status, errorBody{Error: errorDetail{Status: e.Status, Message: e.Message, Field: e.Field, Line: e.Line, RequestID: rid}})
	default:
		werr = s.renderError(c, e, rid)
	}
	if werr != nil {
		s.log.ErrorContext(req.Context(), "writing error response", "request_id", rid, "error", werr.Error())
	}
}

// wantsJSON reports whether the request is an API call (or asks for JSON) rather than a page.
func wantsJSON(r *http.Request) bool {
	if strings.HasPrefix(r.URL.Path, "/api/") || r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
		return true
	}
	accept := r.Header.Get("Accept")
	return strings.Contains(accept, "application/json") && !strings.Contains(accept, "text/html")
}
