package web

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/benchd/benchd/db"
	"github.com/benchd/benchd/runner"
)

// ComparePage is the view of /compare?old=RUN|baseline:NAME&new=RUN: two runs side by side,
// judged like a posted run (benchstat-style).
type ComparePage struct {
	Old, New RunView
	OldLabel string
	Headline string
	Rows     []CompareRow
	// Text is runner's benchstat-style report of the same comparison.
	Text string
}

// CompareRow is one benchmark/unit of the comparison.
type CompareRow struct {
	Name, Unit string
	// Link is the benchmark page of the new run's branch and testbed.
	Link             string
	Old, New         string
	Delta, P, Status string
	Rule, Note       string
}

func (s *Server) comparePage(c echo.Context) error {
	ctx := c.Request().Context()
	newID, err := strconv.ParseInt(c.QueryParam("new"), 10, 64)
	if err != nil || newID <= 0 {
		return &Error{Status: http.StatusBadRequest, Field: "new", Message: "The compare page needs ?new=RUN_ID and ?old=RUN_ID or ?old=baseline:NAME."}
	}
	newRun, err := s.store.GetRun(ctx, newID)
	if err != nil {
		return err
	}
	oldParam := c.QueryParam("old")
	var oldID int64
	if name, ok := strings.CutPrefix(oldParam, "baseline:"); ok {
		bl, err := s.store.GetBaseline(ctx, newRun.Project, name)
		if errors.Is(err, db.ErrNotFound) {
			return errorf(http.StatusNotFound, "Project %s has no baseline %q.", newRun.Project, name)
		} else if err != nil {
			return err
		}
		oldID = bl.RunID
	} else if oldID, err = strconv.ParseInt(oldParam, 10, 64); err != nil || oldID <= 0 {
		return &Error{Status: http.StatusBadRequest, Field: "old", Message: "The compare page needs ?old=RUN_ID or ?old=baseline:NAME."}
	}
	oldRun, err := s.store.GetRun(ctx, oldID)
	if err != nil {
		return err
	}
	if oldRun.Project != newRun.Project {
		return errorf(http.StatusBadRequest, "Runs %d and %d belong to different projects.", oldID, newID)
	}
	oldSet, err := s.runSet(c, oldRun)
	if err != nil {
		return err
	}
	newSet, err := s.runSet(c, newRun)
	if err != nil {
		return err
	}
	ths, err := s.store.ListThresholds(ctx, newRun.Project)
	if err != nil {
		return err
	}
	stored := make([]runner.Threshold, len(ths))
	for i, t := range ths {
		stored[i] = t.Threshold
	}
	rules, _ := runner.RuleSource(stored, s.cfg.Thresholds)
	compiled, err := runner.NewRules(rules)
	if err != nil {
		return fmt.Errorf("compiling thresholds of %s: %w", newRun.Project, err)
	}
	label := fmt.Sprintf("run %d", oldID)
	if oldParam != strconv.FormatInt(oldID, 10) {
		label = oldParam
	}
	rep := runner.NewReport(oldSet, newSet, label, fmt.Sprintf("run %d", newID), compiled, s.cfg.Options)
	v := &ComparePage{Old: s.runView(oldRun), New: s.runView(newRun), OldLabel: label, Headline: rep.Headline()}
	for i, cmp := range rep.Comparisons {
		vd := rep.Verdicts[i]
		row := CompareRow{Name: cmp.Name, Unit: cmp.Unit, Status: string(vd.Status), Rule: vd.Rule, Note: vd.Note,
			Link: benchmarkLink(newRun.Project, newRun.Branch, newRun.Testbed, cmp.Name, cmp.Unit)}
		if cmp.Old.N > 0 {
			row.Old = runner.FormatValue(cmp.Old.Median, cmp.Unit)
		}
		if cmp.New.N > 0 {
			row.New = runner.FormatValue(cmp.New.Median, cmp.Unit)
		}
		if cmp.Old.N > 0 && cmp.New.N > 0 {
			row.Delta = fmt.Sprintf("%+.1f%%", cmp.Delta*100)
			row.P = fmt.Sprintf("%.3f", cmp.P)
		}
		v.Rows = append(v.Rows, row)
	}
	sort.SliceStable(v.Rows, func(i, j int) bool { return severity(v.Rows[i].Status) < severity(v.Rows[j].Status) })
	var buf bytes.Buffer
	if err := runner.WriteText(&buf, rep, runner.TextOptions{}); err != nil {
		return err
	}
	v.Text = buf.String()
	return s.render(c, http.StatusOK, "compare", page{Nav: "runs", Data: v})
}

// runSet loads a stored run as a runner.Set.
func (s *Server) runSet(c echo.Context, run db.Run) (*runner.Set, error) {
	results, err := s.store.Results(c.Request().Context(), run.ID)
	if err != nil {
		return nil, err
	}
	set := &runner.Set{Config: run.Config}
	for _, r := range results {
		set.Results = append(set.Results, r.Result)
	}
	return set, nil
}
