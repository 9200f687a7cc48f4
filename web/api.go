package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/benchd/benchd/db"
	"github.com/benchd/benchd/runner"
)

// apiRoutes registers the JSON API under /api/v1. Every project route needs a bearer token
// valid for that project; the webhook is authenticated by its signature instead.
func (s *Server) apiRoutes(g *echo.Group) {
	g.POST("/webhooks/github", s.githubWebhook)

	g.GET("/projects", s.listProjects, s.requireToken)
	p := g.Group("/projects/:project", s.requireToken)
	p.PUT("", s.putProject)
	p.POST("/runs", s.postRun)
	p.GET("/runs", s.listRuns)
	p.GET("/runs/:id", s.getRun)
	p.GET("/history", s.getHistory)
	p.GET("/dashboard", s.getDashboard)
	p.GET("/baselines", s.listBaselines)
	// A baseline name may hold "/" ("release/1.2"): sent as is or escaped (%2F).
	p.GET("/baselines/*", s.getBaseline)
	p.PUT("/baselines/*", s.putBaseline)
	p.DELETE("/baselines/*", s.deleteBaseline)
	p.GET("/thresholds", s.listThresholds)
	p.POST("/thresholds", s.createThreshold)
	p.PUT("/thresholds/:id", s.updateThreshold)
	p.DELETE("/thresholds/:id", s.deleteThreshold)
	p.GET("/alerts", s.listAlerts)
	p.POST("/alerts/:id/acknowledge", s.acknowledgeAlert)

	g.RouteNotFound("/*", func(c echo.Context) error {
		return errorf(http.StatusNotFound, "no API route %s %s", c.Request().Method, c.Request().URL.Path)
	})
}

// project returns the :project of the route after checking it exists (404 otherwise).
func (s *Server) project(c echo.Context) (string, error) {
	name := c.Param("project")
	if tok, ok := c.Get(tokenKey).(*db.Token); ok && tok.Project == name {
		return name, nil // a project-scoped token exists only for an existing project
	}
	ps, err := s.store.ListProjects(c.Request().Context())
	if err != nil {
		return "", err
	}
	for _, p := range ps {
		if p.Name == name {
			return name, nil
		}
	}
	return "", &Error{Status: http.StatusNotFound, Field: "project", Message: fmt.Sprintf("unknown project %q (create it with PUT /api/v1/projects/%s and an all-projects token)", name, name)}
}

// idParam parses a positive integer route parameter.
func idParam(c echo.Context, name string) (int64, error) {
	v := c.Param(name)
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, &Error{Status: http.StatusBadRequest, Field: name, Message: fmt.Sprintf("%s %q is not a positive integer", name, v)}
	}
	return id, nil
}

// intQuery parses an optional non-negative integer query parameter (0 when absent).
func intQuery(c echo.Context, name string) (int64, error) {
	v := c.QueryParam(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, &Error{Status: http.StatusBadRequest, Field: name, Message: fmt.Sprintf("query parameter %s=%q is not a non-negative integer", name, v)}
	}
	return n, nil
}

// bindJSON decodes a small JSON request body strictly into v.
func bindJSON(c echo.Context, v any) error {
	mt := c.Request().Header.Get("Content-Type")
	if !strings.HasPrefix(mt, "application/json") {
		return &Error{Status: http.StatusUnsupportedMediaType, Field: "Content-Type", Message: fmt.Sprintf("Content-Type %q: send application/json", mt)}
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return err
	}
	body = bytes.TrimPrefix(body, []byte("\xEF\xBB\xBF"))
	if err := checkUTF8(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(body, dec, err)
	}
	return nil
}

func (s *Server) listProjects(c echo.Context) error {
	ps, err := s.store.ListProjects(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]map[string]any, len(ps))
	for i, p := range ps {
		out[i] = map[string]any{"name": p.Name, "created_at": p.CreatedAt}
	}
	return c.JSON(http.StatusOK, map[string]any{"projects": out})
}

// putProject creates a project (idempotent). Only an all-projects token may create one.
func (s *Server) putProject(c echo.Context) error {
	tok := c.Get(tokenKey).(*db.Token)
	if tok.Project != "" {
		return errorf(http.StatusForbidden, "creating a project needs an all-projects token")
	}
	name := c.Param("project")
	if !projectName.MatchString(name) {
		return &Error{Status: http.StatusUnprocessableEntity, Field: "project", Message: "project names are 1-200 letters, digits, '.', '_' or '-'"}
	}
	p, err := s.store.EnsureProject(c.Request().Context(), name)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"name": p.Name, "created_at": p.CreatedAt})
}

var projectName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,200}$`)

// postRun is the ingestion endpoint: POST /api/v1/projects/{project}/runs.
func (s *Server) postRun(c echo.Context) error {
	project, err := s.project(c)
	if err != nil {
		return err
	}
	in, err := decodeRun(c.Request(), limits{maxResults: s.cfg.MaxBenchmarks, maxSamples: 100000})
	if err != nil {
		return err
	}
	rep, created, err := s.submit(c.Request().Context(), project, in, "")
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if !created {
		status = http.StatusOK
	}
	c.Response().Header().Set("Location", rep.URL)
	return c.JSON(status, rep)
}

func (s *Server) listRuns(c echo.Context) error {
	project, err := s.project(c)
	if err != nil {
		return err
	}
	before, err := intQuery(c, "before")
	if err != nil {
		return err
	}
	lim, err := intQuery(c, "limit")
	if err != nil {
		return err
	}
	runs, err := s.store.ListRuns(c.Request().Context(), db.RunFilter{Project: project, Branch: c.QueryParam("branch"),
		Testbed: c.QueryParam("testbed"), Before: before, Limit: int(min(lim, 1000))})
	if err != nil {
		return err
	}
	out := make([]RunView, len(runs))
	for i, r := range runs {
		out[i] = s.runView(r)
	}
	return c.JSON(http.StatusOK, map[string]any{"runs": out})
}

// projectRun loads run :id and checks it belongs to the route's project (404 otherwise).
func (s *Server) projectRun(c echo.Context) (db.Run, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return db.Run{}, err
	}
	run, err := s.store.GetRun(c.Request().Context(), id)
	if err != nil {
		return db.Run{}, err
	}
	if run.Project != c.Param("project") {
		return db.Run{}, &Error{Status: http.StatusNotFound, Message: fmt.Sprintf("project %s has no run %d", c.Param("project"), id)}
	}
	return run, nil
}

// getRun returns a run with its results (raw samples with ?samples=1) and its alerts.
func (s *Server) getRun(c echo.Context) error {
	run, err := s.projectRun(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	results, err := s.store.Results(ctx, run.ID)
	if err != nil {
		return err
	}
	alerts, err := s.store.ListAlerts(ctx, db.AlertFilter{RunID: run.ID, Limit: 1000})
	if err != nil {
		return err
	}
	samples := c.QueryParam("samples") == "1" || c.QueryParam("samples") == "true"
	rv := make([]ResultView, len(results))
	for i, r := range results {
		rv[i] = resultView(r, samples)
	}
	av := make([]AlertView, len(alerts))
	for i, a := range alerts {
		av[i] = alertView(a)
	}
	return c.JSON(http.StatusOK, map[string]any{"run": s.runView(run), "results": rv, "alerts": av})
}

// getHistory returns a benchmark's history: ?name=&unit=&branch=&testbed=&limit=.
func (s *Server) getHistory(c echo.Context) error {
	project, err := s.project(c)
	if err != nil {
		return err
	}
	q := db.HistoryQuery{Project: project, Branch: c.QueryParam("branch"), Testbed: c.QueryParam("testbed"),
		Name: c.QueryParam("name"), Unit: c.QueryParam("unit")}
	for _, f := range []struct{ name, v string }{{"name", q.Name}, {"unit", q.Unit}, {"branch", q.Branch}, {"testbed", q.Testbed}} {
		if f.v == "" {
			return &Error{Status: http.StatusBadRequest, Field: f.name, Message: "query parameter " + f.name + " is required"}
		}
	}
	lim, err := intQuery(c, "limit")
	if err != nil {
		return err
	}
	q.Limit = int(min(lim, 10000))
	pts, err := s.store.BenchmarkHistory(c.Request().Context(), q)
	if err != nil {
		return err
	}
	out := make([]PointView, len(pts))
	for i, p := range pts {
		out[i] = pointView(p)
	}
	return c.JSON(http.StatusOK, map[string]any{"name": q.Name, "unit": q.Unit, "branch": q.Branch, "testbed": q.Testbed, "points": out})
}

// baselineName returns the baseline name of a /baselines/{name} route: the rest of the path,
// unescaped (Echo matches the raw path when it holds escapes such as %2F, and leaves them in).
func baselineName(c echo.Context) (string, error) {
	name, err := url.PathUnescape(c.Param("*"))
	if err != nil {
		return "", &Error{Status: http.StatusBadRequest, Field: "name", Message: fmt.Sprintf("baseline name %q: %v", c.Param("*"), err)}
	}
	if err := runner.CheckText(name, runner.MaxLabelBytes); err != nil {
		return "", &Error{Status: http.StatusBadRequest, Field: "name", Message: fmt.Sprintf("baseline name %+q %v", name, err)}
	}
	return name, nil
}

func (s *Server) listBaselines(c echo.Context) error {
	project, err := s.project(c)
	if err != nil {
		return err
	}
	bs, err := s.store.ListBaselines(c.Request().Context(), project)
	if err != nil {
		return err
	}
	out := make([]BaselineView, len(bs))
	for i, b := range bs {
		out[i] = BaselineView(b)
	}
	return c.JSON(http.StatusOK, map[string]any{"baselines": out})
}

// getBaseline answers JSON ({"name","run_id","updated_at"}), or with `Accept: text/plain`
// the baseline run's results as Go benchmark text (what `benchd run --server` reads).
func (s *Server) getBaseline(c echo.Context) error {
	project, err := s.project(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	name, err := baselineName(c)
	if err != nil {
		return err
	}
	b, err := s.store.GetBaseline(ctx, project, name)
	if errors.Is(err, db.ErrNotFound) {
		return errorf(http.StatusNotFound, "project %s has no baseline %q", project, name)
	}
	if err != nil {
		return err
	}
	accept := c.Request().Header.Get("Accept")
	if !strings.Contains(accept, "text/plain") || strings.Contains(accept, "application/json") {
		return c.JSON(http.StatusOK, BaselineView(b))
	}
	run, err := s.store.GetRun(ctx, b.RunID)
	if err != nil {
		return err
	}
	results, err := s.store.Results(ctx, b.RunID)
	if err != nil {
		return err
	}
	set := &runner.Set{Config: run.Config, Units: map[string]runner.Direction{}}
	for _, r := range results {
		set.Results = append(set.Results, r.Result)
		if r.Better != runner.DirUnknown {
			set.Units[r.Unit] = r.Better
		}
	}
	var buf bytes.Buffer
	if err := runner.WriteGoBench(&buf, set); err != nil {
		return err
	}
	c.Response().Header().Set("X-Benchd-Run-Id", itoa(run.ID))
	return c.Blob(http.StatusOK, "text/plain; charset=utf-8", buf.Bytes())
}

// putBaseline points baseline :name at a run: JSON {"run_id": N} names a stored run; Go
// benchmark text (text/plain, as `benchd run --save-baseline` sends) is stored as a run first
// (branch defaults to the baseline's name, trigger to cli) and the baseline points at it.
func (s *Server) putBaseline(c echo.Context) error {
	project, err := s.project(c)
	if err != nil {
		return err
	}
	name, err := baselineName(c)
	if err != nil {
		return err
	}
	if err := runner.CheckBaselineName(name); err != nil {
		return &Error{Status: http.StatusUnprocessableEntity, Field: "name", Message: err.Error()}
	}
	req := c.Request()
	var runID int64
	if strings.HasPrefix(req.Header.Get("Content-Type"), "text/plain") {
		q := req.URL.Query()
		if q.Get("branch") == "" && req.Header.Get("X-Benchd-Branch") == "" {
			req.Header.Set("X-Benchd-Branch", name)
		}
		if q.Get("trigger") == "" && req.Header.Get("X-Benchd-Trigger") == "" {
			req.Header.Set("X-Benchd-Trigger", "cli")
		}
		in, err := decodeRun(req, limits{maxResults: s.cfg.MaxBenchmarks, maxSamples: 100000})
		if err != nil {
			return err
		}
		// Stored, judged and named in one transaction.
		if _, _, err := s.submit(req.Context(), project, in, name); err != nil {
			return err
		}
		b, err := s.store.GetBaseline(req.Context(), project, name)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, BaselineView(b))
	} else {
		var body struct {
			RunID int64 `json:"run_id"`
		}
		if err := bindJSON(c, &body); err != nil {
			return err
		}
		if body.RunID <= 0 {
			return &Error{Status: http.StatusUnprocessableEntity, Field: "run_id", Message: "run_id must be a positive run id"}
		}
		runID = body.RunID
	}
	b, err := s.store.SetBaseline(req.Context(), project, name, runID)
	if errors.Is(err, db.ErrNotFound) {
		return &Error{Status: http.StatusUnprocessableEntity, Field: "run_id", Message: fmt.Sprintf("project %s has no run %d", project, runID)}
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, BaselineView(b))
}

func (s *Server) deleteBaseline(c echo.Context) error {
	project, err := s.project(c)
	if err != nil {
		return err
	}
	name, err := baselineName(c)
	if err != nil {
		return err
	}
	if err := s.store.DeleteBaseline(c.Request().Context(), project, name); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) listThresholds(c echo.Context) error {
	project, err := s.project(c)
	if err != nil {
		return err
	}
	ths, err := s.store.ListThresholds(c.Request().Context(), project)
	if err != nil {
		return err
	}
	out := make([]ThresholdView, len(ths))
	for i, t := range ths {
		out[i] = thresholdView(t)
	}
	defaults := len(out) == 0
	if defaults {
		for _, t := range runner.DefaultThresholds() {
			out = append(out, ThresholdView{Benchmark: t.Benchmark, Unit: t.Unit, Kind: string(t.Kind), Warn: t.Warn, Note: t.Note})
		}
	}
	return c.JSON(http.StatusOK, map[string]any{"thresholds": out, "defaults": defaults})
}

// thresholdBody reads and validates a threshold from the request body.
func thresholdBody(c echo.Context) (runner.Threshold, error) {
	var v ThresholdView
	if err := bindJSON(c, &v); err != nil {
		return runner.Threshold{}, err
	}
	th := runner.Threshold{Benchmark: v.Benchmark, Unit: v.Unit, Kind: runner.ThresholdKind(v.Kind), Warn: v.Warn, Note: v.Note}
	if th.Benchmark == "" {
		return th, &Error{Status: http.StatusUnprocessableEntity, Field: "benchmark", Message: "benchmark (a regular expression matching whole names) is required"}
	}
	for _, f := range []struct{ name, v string }{{"benchmark", th.Benchmark}, {"unit", th.Unit}, {"kind", v.Kind}, {"note", th.Note}} {
		if err := runner.CheckText(f.v, runner.MaxNameBytes); err != nil {
			return th, &Error{Status: http.StatusUnprocessableEntity, Field: f.name, Message: fmt.Sprintf("%s %+q %v", f.name, f.v, err)}
		}
	}
	if _, err := runner.NewRules([]runner.Threshold{th}); err != nil {
		return th, &Error{Status: http.StatusUnprocessableEntity, Field: "benchmark", Message: err.Error()}
	}
	return th, nil
}

func (s *Server) createThreshold(c echo.Context) error {
	project, err := s.project(c)
	if err != nil {
		return err
	}
	th, err := thresholdBody(c)
	if err != nil {
		return err
	}
	t, err := s.store.CreateThreshold(c.Request().Context(), project, th)
	if errors.Is(err, db.ErrConflict) {
		return errorf(http.StatusConflict, "project %s already has a %s rule for %s %s: PUT /thresholds/{id} to change it", project, th.Kind, th.Benchmark, th.Unit)
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, thresholdView(t))
}

// projectThreshold checks threshold :id belongs to the route's project.
func (s *Server) projectThreshold(c echo.Context, project string) (int64, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return 0, err
	}
	ths, err := s.store.ListThresholds(c.Request().Context(), project)
	if err != nil {
		return 0, err
	}
	for _, t := range ths {
		if t.ID == id {
			return id, nil
		}
	}
	return 0, errorf(http.StatusNotFound, "project %s has no threshold %d", project, id)
}

func (s *Server) updateThreshold(c echo.Context) error {
	project, err := s.project(c)
	if err != nil {
		return err
	}
	id, err := s.projectThreshold(c, project)
	if err != nil {
		return err
	}
	th, err := thresholdBody(c)
	if err != nil {
		return err
	}
	t, err := s.store.UpdateThreshold(c.Request().Context(), id, th)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, thresholdView(t))
}

func (s *Server) deleteThreshold(c echo.Context) error {
	project, err := s.project(c)
	if err != nil {
		return err
	}
	id, err := s.projectThreshold(c, project)
	if err != nil {
		return err
	}
	if err := s.store.DeleteThreshold(c.Request().Context(), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// listAlerts returns alerts: ?status=active|acknowledged|resolved&run_id=&before=&limit=.
func (s *Server) listAlerts(c echo.Context) error {
	project, err := s.project(c)
	if err != nil {
		return err
	}
	f := db.AlertFilter{Project: project, Status: db.AlertStatus(c.QueryParam("status"))}
	switch f.Status {
	case "", db.AlertActive, db.AlertAcknowledged, db.AlertResolved:
	default:
		return &Error{Status: http.StatusBadRequest, Field: "status", Message: fmt.Sprintf("status %q: want active, acknowledged or resolved", f.Status)}
	}
	if f.RunID, err = intQuery(c, "run_id"); err != nil {
		return err
	}
	if f.Before, err = intQuery(c, "before"); err != nil {
		return err
	}
	lim, err := intQuery(c, "limit")
	if err != nil {
		return err
	}
	f.Limit = int(min(lim, 1000))
	as, err := s.store.ListAlerts(c.Request().Context(), f)
	if err != nil {
		return err
	}
	out := make([]AlertView, len(as))
	for i, a := range as {
		out[i] = alertView(a)
	}
	return c.JSON(http.StatusOK, map[string]any{"alerts": out})
}

// acknowledgeAlert moves an active alert of the project to acknowledged.
func (s *Server) acknowledgeAlert(c echo.Context) error {
	project, err := s.project(c)
	if err != nil {
		return err
	}
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	// The Store has no GetAlert; an alert's project is checked through its run's alerts.
	all, err := s.store.ListAlerts(ctx, db.AlertFilter{Project: project, Before: id + 1, Limit: 1})
	if err != nil {
		return err
	}
	if len(all) == 0 || all[0].ID != id {
		return errorf(http.StatusNotFound, "project %s has no alert %d", project, id)
	}
	if err := s.store.AcknowledgeAlert(ctx, id); errors.Is(err, db.ErrConflict) {
		return errorf(http.StatusConflict, "alert %d is %s, only active alerts can be acknowledged", id, all[0].Status)
	} else if err != nil {
		return err
	}
	all[0].Status = db.AlertAcknowledged
	return c.JSON(http.StatusOK, alertView(all[0]))
}
