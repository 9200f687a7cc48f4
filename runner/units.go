package runner

import (
	"math"
	"strings"

	"golang.org/x/perf/benchunit"
)

// Scale is how values of one unit are shown to a person: benchunit's scaling (benchstat's
// style: at least three significant digits, an SI prefix, or a binary one for bytes) plus the
// unit a reader expects. It is the one owner of value formatting: pages, chart axes and
// tooltips, `benchd post`, `run` and `compare` all format through it.
type Scale struct {
	// Factor is the raw value of one display unit (1e-6 for µs, 1024 for KiB, 1e6 for M).
	Factor float64
	// Prec is the digits after the decimal point Format prints.
	Prec int
	// Symbol follows a formatted number: "µs", "KiB", "B", "M", "k" or "" (a plain count).
	Symbol string
	// Label names the axis of scaled values: "µs/op", "KiB/session", "M sessions/s",
	// "allocs/op".
	Label string
}

// ScaleOf returns the common Scale of vals in unit: the one that shows the value closest to
// zero with three significant digits. Units of time ("sec/…") scale to ns, µs, ms or s;
// units of bytes ("B/…") to B, KiB, MiB, GiB; anything else (rates, counts) gets k, M or G.
// With no non-zero finite value it returns the unscaled unit.
func ScaleOf(unit string, vals ...float64) Scale {
	finite := make([]float64, 0, len(vals))
	for _, v := range vals {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			finite = append(finite, v)
		}
	}
	num, per, hasPer := strings.Cut(unit, "/")
	if !hasPer {
		num, per = unit, ""
	}
	perPart := func(s string) string {
		if hasPer {
			return s + "/" + per
		}
		return s
	}
	switch {
	case num == "sec":
		s := benchunit.CommonScale(finite, benchunit.Decimal)
		if s.Factor > 1 { // seconds never scale up to ks: print 1500 s, not 1.5k s
			s = benchunit.Scaler{Prec: 1, Factor: 1}
		}
		sym := s.Prefix + "s"
		return Scale{Factor: s.Factor, Prec: s.Prec, Symbol: sym, Label: perPart(sym)}
	case benchunit.ClassOf(unit) == benchunit.Binary && (num == "B" || num == "bytes"):
		s := benchunit.CommonScale(finite, benchunit.Binary)
		sym := s.Prefix + "B"
		return Scale{Factor: s.Factor, Prec: s.Prec, Symbol: sym, Label: perPart(sym)}
	}
	cls := benchunit.ClassOf(unit)
	s := benchunit.CommonScale(finite, cls)
	label := unit
	if s.Prefix != "" {
		label = s.Prefix + " " + unit
	}
	return Scale{Factor: s.Factor, Prec: s.Prec, Symbol: s.Prefix, Label: label}
}

// Format formats v in s: "39.00 µs", "4.000 KiB", "4.800M", "300.0"; "–" for NaN or ±Inf.
func (s Scale) Format(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	out := benchunit.Scaler{Prec: s.Prec, Factor: s.Factor}.Format(v)
	switch s.Symbol {
	case "":
		return out
	case "k", "M", "G", "T":
		return out + s.Symbol
	}
	return out + " " + s.Symbol
}

// FormatValue formats v in unit for a person, scaled to its own size: "39.00 µs" for
// 3.9e-05 sec/op, "4.000 KiB" for 4096 B/op, "4.800M" for 4.8e6 sessions/s, "300.0" for
// 300 allocs/op; "–" for NaN or ±Inf. The unit itself is left to the column or axis it is
// shown under, except for the time or byte symbol that replaces it.
func FormatValue(v float64, unit string) string {
	return ScaleOf(unit, v).Format(v)
}

// FormatWithUnit formats v in s followed by its unit: "39.00 µs/op", "4.000 KiB/session",
// "808.0k sessions/s", "300.0 allocs/op"; for notes that stand on their own.
func (s Scale) FormatWithUnit(v float64, unit string) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "– " + unit
	}
	n := benchunit.Scaler{Prec: s.Prec, Factor: s.Factor}.Format(v)
	switch s.Symbol {
	case "", "k", "M", "G", "T":
		return n + s.Symbol + " " + unit
	}
	return n + " " + s.Label
}

// FormatValueUnit is FormatValue followed by the unit: "39.00 µs/op", "808.0k sessions/s".
func FormatValueUnit(v float64, unit string) string {
	return ScaleOf(unit, v).FormatWithUnit(v, unit)
}

// ParseDirection returns the Direction named by s ("higher" or "lower"), and false for any
// other string.
func ParseDirection(s string) (Direction, bool) {
	switch s {
	case "higher":
		return HigherBetter, true
	case "lower":
		return LowerBetter, true
	}
	return DirUnknown, false
}

// String returns "higher", "lower" or "unknown".
func (d Direction) String() string {
	switch d {
	case HigherBetter:
		return "higher"
	case LowerBetter:
		return "lower"
	}
	return "unknown"
}
