package runner

// This file holds the value types shared with db/ and web/ (see DESIGN.md: db and web may
// import runner for its value types). Keep their field names stable; add fields freely.

// Direction says which way a unit improves.
type Direction int8

const (
	// DirUnknown means the unit carries no better= metadata and no default applies.
	DirUnknown Direction = 0
	// LowerBetter is for costs: sec/op, B/op, allocs/op, B/session.
	LowerBetter Direction = -1
	// HigherBetter is for rates: sessions/s, calls/s, MB/s.
	HigherBetter Direction = 1
)

// Result is the raw samples of one benchmark measured in one unit.
type Result struct {
	// Name is the benchmark name without the "Benchmark" prefix and without the -GOMAXPROCS
	// suffix, e.g. "Create/n=1000".
	Name string
	// Procs is the GOMAXPROCS suffix the benchmark ran with (0 when the line had none).
	Procs int
	// Unit is the tidied unit (benchunit): ns/op becomes sec/op, MB/s becomes B/s.
	Unit string
	// Better is the unit's direction, from `Unit … better=` metadata or the unit's default.
	Better Direction
	// Samples holds one value per repetition (-count), in Unit. Never empty in a valid run.
	Samples []float64
	// Pkg is the `pkg:` config value the benchmark ran under ("" when the output had none).
	// Results of the same Name in different packages are different results.
	Pkg string
	// Exact is set by a `Unit … assume=exact` line: the unit has no noise (a count, a size),
	// so its summary is the value itself and any difference is a change, as in benchstat.
	Exact bool `json:"exact,omitempty"`
}

// ConfigLine is one `key: value` line of Go benchmark output (goos, goarch, pkg, cpu, …).
type ConfigLine struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Summary is the centre and 95% confidence interval of a sample, in the sample's unit.
type Summary struct {
	Median float64
	Lo     float64 // lower bound of the 95% CI of the median
	Hi     float64 // upper bound of the 95% CI of the median
	N      int     // number of samples
	// Warnings are statistical caveats (too few samples, …) shown next to the figure.
	Warnings []string
}

// Status is the verdict of one benchmark/unit.
type Status string

const (
	StatusOK        Status = "ok"        // within limits, no significant change
	StatusImproved  Status = "improved"  // significantly better than the baseline
	StatusRegressed Status = "regressed" // significantly worse by at least the minimum effect
	StatusWarning   Status = "warning"   // a static, scaling or change-point rule fired
	StatusUnknown   Status = "unknown"   // not enough data to judge (no baseline, too few samples)
)

// ThresholdKind names the rule a Threshold applies.
type ThresholdKind string

const (
	// KindUpper warns when the median is above Warn (e.g. lookup sec/op ≥ 1e-3).
	KindUpper ThresholdKind = "upper"
	// KindLower warns when the median is below Warn (e.g. sessions/s < 1000).
	KindLower ThresholdKind = "lower"
	// KindRegression warns when the change vs the baseline is significant and worse by at
	// least Warn percent (the minimum effect).
	KindRegression ThresholdKind = "regression"
	// KindScaling warns when per-op cost grows by more than Warn times the growth of n
	// across the `n=` variants of one benchmark family.
	KindScaling ThresholdKind = "scaling"
)

// Threshold is one rule, data not code: which benchmarks and unit it covers and its limit.
type Threshold struct {
	// Benchmark is a regular expression matched against Result.Name (anchored by the caller).
	Benchmark string
	// Unit is the tidied unit the rule applies to ("" = every unit).
	Unit string
	Kind ThresholdKind
	// Warn is the limit: in Unit for upper/lower, in percent for regression, a ratio for scaling.
	Warn float64
	// Note says where the limit comes from ("seed: gateway target < 0.1 ms").
	Note string
}

// Verdict is the judgement of one benchmark/unit of a run, naming the rule that fired.
type Verdict struct {
	Name   string `json:"name"`
	Unit   string `json:"unit"`
	Status Status `json:"status"`
	// Rule names what decided the status: "regression", "upper", "lower", "scaling",
	// "changepoint", or "" when nothing fired.
	Rule string `json:"rule"`
	// Value is the run's median; Baseline the baseline's median (0 when none).
	Value    float64 `json:"value"`
	Baseline float64 `json:"baseline"`
	// Limit is the threshold's limit that applied (0 when none).
	Limit float64 `json:"limit"`
	// Delta is the relative change vs the baseline ((new-old)/old, 0.05 = +5%).
	Delta float64 `json:"delta"`
	// P is the Mann-Whitney U p-value vs the baseline (1 when there is no baseline).
	P float64 `json:"p"`
	// Note is a human-readable reason ("worse by 12.3% (p=0.002, n=10+10)").
	Note string `json:"note"`
	// Against names the baseline the verdict was judged against ("baseline main (run 12)",
	// "history of main (5 runs, 30–34)"; "" when there was none).
	Against string `json:"against,omitempty"`
	// Better is the direction of Unit the verdict was judged with.
	Better Direction `json:"-"`
}
