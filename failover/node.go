package failover

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// Config configures a cluster node. The zero value of a field means its
// default (DefaultConfig), except Key, which is required.
type Config struct {
	// Name is this node's name, unique in the cluster (default: the host
	// name).
	Name string
	// Bind is the host:port memberlist listens on, TCP and UDP (default
	// 127.0.0.1:7946). Port 0 picks a free one (see Node.Addr).
	Bind string
	// Advertise is the host:port other nodes reach this one at (default:
	// Bind's).
	Advertise string
	// Join lists host:port addresses of nodes to join at start and to
	// rejoin while this node is alone (a healed partition).
	Join []string
	// Key encrypts and authenticates all cluster traffic (AES-GCM; 16, 24
	// or 32 bytes). A node with another key cannot join. Required.
	Key []byte
	// Label is bound into every message: clusters with different labels
	// ignore each other (default "wsc").
	Label string
	// Backups is how many other nodes hold a copy of each record
	// (default 1).
	Backups int
	// AckTimeout bounds a write-through save waiting for its backups
	// (default 2s).
	AckTimeout time.Duration
	// FetchTimeout bounds a restore asking the other nodes (default 2s).
	FetchTimeout time.Duration
	// FlushInterval is how long a write-behind change may wait before it
	// is sent (default 200ms).
	FlushInterval time.Duration
	// ResendInterval is how often every session this node serves is sent
	// to its backups again, changed or not: it repairs what a backup
	// dropped or missed (default 1m).
	ResendInterval time.Duration
	// TombstoneTTL is how long an invalidated session is remembered, so
	// that no older copy brings it back (default 10m).
	TombstoneTTL time.Duration
	// RejoinInterval is how often a node joins again the members it saw
	// leave or fail (for a day after), and, while it is alone, the Join
	// addresses: memberlist forgets failed members, so without this the
	// two sides of a healed partition would stay apart (default 5s).
	RejoinInterval time.Duration
	// Limits bounds the user properties of one session, on save and from
	// peers (default DefaultLimits).
	Limits Limits
	// Logger receives the node's logs, memberlist's included (default
	// slog.Default()).
	Logger *slog.Logger

	// probe tunes failure detection (tests): memberlist's probe interval,
	// 0 for its LAN default.
	probe time.Duration
	// transport, when set, wraps the node's memberlist transport (tests:
	// partitions).
	transport func(*memberlist.NetTransport) memberlist.NodeAwareTransport
}

// DefaultConfig returns the defaults, with no name, key or peers.
func DefaultConfig() Config {
	return Config{
		Bind:           "127.0.0.1:7946",
		Label:          "wsc",
		Backups:        1,
		AckTimeout:     2 * time.Second,
		FetchTimeout:   2 * time.Second,
		FlushInterval:  200 * time.Millisecond,
		ResendInterval: time.Minute,
		TombstoneTTL:   10 * time.Minute,
		RejoinInterval: 5 * time.Second,
		Limits:         DefaultLimits(),
	}
}

// withDefaults fills the zero fields.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Name == "" {
		c.Name, _ = os.Hostname()
	}
	if c.Bind == "" {
		c.Bind = d.Bind
	}
	if c.Label == "" {
		c.Label = d.Label
	}
	if c.Backups <= 0 {
		c.Backups = d.Backups
	}
	if c.AckTimeout <= 0 {
		c.AckTimeout = d.AckTimeout
	}
	if c.FetchTimeout <= 0 {
		c.FetchTimeout = d.FetchTimeout
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = d.FlushInterval
	}
	if c.ResendInterval <= 0 {
		c.ResendInterval = d.ResendInterval
	}
	if c.TombstoneTTL <= 0 {
		c.TombstoneTTL = d.TombstoneTTL
	}
	if c.RejoinInterval <= 0 {
		c.RejoinInterval = d.RejoinInterval
	}
	c.Limits = c.Limits.withDefaults()
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Errors of a node.
var (
	// ErrConfig: the configuration cannot work.
	ErrConfig = errors.New("failover: bad configuration")
	// ErrTimeout: the other nodes did not answer in time.
	ErrTimeout = errors.New("failover: no answer in time")
	// ErrStale: another node took the session over (a higher epoch); this
	// node no longer replicates it.
	ErrStale = errors.New("failover: the session moved to another node")
	// ErrExpired: the HTTP session expired; the change is not replicated.
	ErrExpired = errors.New("failover: the HTTP session expired")
	// ErrClosed: the node left the cluster.
	ErrClosed = errors.New("failover: node closed")
)

// Node is this process's member of the cluster: membership and failure
// detection from memberlist, and the replicated store of HTTP sessions and
// their user properties, in one Space per web context. Its methods are
// safe for concurrent use.
type Node struct {
	cfg  Config
	log  *slog.Logger
	ml   *memberlist.Memberlist
	boot uint64 // random per start (in the node's metadata)

	reqID   atomic.Uint64
	pendMu  sync.Mutex
	pending map[uint64]chan msg // requests waiting for replies

	inbox chan []byte // messages from peers, for the workers (at most 256, each at most about batchBytes)

	spacesMu sync.Mutex
	spaces   map[string]*Space

	kick    chan struct{} // wakes the flusher
	members chan struct{} // membership changed: re-replicate

	failedMu sync.Mutex
	failed   map[string]failedMember // members that left or failed, by name

	closed   atomic.Bool
	stop     chan struct{}
	wg       sync.WaitGroup
	received atomic.Uint64 // messages from peers
	restored atomic.Uint64 // Restores that found the session
	missing  atomic.Uint64 // Restores that found nothing
	repFails atomic.Uint64 // replications that failed (retried, or returned by SaveSync)
	dropped  atomic.Uint64 // messages from peers dropped (inbox full)
	refused  atomic.Uint64 // messages from peers that did not decode
	stopOnce sync.Once
}

// Start creates the node, starts memberlist on cfg.Bind and joins
// cfg.Join (a failed join is logged and retried: the node serves alone
// until a peer answers).
func Start(cfg Config) (*Node, error) {
	cfg = cfg.withDefaults()
	if err := memberlist.ValidateKey(cfg.Key); err != nil {
		return nil, fmt.Errorf("%w: key: %v (cluster traffic is always encrypted: give 16, 24 or 32 bytes)", ErrConfig, err)
	}
	host, port, err := splitHostPort(cfg.Bind)
	if err != nil {
		return nil, fmt.Errorf("%w: bind %q: %v", ErrConfig, cfg.Bind, err)
	}
	n := &Node{
		cfg:     cfg,
		log:     cfg.Logger.With("node", cfg.Name),
		pending: map[uint64]chan msg{},
		inbox:   make(chan []byte, 256),
		spaces:  map[string]*Space{},
		kick:    make(chan struct{}, 1),
		members: make(chan struct{}, 1),
		failed:  map[string]failedMember{},
		stop:    make(chan struct{}),
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	n.boot = binary.LittleEndian.Uint64(b[:])

	mc := memberlist.DefaultLANConfig()
	mc.Name = cfg.Name
	mc.BindAddr, mc.BindPort = host, port
	mc.AdvertisePort = port
	if cfg.Advertise != "" {
		ah, ap, err := splitHostPort(cfg.Advertise)
		if err != nil {
			return nil, fmt.Errorf("%w: advertise %q: %v", ErrConfig, cfg.Advertise, err)
		}
		mc.AdvertiseAddr, mc.AdvertisePort = ah, ap
	}
	mc.SecretKey = cfg.Key
	mc.GossipVerifyIncoming, mc.GossipVerifyOutgoing = true, true
	mc.Label = cfg.Label
	mc.Delegate = (*delegate)(n)
	mc.Events = (*events)(n)
	mc.Logger = log.New(&logWriter{log: n.log}, "", 0)
	// A peer that does not answer holds a flush (and a push/pull) this
	// long; 10s, the LAN default, is long for a loopback or LAN cluster.
	mc.TCPTimeout = 3 * time.Second
	if cfg.probe > 0 {
		mc.ProbeInterval = cfg.probe
		mc.ProbeTimeout = cfg.probe / 2
		mc.SuspicionMult = 2
		mc.GossipInterval = cfg.probe / 5
		mc.TCPTimeout = 4 * cfg.probe
	}
	if cfg.transport != nil {
		nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{BindAddrs: []string{host}, BindPort: port, Logger: mc.Logger})
		if err != nil {
			return nil, fmt.Errorf("failover: listen on %s: %w", cfg.Bind, err)
		}
		mc.Transport = cfg.transport(nt)
		if cfg.Advertise == "" {
			mc.AdvertisePort = nt.GetAutoBindPort()
		}
	}
	ml, err := memberlist.Create(mc)
	if err != nil {
		return nil, fmt.Errorf("failover: start memberlist on %s: %w", cfg.Bind, err)
	}
	n.ml = ml
	for range 2 {
		n.wg.Add(1)
		go n.worker()
	}
	n.wg.Add(2)
	go n.flusher()
	go n.rejoiner()
	if len(cfg.Join) > 0 {
		if _, err := ml.Join(cfg.Join); err != nil {
			n.log.Warn("cluster: join failed; serving alone until a peer answers", "peers", cfg.Join, "err", err)
		}
	}
	return n, nil
}

func splitHostPort(hp string) (string, int, error) {
	h, p, err := net.SplitHostPort(hp)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q", p)
	}
	return h, port, nil
}

// Name is the node's name.
func (n *Node) Name() string { return n.cfg.Name }

// Addr is the host:port memberlist listens on (with the port chosen when
// Bind asked for 0).
func (n *Node) Addr() string {
	ln := n.ml.LocalNode()
	return net.JoinHostPort(ln.Addr.String(), strconv.Itoa(int(ln.Port)))
}

// Members returns the names of the live members, this node included.
func (n *Node) Members() []string {
	var names []string
	for _, m := range n.ml.Members() {
		names = append(names, m.Name)
	}
	return names
}

// Join joins the nodes at addrs (host:port) and returns how many answered.
func (n *Node) Join(addrs ...string) (int, error) { return n.ml.Join(addrs) }

// Close flushes what is waiting to be replicated (within ctx), leaves the
// cluster and stops the node.
func (n *Node) Close(ctx context.Context) error {
	if n.closed.Swap(true) {
		return nil
	}
	n.flushAll(ctx)
	timeout := time.Second
	if d, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(d), 10*time.Millisecond)
	}
	leaveErr := n.ml.Leave(timeout)
	n.stopOnce.Do(func() { close(n.stop) })
	err := n.ml.Shutdown()
	n.wg.Wait()
	// The requests still waiting see stop closed (ErrClosed); their
	// channels are never closed, so that a late reply cannot pass for an
	// acknowledgement.
	n.pendMu.Lock()
	clear(n.pending)
	n.pendMu.Unlock()
	return errors.Join(leaveErr, err)
}

// kill stops the node without leaving or flushing, as a crash would (for
// tests).
func (n *Node) kill() {
	n.closed.Store(true)
	n.stopOnce.Do(func() { close(n.stop) })
	_ = n.ml.Shutdown()
	n.wg.Wait()
}

// Stats are a node's figures, for monitoring.
type Stats struct {
	// Members is the number of live members, this node included (gauge).
	Members int
	// Primaries is the number of sessions this node serves, and Copies
	// the number of other nodes' sessions it holds a copy of (gauges;
	// tombstones included).
	Primaries, Copies int
	// Restored and Missing count the restores that found the session and
	// those that found nothing.
	Restored, Missing uint64
	// ReplicationFailures counts replications that did not reach a
	// backup: a write-behind batch that will be sent again, or a
	// write-through save that returned an error.
	ReplicationFailures uint64
	// Received counts the messages from peers; Dropped those dropped
	// because the node was behind; Refused those that did not decode.
	Received, Dropped, Refused uint64
}

// Stats returns the node's figures.
func (n *Node) Stats() Stats {
	st := Stats{
		Members:             n.ml.NumMembers(),
		Restored:            n.restored.Load(),
		Missing:             n.missing.Load(),
		ReplicationFailures: n.repFails.Load(),
		Received:            n.received.Load(),
		Dropped:             n.dropped.Load(),
		Refused:             n.refused.Load(),
	}
	for _, s := range n.allSpaces() {
		s.mu.Lock()
		st.Primaries += len(s.own)
		st.Copies += len(s.copies)
		s.mu.Unlock()
	}
	return st
}

// Space returns the store of one web context (named by its path). Spaces
// of different names share nothing.
func (n *Node) Space(name string) *Space {
	n.spacesMu.Lock()
	defer n.spacesMu.Unlock()
	s := n.spaces[name]
	if s == nil {
		s = newSpace(n, name)
		n.spaces[name] = s
	}
	return s
}

// space returns an existing space, or nil.
func (n *Node) space(name string) *Space {
	n.spacesMu.Lock()
	defer n.spacesMu.Unlock()
	return n.spaces[name]
}

func (n *Node) allSpaces() []*Space {
	n.spacesMu.Lock()
	defer n.spacesMu.Unlock()
	out := make([]*Space, 0, len(n.spaces))
	for _, s := range n.spaces {
		out = append(out, s)
	}
	return out
}

// peers returns the other members.
func (n *Node) peers() []*memberlist.Node {
	var out []*memberlist.Node
	for _, m := range n.ml.Members() {
		if m.Name != n.cfg.Name {
			out = append(out, m)
		}
	}
	return out
}

// member finds a member by name.
func (n *Node) member(name string) *memberlist.Node {
	for _, m := range n.ml.Members() {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// send sends m to a member, without waiting for a reply.
func (n *Node) send(to *memberlist.Node, m *msg) error {
	m.from = n.cfg.Name
	return n.ml.SendReliable(to, m.encode(nil))
}

// request sends m to each of to and returns a channel that receives the
// replies (at most len(to)), and a function that stops listening.
func (n *Node) request(to []*memberlist.Node, m *msg) (<-chan msg, func()) {
	id := n.reqID.Add(1)
	ch := make(chan msg, len(to))
	n.pendMu.Lock()
	n.pending[id] = ch
	n.pendMu.Unlock()
	m.req, m.from = id, n.cfg.Name
	b := m.encode(nil)
	for _, t := range to {
		go func() {
			if err := n.ml.SendReliable(t, b); err != nil {
				n.log.Debug("cluster: send failed", "to", t.Name, "err", err)
				// An unreachable member answers at once, with the error:
				// the caller need not wait for it.
				n.reply(msg{req: id, from: t.Name, err: err})
			}
		}()
	}
	return ch, func() {
		n.pendMu.Lock()
		delete(n.pending, id)
		n.pendMu.Unlock()
	}
}

// reply hands a reply to the request waiting for it.
func (n *Node) reply(m msg) {
	n.pendMu.Lock()
	defer n.pendMu.Unlock()
	if ch := n.pending[m.req]; ch != nil {
		select {
		case ch <- m:
		default: // more replies than members asked: ignore
		}
	}
}

// worker handles messages from peers.
func (n *Node) worker() {
	defer n.wg.Done()
	for {
		select {
		case <-n.stop:
			return
		case b := <-n.inbox:
			n.handle(b)
		}
	}
}

// handle decodes and serves one message from a peer.
func (n *Node) handle(b []byte) {
	m, err := decodeMsg(b, n.cfg.Limits.MaxBytes)
	if err != nil {
		n.refused.Add(1)
		n.log.Warn("cluster: message refused", "err", err)
		return
	}
	switch m.kind {
	case kAck:
		if m.req == 0 && m.stale {
			if s := n.space(m.space); s != nil {
				s.markLost(m.id, &m.rec)
			}
			return
		}
		n.reply(m)
		return
	case kFetched:
		n.reply(m)
		return
	}
	if m.kind == kBatch {
		for i := range m.batch {
			e := &m.batch[i]
			if out := n.Space(e.space).onReplicate(e); out.stale {
				n.answer(e, out)
			}
		}
		return
	}
	s := n.Space(m.space)
	var out msg
	switch m.kind {
	case kReplicate:
		out = s.onReplicate(&m)
	case kFetch:
		out = s.onFetch(&m)
	}
	n.answer(&m, out)
}

// answer sends out, the answer to m, to m's sender.
func (n *Node) answer(m *msg, out msg) {
	// No reply to a message that asked for none, except to tell a
	// primary that another node took its session over.
	if out.kind == 0 || m.req == 0 && !(out.kind == kAck && out.stale) {
		return
	}
	out.req = m.req
	to := n.member(m.from)
	if to == nil {
		return
	}
	if err := n.send(to, &out); err != nil {
		n.log.Debug("cluster: reply failed", "to", m.from, "err", err)
	}
}

// flusher sends write-behind changes every FlushInterval, when kicked,
// and re-replicates everything when the membership changes.
func (n *Node) flusher() {
	defer n.wg.Done()
	t := time.NewTicker(n.cfg.FlushInterval)
	defer t.Stop()
	sweep := time.NewTicker(time.Second)
	defer sweep.Stop()
	resend := time.NewTicker(n.cfg.ResendInterval)
	defer resend.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-n.members: // the backups may have changed
			n.resendAll()
		case <-resend.C: // repairs what a backup dropped, or missed while partitioned away
			n.resendAll()
		case <-n.kick:
			n.flushAll(context.Background())
		case <-t.C:
			n.flushAll(context.Background())
		case now := <-sweep.C:
			for _, s := range n.allSpaces() {
				s.sweep(now)
			}
		}
	}
}

// resendAll sends every session this node serves to its backups again.
func (n *Node) resendAll() {
	for _, s := range n.allSpaces() {
		s.markAllDirty()
	}
	n.flushAll(context.Background())
}

// flushAll sends every space's pending changes.
func (n *Node) flushAll(ctx context.Context) {
	for _, s := range n.allSpaces() {
		s.flush(ctx)
	}
}

// failedMember is a member that left or failed: where it was, and since
// when.
type failedMember struct {
	addr  string
	since time.Time
}

// failedFor is how long a member that left or failed is looked for.
const failedFor = 24 * time.Hour

// rejoiner joins again, every RejoinInterval, the members that left or
// failed (a partition looks like a failure from both sides, and
// memberlist does not look for them again by itself), and the Join
// addresses while this node is alone.
func (n *Node) rejoiner() {
	defer n.wg.Done()
	t := time.NewTicker(n.cfg.RejoinInterval)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case now := <-t.C:
			var addrs []string
			n.failedMu.Lock()
			for name, f := range n.failed {
				if now.Sub(f.since) > failedFor {
					delete(n.failed, name)
					continue
				}
				addrs = append(addrs, f.addr)
			}
			n.failedMu.Unlock()
			if n.ml.NumMembers() <= 1 {
				addrs = append(addrs, n.cfg.Join...)
			}
			if len(addrs) == 0 {
				continue
			}
			if k, err := n.ml.Join(addrs); k > 0 {
				n.log.Debug("cluster: rejoin", "reached", k, "members", n.ml.NumMembers())
			} else {
				n.log.Debug("cluster: rejoin failed", "err", err)
			}
		}
	}
}

// delegate is the node as memberlist's Delegate.
type delegate Node

// NodeMeta implements memberlist.Delegate: the boot id.
func (d *delegate) NodeMeta(limit int) []byte {
	return binary.LittleEndian.AppendUint64(nil, d.boot)
}

// inboxWait is how long a message from a peer may wait for room in the
// inbox before it is dropped.
const inboxWait = 2 * time.Second

// NotifyMsg implements memberlist.Delegate: the message is copied and
// queued for the workers (memberlist reuses the buffer). The data plane
// uses reliable messages only, which memberlist hands over on the
// stream's own goroutine: waiting here for room pushes back on the
// sender through TCP; after inboxWait the message is dropped and
// counted (the sender's periodic re-send repairs it).
func (d *delegate) NotifyMsg(b []byte) {
	d.received.Add(1)
	c := bytes.Clone(b)
	select {
	case d.inbox <- c:
		return
	default:
	}
	t := time.NewTimer(inboxWait)
	defer t.Stop()
	select {
	case d.inbox <- c:
	case <-t.C:
		d.dropped.Add(1)
	case <-d.stop:
	}
}

// GetBroadcasts implements memberlist.Delegate: nothing is gossiped.
func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }

// LocalState implements memberlist.Delegate: no state is pushed.
func (d *delegate) LocalState(join bool) []byte { return nil }

// MergeRemoteState implements memberlist.Delegate.
func (d *delegate) MergeRemoteState(buf []byte, join bool) {}

// events is the node as memberlist's EventDelegate: any change of the
// membership re-replicates the local records to their backups.
type events Node

func (e *events) changed(what string, m *memberlist.Node) {
	if m.Name == e.cfg.Name {
		return
	}
	e.log.Info("cluster: "+what, "member", m.Name, "addr", m.Address())
	select {
	case e.members <- struct{}{}:
	default:
	}
}

// NotifyJoin implements memberlist.EventDelegate.
func (e *events) NotifyJoin(m *memberlist.Node) {
	e.failedMu.Lock()
	delete(e.failed, m.Name)
	e.failedMu.Unlock()
	e.changed("member joined", m)
}

// NotifyLeave implements memberlist.EventDelegate. The member is looked
// for again (see rejoiner): memberlist does not say here whether it
// failed or left (the Node's State is not updated before the call), and
// a partition looks like a failure from both sides.
func (e *events) NotifyLeave(m *memberlist.Node) {
	if m.Name != e.cfg.Name {
		e.failedMu.Lock()
		e.failed[m.Name] = failedMember{addr: m.Address(), since: time.Now()}
		e.failedMu.Unlock()
	}
	e.changed("member left or failed", m)
}

// NotifyUpdate implements memberlist.EventDelegate: a new boot id means
// the member restarted with empty memory.
func (e *events) NotifyUpdate(m *memberlist.Node) { e.changed("member restarted", m) }

// logWriter turns memberlist's log lines ("[LEVEL] memberlist: ...") into
// slog records.
type logWriter struct{ log *slog.Logger }

func (w *logWriter) Write(p []byte) (int, error) {
	line := string(bytes.TrimSpace(p))
	level := slog.LevelDebug
	switch {
	case bytes.Contains(p, []byte("[ERR]")):
		level = slog.LevelError
	case bytes.Contains(p, []byte("[WARN]")):
		level = slog.LevelWarn
	case bytes.Contains(p, []byte("[INFO]")):
		level = slog.LevelInfo
	}
	w.log.Log(context.Background(), level, line)
	return len(p), nil
}

var _ io.Writer = (*logWriter)(nil)
