package sessioncore

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// benchUnits is the Go benchmark-format unit metadata for the custom metrics, printed before
// benchmarks run so tools that read the format (benchstat, benchd's runner) know the direction.
const benchUnits = `Unit sessions/s better=higher
Unit calls/s better=higher
Unit casts/s better=higher
Unit ops/s better=higher
Unit B/session better=lower
Unit ns/session better=lower
Unit ns/expired better=lower
Unit ns/conn better=lower
Unit full/op better=lower
`

func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f != nil && f.Value.String() != "" {
		fmt.Fprint(os.Stdout, benchUnits)
	}
	goleak.VerifyTestMain(m)
}
