package runner

import (
	"bytes"
	"fmt"
	"math"

	"golang.org/x/perf/benchfmt"
)

// CheckValues returns an error "file:line: benchmark X unit U: …" for the first value of
// Go benchmark output data that is NaN, ±Inf or negative — values no benchmark cost or rate
// can have, which the server refuses too — and nil when every value is a finite number ≥ 0.
// Syntax errors are Parse's business and are skipped here.
func CheckValues(data []byte, fileName string) error {
	br := benchfmt.NewReader(bytes.NewReader(data), fileName)
	for br.Scan() {
		if rec, ok := br.Result().(*benchfmt.Result); ok {
			if err := checkRecord(rec); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkRecord returns CheckValues's error for the first bad value of rec, or nil.
func checkRecord(rec *benchfmt.Result) error {
	for _, v := range rec.Values {
		x, unit := v.Value, v.Unit
		if v.OrigUnit != "" { // as written, before benchunit tidied ns/op to sec/op
			x, unit = v.OrigValue, v.OrigUnit
		}
		what := ""
		switch {
		case math.IsNaN(x) || math.IsInf(x, 0):
			what = fmt.Sprintf("%v; values must be finite numbers", x)
		case x < 0:
			what = fmt.Sprintf("negative (%v); benchmark costs and rates are never negative", x)
		default:
			continue
		}
		file, line := rec.Pos()
		name, _ := splitName(rec.Name.String())
		return fmt.Errorf("%s:%d: benchmark %q unit %q: value is %s", file, line, name, unit, what)
	}
	return nil
}
