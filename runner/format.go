package runner

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
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
// headline.
func WriteText(w io.Writer, r *Report, o TextOptions) error {
	bw := bufio.NewWriter(w)
	for _, c := range r.Config {
		fmt.Fprintf(bw, "%s: %s\n", c.Key, c.Value)
	}
	notes := newFootnotes()
	for _, unit := range units(r) {
		bw.WriteByte('\n')
		tw := tabwriter.NewWriter(bw, 0, 4, 2, ' ', 0)
		if r.OldLabel != "" {
			fmt.Fprintf(tw, "%s\t%s\t%s\tvs base\t\tverdict\n", unit, r.OldLabel, r.NewLabel)
		} else {
			fmt.Fprintf(tw, "%s\t%s\tverdict\n", unit, r.NewLabel)
		}
		for i, c := range r.Comparisons {
			if c.Unit != unit {
				continue
			}
			v := r.Verdicts[i]
			mark := notes.mark(c)
			verdict := verdictText(v, o.Color)
			if r.OldLabel != "" {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s%s\n", displayName(c.Name, c.Procs), formatSummary(c.Old, unit),
					formatSummary(c.New, unit), formatDelta(c), formatP(c), verdict, mark)
			} else {
				fmt.Fprintf(tw, "%s\t%s\t%s%s\n", displayName(c.Name, c.Procs), formatSummary(c.New, unit), verdict, mark)
			}
		}
		tw.Flush()
	}
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

// units returns the units of r's comparisons in first-seen order.
func units(r *Report) []string {
	var out []string
	seen := map[string]bool{}
	for _, c := range r.Comparisons {
		if !seen[c.Unit] {
			seen[c.Unit] = true
			out = append(out, c.Unit)
		}
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
	icon := map[Status]string{StatusRegressed: "🔴", StatusWarning: "🟡", StatusImproved: "🟢", StatusOK: "⚪", StatusUnknown: "⚪"}
	fmt.Fprintf(bw, "### benchd: %s %s\n\n", icon[r.Status()], r.Headline())
	if r.OldLabel != "" {
		fmt.Fprintf(bw, "Baseline `%s` vs `%s`. Regression: significant (Mann-Whitney U) and worse by at least the minimum effect.\n", r.OldLabel, r.NewLabel)
	} else {
		fmt.Fprintf(bw, "`%s`, no baseline.\n", r.NewLabel)
	}
	notes := newFootnotes()
	table := func(idx []int) {
		for rows, i := range idx {
			c, v := r.Comparisons[i], r.Verdicts[i]
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
	var changed, all []int
	for _, want := range [][]Status{{StatusRegressed, StatusWarning}, {StatusImproved}} {
		for i, v := range r.Verdicts {
			if slices.Contains(want, v.Status) {
				changed = append(changed, i)
			}
		}
	}
	for i := range r.Comparisons {
		all = append(all, i)
	}
	table(changed)
	if len(changed) == 0 {
		bw.WriteString("\nNo regressions, warnings or improvements.\n")
	}
	if len(r.Failures) > 0 {
		bw.WriteString("\n**Failures**\n\n")
		for _, f := range r.Failures {
			fmt.Fprintf(bw, "- `%s` %s: %s\n", displayName(f.Name, 0)+f.pkgIfNoName(), f.Kind, mdEscape(f.Message))
		}
	}
	if len(r.Comparisons) > 0 {
		fmt.Fprintf(bw, "\n<details><summary>All %d results</summary>\n", len(r.Comparisons))
		table(all)
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
// null; lists are [] rather than null when empty.
func WriteJSON(w io.Writer, r *Report) error {
	out := jsonReport{Schema: JSONSchema, Status: r.Status(), Summary: r.Headline(), Old: r.OldLabel, New: r.NewLabel,
		Config: []jsonConfig{}, Results: []jsonResult{}, Failures: nonNil(r.Failures), Warnings: nonNil(r.Warnings)}
	for _, c := range r.Config {
		out.Config = append(out.Config, jsonConfig(c))
	}
	for i, c := range r.Comparisons {
		v := r.Verdicts[i]
		out.Results = append(out.Results, jsonResult{Pkg: c.Pkg, Name: c.Name, Procs: c.Procs, Unit: c.Unit, Better: c.Better.String(),
			Old: toJSONSummary(c.Old), New: toJSONSummary(c.New), Delta: jsonFloat(c.Delta), P: jsonFloat(c.P),
			Status: v.Status, Rule: v.Rule, Limit: jsonFloat(v.Limit), Note: v.Note, Warnings: nonNil(c.Warnings)})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	return nil
}
