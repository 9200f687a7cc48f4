package main

import (
	"strings"
	"testing"
)

// TestCompareRefusesBadValues checks that compare refuses NaN, ±Inf and negative values with
// the file and line, as the server refuses a posted run with them.
func TestCompareRefusesBadValues(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"testdata/values_nan.txt", `testdata/values_nan.txt:4: benchmark "A" unit "ns/op": value is NaN`},
		{"testdata/values_inf.txt", `testdata/values_inf.txt:4: benchmark "A" unit "ns/op": value is +Inf`},
		{"testdata/values_negative.txt", `testdata/values_negative.txt:4: benchmark "A" unit "ns/op": value is negative`},
	} {
		for _, args := range [][]string{{"compare", tc.file, "testdata/new.txt"}, {"compare", "testdata/new.txt", tc.file}} {
			_, stderr, code := invoke(t, "", nil, args...)
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Errorf("for %v, got exit %d %q, want exit 2 mentioning %q", args, code, stderr, tc.want)
			}
		}
	}
}
