package web

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/labstack/echo/v4"

	"github.com/benchd/benchd/runner"
)

// checkQuery refuses, with a 400 naming the parameter, a request whose query string does not
// decode or holds a name or value that is not text: invalid UTF-8, NUL or another control
// character, or more than runner.MaxParamBytes. Pages and API routes then pass only text to
// the database, which would refuse the bytes (and the refusal would be a 500).
func checkQuery(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if req.URL.RawQuery == "" {
			return next(c)
		}
		if _, err := parseQuery(req.URL.RawQuery); err != nil {
			return err
		}
		return next(c)
	}
}

// parseQuery is url.ParseQuery that also checks every name and value with runner.CheckText.
func parseQuery(raw string) (map[string][]string, error) {
	q := map[string][]string{}
	for raw != "" {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		name, err := unescapeQuery(k)
		if err != nil {
			return nil, &Error{Status: http.StatusBadRequest, Field: k, Message: fmt.Sprintf("query parameter name %q: %v", k, err)}
		}
		if err := runner.CheckText(name, 100); err != nil {
			return nil, &Error{Status: http.StatusBadRequest, Field: fmt.Sprintf("%+q", name), Message: fmt.Sprintf("query parameter name %+q %v", name, err)}
		}
		value, err := unescapeQuery(v)
		if err != nil {
			return nil, &Error{Status: http.StatusBadRequest, Field: name, Message: fmt.Sprintf("query parameter %s: %v", name, err)}
		}
		if err := runner.CheckText(value, runner.MaxParamBytes); err != nil {
			return nil, &Error{Status: http.StatusBadRequest, Field: name, Message: fmt.Sprintf("query parameter %s=%+q %v", name, value, err)}
		}
		q[name] = append(q[name], value)
	}
	return q, nil
}

func unescapeQuery(s string) (string, error) {
	out, err := url.QueryUnescape(s)
	if err != nil {
		return "", errors.New("malformed %-escape")
	}
	return out, nil
}

// checkHeader checks the value of a header that becomes stored data (X-Benchd-*,
// Idempotency-Key) as text; the run's own validation checks it further.
func checkHeader(name, v string) error {
	if err := runner.CheckText(v, runner.MaxParamBytes); err != nil {
		return &Error{Status: http.StatusBadRequest, Field: name, Message: fmt.Sprintf("header %s %v", name, err)}
	}
	return nil
}

// decodeBody undoes a Content-Encoding of gzip or zstd (CI clients compress what they post)
// and applies Config.MaxBodyBytes again to the decoded bytes: a body that inflates past it (a
// compression bomb) is a 413 like an uncompressed one. Any other encoding is a 415.
func (s *Server) decodeBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		enc := strings.ToLower(strings.TrimSpace(req.Header.Get(echo.HeaderContentEncoding)))
		var body *decodedBody
		switch enc {
		case "", "identity":
			return next(c)
		case "gzip", "x-gzip":
			zr, err := gzip.NewReader(req.Body)
			if err != nil {
				var mbe *http.MaxBytesError
				if errors.As(err, &mbe) {
					return err
				}
				return &Error{Status: http.StatusBadRequest, Field: "Content-Encoding", Message: "body is not valid gzip: " + err.Error()}
			}
			body = &decodedBody{r: zr, close: func() { zr.Close() }, raw: req.Body, name: "gzip"}
		case "zstd":
			// One goroutine, and at most the 8 MB window RFC 9659 allows a zstd content coding:
			// a frame that asks for more is refused before anything that large is allocated.
			zr, err := zstd.NewReader(req.Body, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
				zstd.WithDecoderMaxWindow(8<<20))
			if err != nil {
				return fmt.Errorf("starting the zstd decoder: %w", err) // only bad options fail here
			}
			body = &decodedBody{r: zr, close: zr.Close, raw: req.Body, name: "zstd"}
		default:
			return &Error{Status: http.StatusUnsupportedMediaType, Field: "Content-Encoding",
				Message: fmt.Sprintf("Content-Encoding %q: send the body as is, gzip- or zstd-compressed", enc)}
		}
		req.Body = http.MaxBytesReader(c.Response(), body, s.cfg.MaxBodyBytes)
		req.Header.Del(echo.HeaderContentEncoding)
		req.ContentLength = -1
		return next(c)
	}
}

// decodedBody reads a decompressed stream (gzip or zstd, its name) and closes the decoder
// and the raw body under it. A corrupt stream is a 400.
type decodedBody struct {
	r     io.Reader
	close func()
	raw   io.ReadCloser
	name  string
}

func (b *decodedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		var mbe *http.MaxBytesError
		if !errors.As(err, &mbe) {
			err = &Error{Status: http.StatusBadRequest, Field: "Content-Encoding", Message: "body is not valid " + b.name + ": " + err.Error()}
		}
	}
	return n, err
}

func (b *decodedBody) Close() error {
	b.close()
	return b.raw.Close()
}
