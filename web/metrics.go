package web

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics holds benchd's Prometheus collectors. One Metrics belongs to one registry, so tests
// can build many servers without colliding on the global registry.
type Metrics struct {
	// Requests counts HTTP requests by route pattern, method and status code.
	Requests *prometheus.CounterVec
	// RequestSeconds is the latency of HTTP requests by route pattern, in seconds.
	RequestSeconds *prometheus.HistogramVec
	// IngestedRuns counts runs stored through the API, by trigger.
	IngestedRuns *prometheus.CounterVec
	// IngestedResults counts results (benchmark × unit) stored through the API.
	IngestedResults prometheus.Counter
	// JobSeconds is the duration of benchmark jobs by kind and outcome (ok, error, cancelled).
	JobSeconds *prometheus.HistogramVec
	// JobFailures counts failed job attempts by River kind and what follows: retried,
	// discarded (out of attempts), cancelled (cannot succeed) or interrupted (shutdown).
	JobFailures *prometheus.CounterVec
	// WebhookDeliveries counts GitHub deliveries by event and what was done (queued, ignored, duplicate).
	WebhookDeliveries *prometheus.CounterVec
}

// AlertCounter reports the number of open (active) alerts; the Store implements it. It is
// called on every scrape of /metrics with a short timeout.
type AlertCounter interface {
	AlertsOpenCount(ctx context.Context) (int64, error)
}

// NewMetrics registers benchd's collectors on reg (and the Go and process collectors). When
// alerts is non-nil an open-alerts gauge is read from it on every scrape.
func NewMetrics(reg prometheus.Registerer, alerts AlertCounter) *Metrics {
	m := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "benchd_http_requests_total", Help: "HTTP requests by route, method and status code.",
		}, []string{"route", "method", "code"}),
		RequestSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "benchd_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"route"}),
		IngestedRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "benchd_ingested_runs_total", Help: "Runs stored through the API, by trigger.",
		}, []string{"trigger"}),
		IngestedResults: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "benchd_ingested_results_total", Help: "Results (benchmark x unit) stored through the API.",
		}),
		JobSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "benchd_job_duration_seconds", Help: "Benchmark job duration by kind and outcome.",
			Buckets: []float64{1, 5, 10, 30, 60, 120, 300, 600, 1800},
		}, []string{"kind", "outcome"}),
		JobFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "benchd_job_failures_total", Help: "Failed job attempts by kind and outcome (retried, discarded, cancelled, interrupted).",
		}, []string{"kind", "outcome"}),
		WebhookDeliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "benchd_webhook_deliveries_total", Help: "GitHub webhook deliveries by event and action taken.",
		}, []string{"event", "action"}),
	}
	reg.MustRegister(m.Requests, m.RequestSeconds, m.IngestedRuns, m.IngestedResults, m.JobSeconds, m.JobFailures, m.WebhookDeliveries,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if alerts != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "benchd_alerts_open", Help: "Active (unacknowledged, unresolved) alerts; -1 when the database cannot be read.",
		}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			n, err := alerts.AlertsOpenCount(ctx)
			if err != nil {
				return -1
			}
			return float64(n)
		}))
	}
	return m
}

// observe records a finished request by its route pattern (never the raw path, which would
// make one series per run id).
func (m *Metrics) observe(route, method string, status int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	m.Requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.RequestSeconds.WithLabelValues(route).Observe(d.Seconds())
}
