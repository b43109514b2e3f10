package server

import (
	"github.com/crossrank/crossrank/rerank"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the server's Prometheus series. Each Server has its own
// registry, so that tests can run several servers in one process.
type metrics struct {
	reg *prometheus.Registry

	requests     *prometheus.CounterVec   // endpoint, form, code
	latency      *prometheus.HistogramVec // endpoint, form: whole request, accepted or not
	queueWait    prometheus.Histogram     // time in the admission queue
	rejected     *prometheus.CounterVec   // reason: queue_full, queue_timeout, draining, not_ready
	canceled     prometheus.Counter       // clients that went away mid-request
	pairs        *prometheus.CounterVec   // model
	tokens       *prometheus.CounterVec   // model
	truncated    *prometheus.CounterVec   // model: documents cut to fit
	docsPerReq   prometheus.Histogram
	batchPairs   *prometheus.HistogramVec // model
	batchTokens  *prometheus.HistogramVec // model
	batchWait    *prometheus.HistogramVec // model: pairs' wait for a forward pass
	batchLatency *prometheus.HistogramVec // model: the forward pass
	batchRetries *prometheus.CounterVec   // model: passes split after device OOM
	// memoryReleases counts returns of idle memory to the OS.
	memoryReleases prometheus.Counter
}

// latencyBuckets cover 1 ms (one pair on a GPU) to 1 minute (a large
// request queued behind others on a small CPU).
var latencyBuckets = prometheus.ExponentialBucketsRange(0.001, 60, 18)

func newMetrics(s *Server) *metrics {
	reg := prometheus.NewRegistry()
	m := &metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crossrank_requests_total",
			Help: "HTTP requests answered, by endpoint, request form and status code.",
		}, []string{"endpoint", "form", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "crossrank_request_duration_seconds",
			Help:    "Time from reading a request to writing its answer, queueing included.",
			Buckets: latencyBuckets,
		}, []string{"endpoint", "form"}),
		queueWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "crossrank_queue_wait_seconds",
			Help:    "Time an accepted request waited in the admission queue.",
			Buckets: latencyBuckets,
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crossrank_rejected_total",
			Help: "Requests refused with 429 or 503, by reason.",
		}, []string{"reason"}),
		canceled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "crossrank_canceled_total",
			Help: "Requests whose client disconnected before the answer; their work was cancelled.",
		}),
		pairs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crossrank_pairs_total",
			Help: "(query, document) pairs scored.",
		}, []string{"model"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crossrank_tokens_total",
			Help: "Tokens of the scored pairs, special tokens included.",
		}, []string{"model"}),
		truncated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crossrank_truncated_documents_total",
			Help: "Documents cut to fit the model's maximum length.",
		}, []string{"model"}),
		docsPerReq: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "crossrank_request_documents",
			Help:    "Documents per accepted request.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 12),
		}),
		batchPairs: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "crossrank_batch_pairs",
			Help:    "Pairs per forward pass (batch size).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10),
		}, []string{"model"}),
		batchTokens: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "crossrank_batch_tokens",
			Help:    "Packed tokens per forward pass.",
			Buckets: prometheus.ExponentialBuckets(16, 2, 12),
		}, []string{"model"}),
		batchWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "crossrank_batch_wait_seconds",
			Help:    "Longest time a pair of a forward pass waited in the re-ranker's batch queue.",
			Buckets: latencyBuckets,
		}, []string{"model"}),
		batchLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "crossrank_batch_duration_seconds",
			Help:    "Duration of one forward pass.",
			Buckets: latencyBuckets,
		}, []string{"model"}),
		batchRetries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crossrank_batch_retries_total",
			Help: "Forward passes split into smaller ones after running out of device memory.",
		}, []string{"model"}),
		memoryReleases: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "crossrank_memory_releases_total",
			Help: "Times the server, idle after a burst, returned freed memory to the operating system.",
		}),
	}
	reg.MustRegister(m.memoryReleases, m.requests, m.latency, m.queueWait, m.rejected, m.canceled,
		m.pairs, m.tokens, m.truncated, m.docsPerReq,
		m.batchPairs, m.batchTokens, m.batchWait, m.batchLatency, m.batchRetries,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "crossrank_queue_pairs_in_flight",
			Help: "Pairs of admitted requests being scored now.",
		}, func() float64 { u, _, _ := s.queue.stats(); return float64(u) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "crossrank_queue_pairs_waiting",
			Help: "Pairs of requests waiting in the admission queue.",
		}, func() float64 { _, p, _ := s.queue.stats(); return float64(p) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "crossrank_queue_requests_waiting",
			Help: "Requests waiting in the admission queue.",
		}, func() float64 { _, _, n := s.queue.stats(); return float64(n) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "crossrank_ready",
			Help: "1 once every model is loaded and the server is not shutting down.",
		}, func() float64 {
			if s.Ready() {
				return 1
			}
			return 0
		}),
	)
	return m
}

// OnBatch returns the function to pass as rerank.Options.OnBatch when
// loading model, so that its forward passes show in /metrics.
func (s *Server) OnBatch(model string) func(rerank.BatchStats) {
	m := s.metrics
	pairs := m.batchPairs.WithLabelValues(model)
	toks := m.batchTokens.WithLabelValues(model)
	wait := m.batchWait.WithLabelValues(model)
	dur := m.batchLatency.WithLabelValues(model)
	retries := m.batchRetries.WithLabelValues(model)
	return func(b rerank.BatchStats) {
		pairs.Observe(float64(b.Pairs))
		toks.Observe(float64(b.Tokens))
		wait.Observe(b.Wait.Seconds())
		dur.Observe(b.Duration.Seconds())
		if b.Retried {
			retries.Inc()
		}
	}
}
