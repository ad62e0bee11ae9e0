package container

import (
	"github.com/wsc-dev/wsc/failover"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/wsc-dev/wsc/endpoint"
)

// Stats is a snapshot of the container's counters, for metrics and the
// admin listener. Counters only grow; gauges are the value at the snapshot.
type Stats struct {
	// Connections is the number of open TCP connections (gauge).
	Connections int
	// Handshakes counts answered handshakes by HTTP status (101 = upgraded).
	Handshakes map[int]uint64
	// Contexts holds one entry per web context, by path.
	Contexts []ContextStats
	// Cluster holds the cluster node's figures (Config.Cluster), or nil.
	Cluster *failover.Stats
}

// ContextStats are the counters of one web context.
type ContextStats struct {
	// Path is the context path.
	Path string
	// OpenSessions is the number of open sessions (gauge).
	OpenSessions int
	// Sessions counts sessions opened.
	Sessions uint64
	// MessagesIn and MessagesOut count data messages received and sent.
	MessagesIn, MessagesOut uint64
	// BytesIn and BytesOut count the payload bytes of those messages
	// (after inflating, before compressing).
	BytesIn, BytesOut uint64
	// Closes counts ended sessions by the close code OnClose reported.
	Closes map[endpoint.CloseCode]uint64
	// Workers, BusyWorkers and Queued describe the executor (gauges).
	Workers, BusyWorkers, Queued int
}

// trafficCounters count data messages and their payload bytes of a web
// context. Each session counts its own in four fields (the inbound pair
// beside the decoder's state, the outbound pair beside the send state, so
// that the event loop and the senders do not share a cache line) and adds
// them to its context's when it ends (session.trafficTo).
type trafficCounters struct {
	msgsIn, msgsOut, bytesIn, bytesOut atomic.Uint64
}

func (t *trafficCounters) addTo(dst *trafficCounters) {
	dst.msgsIn.Add(t.msgsIn.Load())
	dst.msgsOut.Add(t.msgsOut.Load())
	dst.bytesIn.Add(t.bytesIn.Load())
	dst.bytesOut.Add(t.bytesOut.Load())
}

// contextCounters are a web context's counters.
type contextCounters struct {
	sessions atomic.Uint64
	// foldMu orders a session's leaving (its counters folded into ended)
	// with Stats, which must count it exactly once. Lock order: foldMu →
	// mapping.mu.
	foldMu sync.Mutex
	ended  trafficCounters // of the sessions that have ended
	mu     sync.Mutex
	closes map[endpoint.CloseCode]uint64
}

func (cc *contextCounters) closed(code endpoint.CloseCode) {
	cc.mu.Lock()
	if cc.closes == nil {
		cc.closes = map[endpoint.CloseCode]uint64{}
	}
	cc.closes[code]++
	cc.mu.Unlock()
}

// handshakeCounters count answered handshakes by status.
type handshakeCounters struct {
	mu       sync.Mutex
	byStatus map[int]uint64
}

func (h *handshakeCounters) add(status int) {
	h.mu.Lock()
	if h.byStatus == nil {
		h.byStatus = map[int]uint64{}
	}
	h.byStatus[status]++
	h.mu.Unlock()
}

// Stats returns a snapshot of the container's counters.
func (c *Container) Stats() Stats {
	st := Stats{Connections: int(c.conns.Load()), Handshakes: map[int]uint64{}}
	if c.cfg.Cluster != nil {
		cs := c.cfg.Cluster.Stats()
		st.Cluster = &cs
	}
	c.hsCount.mu.Lock()
	for k, v := range c.hsCount.byStatus {
		st.Handshakes[k] = v
	}
	c.hsCount.mu.Unlock()
	c.mu.Lock()
	contexts := append([]*webContext(nil), c.contexts...)
	c.mu.Unlock()
	for _, wc := range contexts {
		var traffic trafficCounters
		open := 0
		wc.count.foldMu.Lock()
		wc.count.ended.addTo(&traffic)
		for _, m := range wc.endpoints {
			m.mu.Lock()
			for s := m.head; s != nil; s = s.next {
				s.trafficTo(&traffic)
			}
			open += m.count
			m.mu.Unlock()
		}
		wc.count.foldMu.Unlock()
		cs := ContextStats{
			Path:         wc.path,
			OpenSessions: open,
			Sessions:     wc.count.sessions.Load(),
			MessagesIn:   traffic.msgsIn.Load(),
			MessagesOut:  traffic.msgsOut.Load(),
			BytesIn:      traffic.bytesIn.Load(),
			BytesOut:     traffic.bytesOut.Load(),
			Closes:       map[endpoint.CloseCode]uint64{},
		}
		if cs.Path == "" {
			cs.Path = "/"
		}
		wc.count.mu.Lock()
		for k, v := range wc.count.closes {
			cs.Closes[k] = v
		}
		wc.count.mu.Unlock()
		if e := wc.exec; e != nil {
			cs.Workers, cs.BusyWorkers, cs.Queued = int(e.workers.Load()), int(e.busy()), len(e.tasks)
		}
		st.Contexts = append(st.Contexts, cs)
	}
	sort.Slice(st.Contexts, func(i, j int) bool { return st.Contexts[i].Path < st.Contexts[j].Path })
	return st
}

// Draining reports whether Shutdown has begun.
func (c *Container) Draining() bool { return c.draining.Load() }
