package runner

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"unicode/utf8"
)

// TextOptions tune WriteText.
type TextOptions struct {
	// Color marks verdicts with ANSI colours (only for a terminal). Default false.
	Color bool
}

const (
	ansiRed    = "\x1b[31;1m"
	ansiYellow = "\x1b[33m"
	ansiGreen  = "\x1b[32m"
	ansiReset  = "\x1b[0m"
)

// WriteText writes r as benchstat-style tables, one per unit: each benchmark's median ± 95%
// CI on both sides, the change ("~" when not significant), the p-value and the verdict with
// the rule that fired; statistical warnings as numbered footnotes; then failures and a
// headline. Each table is aligned in two passes over its rows (one to measure the columns,
// one to write), so a report from Pair.Report is written without holding its rows.
func WriteText(w io.Writer, r *Report, o TextOptions) error {
	bw := bufio.NewWriter(w)
	for _, c := range r.Config {
		fmt.Fprintf(bw, "%s: %s\n", c.Key, c.Value)
	}
	src := r.source()
	notes := newFootnotes()
	counts := make(map[Status]int)
	withOld := r.OldLabel != ""
	for _, g := range unitGroups(src) {
		unit := g.unit
		bw.WriteByte('\n')
		header := []string{unit, r.NewLabel}
		if withOld {
			header = []string{unit, r.OldLabel, r.NewLabel, "vs base", ""}
		}
		cols := columns{widths: make([]int, len(header))}
		cols.measure(header)
		for _, i := range g.rows {
			cols.measure(textCells(src.cmp(int(i)), unit, withOld))
		}
		cols.write(bw, header, "verdict")
		for _, i := range g.rows {
			c, v := src.row(int(i))
			counts[v.Status]++
			mark := notes.mark(c)
			cols.write(bw, textCells(c, unit, withOld), verdictText(v, o.Color)+mark)
		}
	}
	r.setCounts(counts)
	notes.write(bw, "")
	if len(r.Failures) > 0 {
		bw.WriteString("\nfailures:\n")
		for _, f := range r.Failures {
			fmt.Fprintf(bw, "  %s\n", f)
		}
	}
	if len(r.Warnings) > 0 {
		bw.WriteString("\nwarnings:\n")
		for _, s := range r.Warnings {
			fmt.Fprintf(bw, "  %s\n", s)
		}
	}
	fmt.Fprintf(bw, "\n%s\n", r.Headline())
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	return nil
}

// textCells returns the aligned cells of c's row in a text table of unit (the verdict,
// which is not aligned, follows them).
func textCells(c Comparison, unit string, withOld bool) []string {
	name := displayName(c.Name, c.Procs)
	if !withOld {
		return []string{name, formatSummary(c.New, unit)}
	}
	return []string{name, formatSummary(c.Old, unit), formatSummary(c.New, unit), formatDelta(c), formatP(c)}
}

// columns aligns lines of cells as text/tabwriter does with minwidth 0, padding 2, padding
// character ' ' and no flags, when every line has the same number of cells: each cell is
// padded to the width of its column's widest cell (in runes) plus two; the text after the
// last cell is not aligned. Measure every line first, then write.
//
// Note: text/tabwriter itself was used until issue 12: it holds the whole table until
// Flush, which at 10^6 benchmarks was about 300 MB per unit. Unlike it, columns gives no
// meaning to tabs or the 0xff escape byte inside a cell (benchmark names hold neither).
type columns struct{ widths []int }

// measure widens the columns to fit cells.
func (c *columns) measure(cells []string) {
	for j, s := range cells {
		c.widths[j] = max(c.widths[j], utf8.RuneCountInString(s)+2)
	}
}

// write writes one line: cells padded to the column widths, then last and a newline.
func (c *columns) write(w *bufio.Writer, cells []string, last string) {
	for j, s := range cells {
		w.WriteString(s)
		for range c.widths[j] - utf8.RuneCountInString(s) {
			w.WriteByte(' ')
		}
	}
	w.WriteString(last)
	w.WriteByte('\n')
}

// verdictText is the verdict column: the status (upper case when it is bad), the rule's
// note.
func verdictText(v Verdict, color bool) string {
	s := string(v.Status)
	col := ""
	switch v.Status {
	case StatusRegressed:
		s, col = "REGRESSED", ansiRed
	case StatusWarning:
		s, col = "WARNING", ansiYellow
	case StatusImproved:
		col = ansiGreen
	case StatusUnknown:
		s = "-"
	}
	if v.Rule != "" {
		s += " [" + v.Rule + "]"
	}
	if v.Note != "" && v.Status != StatusOK {
		s += " " + v.Note
	}
	if color && col != "" {
		s = col + s + ansiReset
	}
	return s
}

// unitGroup is the indices of the comparisons in one unit, in report order.
type unitGroup struct {
	unit string
	rows []int32
}

// unitGroups returns src's comparisons grouped by unit, the units in first-seen order.
func unitGroups(src rowSource) []unitGroup {
	var out []unitGroup
	idx := map[string]int{}
	for i := range src.len() {
		u := src.unit(i)
		g, ok := idx[u]
		if !ok {
			g = len(out)
			idx[u] = g
			out = append(out, unitGroup{unit: u})
		}
		out[g].rows = append(out[g].rows, int32(i))
	}
	return out
}

// footnotes numbers distinct warnings.
type footnotes struct {
	text []string
	num  map[string]int
}

func newFootnotes() *footnotes { return &footnotes{num: map[string]int{}} }

var superscripts = []string{"⁰", "¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹"}

// mark returns the footnote markers for c's warnings (" ¹²"), numbering new ones.
func (f *footnotes) mark(c Comparison) string {
	var ws []string
	ws = append(ws, c.Old.Warnings...)
	ws = append(ws, c.New.Warnings...)
	ws = append(ws, c.Warnings...)
	s := ""
	done := map[int]bool{}
	for _, w := range ws {
		n, ok := f.num[w]
		if !ok {
			f.text = append(f.text, w)
			n = len(f.text)
			f.num[w] = n
		}
		if !done[n] {
			done[n] = true
			s += superscript(n)
		}
	}
	if s != "" {
		s = " " + s
	}
	return s
}

func superscript(n int) string {
	s := ""
	for _, d := range fmt.Sprint(n) {
		s += superscripts[d-'0']
	}
	return s
}

func (f *footnotes) write(w io.Writer, prefix string) {
	if len(f.text) == 0 {
		return
	}
	fmt.Fprintln(w)
	for i, t := range f.text {
		fmt.Fprintf(w, "%s%s %s\n", prefix, superscript(i+1), t)
	}
}

// WriteMarkdown writes r as GitHub-flavoured markdown for a step summary or a PR comment:
// a headline, a table of what changed or fired (regressions, warnings, improvements), the
// failures, every result in a collapsed table, and the statistical notes collapsed too.
func WriteMarkdown(w io.Writer, r *Report) error {
	bw := bufio.NewWriter(w)
	src := r.source()
	// One pass for the headline and the changed rows: regressions and warnings, improvements.
	var bad, improved []int32
	counts := make(map[Status]int)
	for i := range src.len() {
		_, v := src.row(i)
		counts[v.Status]++
		switch v.Status {
		case StatusRegressed, StatusWarning:
			bad = append(bad, int32(i))
		case StatusImproved:
			improved = append(improved, int32(i))
		}
	}
	r.setCounts(counts)
	icon := map[Status]string{StatusRegressed: "🔴", StatusWarning: "🟡", StatusImproved: "🟢", StatusOK: "⚪", StatusUnknown: "⚪"}
	fmt.Fprintf(bw, "### benchd: %s %s\n\n", icon[r.Status()], r.Headline())
	if r.OldLabel != "" {
		fmt.Fprintf(bw, "Baseline `%s` vs `%s`. Regression: significant (Mann-Whitney U) and worse by at least the minimum effect.\n", r.OldLabel, r.NewLabel)
	} else {
		fmt.Fprintf(bw, "`%s`, no baseline.\n", r.NewLabel)
	}
	notes := newFootnotes()
	table := func(n int, at func(int) int) {
		for rows := range n {
			c, v := src.row(at(rows))
			if rows == 0 {
				if r.OldLabel != "" {
					bw.WriteString("\n| benchmark | unit | " + mdEscape(r.OldLabel) + " | " + mdEscape(r.NewLabel) + " | change | p | verdict |\n")
					bw.WriteString("|---|---|--:|--:|--:|--:|---|\n")
				} else {
					bw.WriteString("\n| benchmark | unit | " + mdEscape(r.NewLabel) + " | verdict |\n|---|---|--:|---|\n")
				}
			}
			verdict := icon[v.Status] + " " + string(v.Status)
			if v.Note != "" && v.Status != StatusOK {
				verdict += ": " + v.Note
			}
			verdict += notes.mark(c)
			if r.OldLabel != "" {
				fmt.Fprintf(bw, "| `%s` | %s | %s | %s | %s | %s | %s |\n", displayName(c.Name, c.Procs), c.Unit,
					formatSummary(c.Old, c.Unit), formatSummary(c.New, c.Unit), formatDelta(c), formatPValue(c), mdEscape(verdict))
			} else {
				fmt.Fprintf(bw, "| `%s` | %s | %s | %s |\n", displayName(c.Name, c.Procs), c.Unit, formatSummary(c.New, c.Unit), mdEscape(verdict))
			}
		}
	}
	// What changed or fired: regressions and warnings, then improvements.
	changed := append(bad, improved...)
	table(len(changed), func(k int) int { return int(changed[k]) })
	if len(changed) == 0 {
		bw.WriteString("\nNo regressions, warnings or improvements.\n")
	}
	if len(r.Failures) > 0 {
		bw.WriteString("\n**Failures**\n\n")
		for _, f := range r.Failures {
			fmt.Fprintf(bw, "- `%s` %s: %s\n", displayName(f.Name, 0)+f.pkgIfNoName(), f.Kind, mdEscape(f.Message))
		}
	}
	if n := src.len(); n > 0 {
		fmt.Fprintf(bw, "\n<details><summary>All %d results</summary>\n", n)
		table(n, func(k int) int { return k })
		bw.WriteString("\n</details>\n")
	}
	if len(notes.text) > 0 || len(r.Warnings) > 0 {
		bw.WriteString("\n<details><summary>Statistical notes</summary>\n")
		notes.write(bw, "- ")
		for _, s := range r.Warnings {
			fmt.Fprintf(bw, "- %s\n", mdEscape(s))
		}
		bw.WriteString("\n</details>\n")
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	return nil
}

func (f Failure) pkgIfNoName() string {
	if f.Name == "" {
		return f.Pkg
	}
	return ""
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;", "\n", " ").Replace(s)
}

// JSONSchema is the value of the "schema" field of WriteJSON's output. It changes only when
// a field is removed or changes meaning; fields may be added.
const JSONSchema = "benchd.report/v1"

type jsonReport struct {
	Schema   string       `json:"schema"`
	Status   Status       `json:"status"`
	Summary  string       `json:"summary"`
	Old      string       `json:"old,omitempty"`
	New      string       `json:"new"`
	Config   []jsonConfig `json:"config"`
	Results  []jsonResult `json:"results"`
	Failures []Failure    `json:"failures"`
	Warnings []string     `json:"warnings"`
}

type jsonConfig struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type jsonResult struct {
	Pkg      string       `json:"pkg,omitempty"`
	Name     string       `json:"name"`
	Procs    int          `json:"procs,omitempty"`
	Unit     string       `json:"unit"`
	Better   string       `json:"better"`
	Old      *jsonSummary `json:"old"`
	New      *jsonSummary `json:"new"`
	Delta    jsonFloat    `json:"delta"`
	P        jsonFloat    `json:"p"`
	Status   Status       `json:"status"`
	Rule     string       `json:"rule"`
	Limit    jsonFloat    `json:"limit"`
	Note     string       `json:"note"`
	Warnings []string     `json:"warnings"`
}

type jsonSummary struct {
	Median   jsonFloat `json:"median"`
	Lo       jsonFloat `json:"lo"`
	Hi       jsonFloat `json:"hi"`
	N        int       `json:"n"`
	Warnings []string  `json:"warnings"`
}

// jsonFloat encodes NaN and ±Inf (an unbounded CI) as null.
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(f))
}

func toJSONSummary(s Summary) *jsonSummary {
	if s.N == 0 {
		return nil
	}
	return &jsonSummary{jsonFloat(s.Median), jsonFloat(s.Lo), jsonFloat(s.Hi), s.N, nonNil(s.Warnings)}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// WriteJSON writes r as one indented JSON object (schema JSONSchema, documented in
// docs/cli.md). Values are in the tidied unit (sec/op, not ns/op); infinite CI bounds are
// null; lists are [] rather than null when empty. The results are encoded one at a time,
// so a report from Pair.Report is written without holding them.
func WriteJSON(w io.Writer, r *Report) error {
	bw := bufio.NewWriter(w)
	head := jsonReport{Schema: JSONSchema, Status: r.Status(), Summary: r.Headline(), Old: r.OldLabel, New: r.NewLabel,
		Config: []jsonConfig{}, Failures: nonNil(r.Failures), Warnings: nonNil(r.Warnings)}
	for _, c := range r.Config {
		head.Config = append(head.Config, jsonConfig(c))
	}
	// The object as json.Encoder with SetIndent("", "  ") writes it, results spliced in.
	b, err := json.MarshalIndent(head, "", "  ")
	if err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	const resultsField = "\n  \"results\": null"
	cut := bytes.Index(b, []byte(resultsField))
	if cut < 0 {
		panic("runner: results field not found in the encoded report")
	}
	bw.Write(b[:cut])
	bw.WriteString("\n  \"results\": [")
	src := r.source()
	for i := range src.len() {
		c, v := src.row(i)
		res := jsonResult{Pkg: c.Pkg, Name: c.Name, Procs: c.Procs, Unit: c.Unit, Better: c.Better.String(),
			Old: toJSONSummary(c.Old), New: toJSONSummary(c.New), Delta: jsonFloat(c.Delta), P: jsonFloat(c.P),
			Status: v.Status, Rule: v.Rule, Limit: jsonFloat(v.Limit), Note: v.Note, Warnings: nonNil(c.Warnings)}
		rb, err := json.MarshalIndent(res, "    ", "  ")
		if err != nil {
			return fmt.Errorf("writing report: %w", err)
		}
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString("\n    ")
		bw.Write(rb)
	}
	if src.len() > 0 {
		bw.WriteString("\n  ")
	}
	bw.WriteString("]")
	bw.Write(b[cut+len(resultsField):])
	bw.WriteByte('\n')
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	return nil
}
