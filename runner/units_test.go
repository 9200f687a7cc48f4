package runner

import (
	"math"
	"testing"
)

func TestFormatValue(t *testing.T) {
	for _, tc := range []struct {
		v          float64
		unit, want string
	}{
		{2.69e-05, "sec/op", "26.90 µs"},
		{3.9e-05, "sec/op", "39.00 µs"},
		{3.153e-08, "sec/op", "31.53 ns"},
		{3.345e-07, "sec/session", "334.5 ns"},
		{0.0123, "sec/op", "12.30 ms"},
		{2.5, "sec/op", "2.500 s"},
		{1500, "sec/op", "1500.0 s"},
		{4800000, "sessions/s", "4.800M"},
		{994700, "sessions/s", "994.7k"},
		{4096, "B/op", "4.000 KiB"},
		{512, "B/session", "512.0 B"},
		{3 << 20, "B/op", "3.000 MiB"},
		{300, "allocs/op", "300.0"},
		{0, "allocs/op", "0.000"},
		{math.Inf(1), "sec/op", "–"},
		{math.NaN(), "sec/op", "–"},
	} {
		if got := FormatValue(tc.v, tc.unit); got != tc.want {
			t.Errorf("for FormatValue(%g, %q), got %q, want %q", tc.v, tc.unit, got, tc.want)
		}
	}
}

func TestScaleOf(t *testing.T) {
	for _, tc := range []struct {
		unit   string
		vals   []float64
		factor float64
		label  string
		format string // of vals[0]
	}{
		{"sec/op", []float64{2.69e-5, 3.9e-5, 1.2e-4}, 1e-6, "µs/op", "26.90 µs"},
		{"sec/session", []float64{3.345e-7}, 1e-9, "ns/session", "334.5 ns"},
		{"sessions/s", []float64{4.8e6, 3.6e6}, 1e6, "M sessions/s", "4.800M"},
		{"B/op", []float64{51200}, 1024, "KiB/op", "50.00 KiB"},
		{"allocs/op", []float64{300}, 1, "allocs/op", "300.0"},
		{"sec/op", nil, 1, "s/op", ""},
	} {
		s := ScaleOf(tc.unit, tc.vals...)
		if math.Abs(s.Factor-tc.factor) > tc.factor*1e-9 || s.Label != tc.label {
			t.Errorf("for ScaleOf(%q, %v), got factor %g label %q, want %g %q", tc.unit, tc.vals, s.Factor, s.Label, tc.factor, tc.label)
		}
		if len(tc.vals) > 0 && s.Format(tc.vals[0]) != tc.format {
			t.Errorf("for ScaleOf(%q, %v).Format(%g), got %q, want %q", tc.unit, tc.vals, tc.vals[0], s.Format(tc.vals[0]), tc.format)
		}
	}
	if got := FormatValueUnit(808000, "sessions/s"); got != "808.0k sessions/s" {
		t.Errorf("for FormatValueUnit(808000, sessions/s), got %q", got)
	}
	if got := FormatValueUnit(2.399e-3, "sec/op"); got != "2.399 ms/op" {
		t.Errorf("for FormatValueUnit(2.399e-3, sec/op), got %q", got)
	}
}
