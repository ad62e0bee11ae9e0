// Package admin serves the container's admin listener: Prometheus metrics
// at /metrics, a health check at /healthz and the Go profiler under
// /debug/pprof/. It reads the container only through Container.Stats, so
// the runtime itself never depends on the metrics library.
package admin

import (
	"net/http"
	"net/http/pprof"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wsc-dev/wsc/container"
)

// Source is what the admin listener reads: *container.Container.
type Source interface {
	Stats() container.Stats
	Draining() bool
}

// Handler returns the admin HTTP handler for src.
func Handler(src Source) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		NewCollector(src),
	)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if src.Draining() {
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// Collector exports Container.Stats as Prometheus metrics, read at each
// scrape.
type Collector struct {
	src Source

	connections, handshakes                     *prometheus.Desc
	open, sessions, msgsIn, msgsOut             *prometheus.Desc
	bytesIn, bytesOut, closes, workers, busy, q *prometheus.Desc

	members, primaries, copies, restores, repFails, peerMsgs *prometheus.Desc
}

// NewCollector returns a collector of src's statistics.
func NewCollector(src Source) *Collector {
	ctx := []string{"context"}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("wsc_"+name, help, labels, nil)
	}
	return &Collector{
		src:         src,
		connections: d("connections_open", "Open TCP connections."),
		handshakes:  d("handshakes_total", "Answered handshakes by HTTP status (101: upgraded).", "status"),
		open:        d("sessions_open", "Open WebSocket sessions.", ctx...),
		sessions:    d("sessions_total", "WebSocket sessions opened.", ctx...),
		msgsIn:      d("messages_received_total", "Data messages received.", ctx...),
		msgsOut:     d("messages_sent_total", "Data messages sent.", ctx...),
		bytesIn:     d("message_bytes_received_total", "Payload bytes of messages received.", ctx...),
		bytesOut:    d("message_bytes_sent_total", "Payload bytes of messages sent.", ctx...),
		closes:      d("sessions_closed_total", "Ended sessions by the close code OnClose reported.", "context", "code"),
		workers:     d("executor_workers", "Executor workers running.", ctx...),
		busy:        d("executor_busy_workers", "Executor workers running a callback.", ctx...),
		q:           d("executor_queued_sessions", "Sessions waiting for an executor worker.", ctx...),
		members:     d("cluster_members", "Live cluster members, this node included."),
		primaries:   d("cluster_sessions_served", "Replicated HTTP sessions this node serves (is the primary of)."),
		copies:      d("cluster_session_copies", "Copies of other nodes' HTTP sessions held here (backups, tombstones)."),
		restores:    d("cluster_restores_total", "HTTP sessions looked for on the other nodes, by result (found, missing).", "result"),
		repFails:    d("cluster_replication_failures_total", "Replications that did not reach a backup (write-behind: sent again; write-through: Set returned an error)."),
		peerMsgs:    d("cluster_peer_messages_total", "Messages from other nodes, by outcome (received, dropped: the node was behind, refused: did not decode).", "outcome"),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.connections, c.handshakes, c.open, c.sessions, c.msgsIn, c.msgsOut,
		c.bytesIn, c.bytesOut, c.closes, c.workers, c.busy, c.q,
		c.members, c.primaries, c.copies, c.restores, c.repFails, c.peerMsgs} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	st := c.src.Stats()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(c.connections, float64(st.Connections))
	for status, n := range st.Handshakes {
		counter(c.handshakes, n, strconv.Itoa(status))
	}
	for _, cs := range st.Contexts {
		gauge(c.open, float64(cs.OpenSessions), cs.Path)
		counter(c.sessions, cs.Sessions, cs.Path)
		counter(c.msgsIn, cs.MessagesIn, cs.Path)
		counter(c.msgsOut, cs.MessagesOut, cs.Path)
		counter(c.bytesIn, cs.BytesIn, cs.Path)
		counter(c.bytesOut, cs.BytesOut, cs.Path)
		for code, n := range cs.Closes {
			counter(c.closes, n, cs.Path, strconv.Itoa(int(code)))
		}
		gauge(c.workers, float64(cs.Workers), cs.Path)
		gauge(c.busy, float64(cs.BusyWorkers), cs.Path)
		gauge(c.q, float64(cs.Queued), cs.Path)
	}
	if cl := st.Cluster; cl != nil {
		gauge(c.members, float64(cl.Members))
		gauge(c.primaries, float64(cl.Primaries))
		gauge(c.copies, float64(cl.Copies))
		counter(c.restores, cl.Restored, "found")
		counter(c.restores, cl.Missing, "missing")
		counter(c.repFails, cl.ReplicationFailures)
		counter(c.peerMsgs, cl.Received, "received")
		counter(c.peerMsgs, cl.Dropped, "dropped")
		counter(c.peerMsgs, cl.Refused, "refused")
	}
}
