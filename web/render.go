package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/benchd/benchd/runner"
)

//go:embed templates
var templateFS embed.FS

// page is what every template receives: the layout's needs plus the page's own view.
type page struct {
	// Nav names the navigation entry to highlight ("dashboard", "runs", "alerts").
	Nav string
	// Charts is true when the page draws ECharts charts (loads echarts.min.js and app.js).
	Charts bool
	// Data is the page's view, built by its handler.
	Data any
}

// parseTemplates parses the layout once with each page template, keyed by the page file's
// base name ("error", "run", …).
func parseTemplates(a *assets) (map[string]*template.Template, error) {
	funcs := template.FuncMap{"asset": a.URL, "value": runner.FormatValue, "short": func(c string) string { return c[:min(len(c), 7)] }, "mul100": func(x float64) float64 { return x * 100 },
		"ci": func(lo, hi *float64, unit string) string { return fmtCI(lo, hi)(unit) }}
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("parsing layout: %w", err)
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("listing templates: %w", err)
	}
	out := map[string]*template.Template{}
	for _, n := range names {
		if n == "templates/layout.html" {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(templateFS, n)
		if err != nil {
			return nil, fmt.Errorf("parsing %s: %w", n, err)
		}
		out[strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")] = t
	}
	return out, nil
}

// render executes the page template name into a buffer first, so a template error becomes a
// proper 500 page instead of half a page.
func (s *Server) render(c echo.Context, status int, name string, p page) error {
	t, ok := s.pages[name]
	if !ok {
		return fmt.Errorf("rendering %s: no such template", name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		return fmt.Errorf("rendering %s: %w", name, err)
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// errorView is the data of the error page.
type errorView struct {
	Status    int
	Title     string
	Message   string
	RequestID string
}

// renderError writes the HTML error page; if even that fails it falls back to plain text.
func (s *Server) renderError(c echo.Context, e *Error, rid string) error {
	v := errorView{Status: e.Status, Title: http.StatusText(e.Status), Message: e.Message, RequestID: rid}
	if err := s.render(c, e.Status, "error", page{Data: v}); err != nil {
		return c.String(e.Status, e.Message)
	}
	return nil
}
