package runner

import (
	"math"

	"golang.org/x/perf/benchunit"
)

// formatValue formats v in unit with benchstat's scaling ("100.5µ sec/op",
// "4.000Ki B/session", "994.7k sessions/s").
func formatValue(v float64, unit string) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return benchunit.Scale(v, benchunit.Decimal) + " " + unit
	}
	return benchunit.Scale(v, benchunit.ClassOf(unit)) + " " + unit
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
