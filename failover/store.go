package failover

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// Record is the replicated state of one HTTP session: what another node
// needs to take it over.
type Record struct {
	// ID is the session's id: the part of JSESSIONID before the route.
	ID string
	// Timeout is the HTTP session's max inactive interval; ≤ 0: it never
	// expires.
	Timeout time.Duration
	// LastAccess is the time of the session's last HTTP request.
	LastAccess time.Time
	// Props are the WebSocket user properties bound to the session, and
	// Attrs the HTTP session's attributes (only replicable values; see
	// EncodeProperties). Each is bounded by Config.Limits.
	Props, Attrs map[string]any
}

// expires is the unix nanosecond the record's session ends at, 0 for never.
func (r *Record) expires() int64 {
	if r.Timeout <= 0 {
		return 0
	}
	return r.LastAccess.Add(r.Timeout).UnixNano()
}

// Space is one web context's part of the store. This node is the primary
// of the sessions it serves (it saves them, and sends each change to
// Config.Backups other nodes, chosen by rendezvous hashing over the
// members), and a backup of some sessions of the others. Versions are
// (epoch, seq): seq counts a primary's changes, and a node that takes a
// session over (Restore) claims it with a higher epoch, after which the
// old primary's changes are refused (two nodes that claim it at once with
// the same epoch: the greater name wins). Its methods are safe for
// concurrent use.
type Space struct {
	n    *Node
	name string

	mu     sync.Mutex
	own    map[string]*owned    // sessions this node is the primary of
	copies map[string]*copyRec  // backup copies and tombstones of the others'
	lost   map[string]time.Time // sessions another node claimed: when
	onLost func(id string)      // under mu
}

// owned is a session this node is the primary of.
type owned struct {
	rec    wireRecord
	synced uint64 // the seq the backups last acknowledged (SaveSync)
	dirty  bool   // changed since it was last sent
	until  int64  // tombstone: forgotten after this (unix ns)
}

// copyRec is a backup copy of another node's session.
type copyRec struct {
	rec   wireRecord
	until int64 // tombstone: forgotten after this (unix ns)
}

func newSpace(n *Node, name string) *Space {
	return &Space{n: n, name: name, own: map[string]*owned{}, copies: map[string]*copyRec{}, lost: map[string]time.Time{}}
}

// Save records the latest state of a session this node serves and
// queues it for replication (write-behind): it is sent within
// FlushInterval, or at the next Flush. It returns the keys of the
// properties that are not replicable (they stay local), and an error when
// nothing was saved: ErrTooLarge, ErrExpired (the HTTP session had
// expired), ErrStale (another node took the session over), ErrClosed.
func (s *Space) Save(r Record) (skipped []string, err error) {
	_, _, skipped, err = s.save(r)
	return skipped, err
}

// SaveSync saves r as Save does and replicates it before it returns
// (write-through): nil once every backup acknowledged it (or when this
// node has no peer), an ErrTimeout error when they did not within
// AckTimeout (or ctx). The change then stays queued, as with Save.
func (s *Space) SaveSync(ctx context.Context, r Record) (skipped []string, err error) {
	rec, changed, skipped, err := s.save(r)
	if err != nil {
		return skipped, err
	}
	if !changed && s.synced(r.ID, &rec) {
		return skipped, nil
	}
	if err := s.replicate(ctx, r.ID, rec); err != nil {
		s.n.repFails.Add(1)
		return skipped, err
	}
	return skipped, nil
}

// Touch records an HTTP request of a session this node serves, at at,
// with its current timeout: its expiry moves, and is replicated
// write-behind. It does nothing for a
// session it does not hold.
func (s *Space) Touch(id string, at time.Time, timeout time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.own[id]
	if o == nil || o.rec.tomb {
		return
	}
	o.rec.timeout, o.rec.expires = int64(timeout), 0
	if timeout > 0 {
		o.rec.expires = at.Add(timeout).UnixNano()
	}
	o.rec.seq++
	o.dirty = true
}

// save encodes r and stores it as this node's latest version; changed is
// false when r is the version stored already.
func (s *Space) save(r Record) (rec wireRecord, changed bool, skipped []string, err error) {
	if s.n.closed.Load() {
		return wireRecord{}, false, nil, ErrClosed
	}
	props, skipped, err := EncodeProperties(nil, r.Props, s.n.cfg.Limits)
	if err != nil {
		return wireRecord{}, false, skipped, err
	}
	attrs, skippedAttrs, err := EncodeProperties(nil, r.Attrs, s.n.cfg.Limits)
	for _, k := range skippedAttrs {
		skipped = append(skipped, "attribute "+k)
	}
	if err != nil {
		return wireRecord{}, false, skipped, fmt.Errorf("attributes: %w", err)
	}
	exp := r.expires()
	if exp != 0 && time.Now().UnixNano() > exp {
		return wireRecord{}, false, skipped, fmt.Errorf("%w: session %s", ErrExpired, short(r.ID))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.own[r.ID]
	if o == nil {
		if _, ok := s.lost[r.ID]; ok {
			return wireRecord{}, false, skipped, fmt.Errorf("%w: session %s", ErrStale, short(r.ID))
		}
		// A copy here is another node's: this node does not start the
		// session over (Restore takes it over).
		if c := s.copies[r.ID]; c != nil {
			if c.rec.tomb {
				return wireRecord{}, false, skipped, fmt.Errorf("%w: session %s was invalidated", ErrExpired, short(r.ID))
			}
			return wireRecord{}, false, skipped, fmt.Errorf("%w: session %s is served by %s", ErrStale, short(r.ID), c.rec.primary)
		}
		o = &owned{rec: wireRecord{epoch: 1, primary: s.n.cfg.Name}}
		s.own[r.ID] = o
	}
	if o.rec.tomb {
		return wireRecord{}, false, skipped, fmt.Errorf("%w: session %s was invalidated", ErrExpired, short(r.ID))
	}
	if o.rec.seq > 0 && o.rec.expires == exp && o.rec.timeout == int64(r.Timeout) && bytes.Equal(o.rec.props, props) && bytes.Equal(o.rec.attrs, attrs) {
		return o.rec, false, skipped, nil // nothing changed
	}
	o.rec.seq++
	o.rec.expires, o.rec.timeout, o.rec.props, o.rec.attrs = exp, int64(r.Timeout), props, attrs
	o.dirty = true
	return o.rec, true, skipped, nil
}

// Flush sends the queued changes of every space now, in the background.
func (s *Space) Flush() {
	select {
	case s.n.kick <- struct{}{}:
	default:
	}
}

// Invalidate ends a session this node serves, cluster-wide: its backups
// replace their copy with a tombstone, so that no copy brings it back.
func (s *Space) Invalidate(id string) {
	s.mu.Lock()
	o := s.own[id]
	if o != nil && !o.rec.tomb {
		o.rec.seq++
		o.rec.tomb, o.rec.props, o.rec.attrs = true, nil, nil
		o.until = time.Now().Add(s.n.cfg.TombstoneTTL).UnixNano()
		o.dirty = true
	}
	s.mu.Unlock()
	if o != nil {
		s.Flush()
	}
}

// Restore finds a session this node does not serve on the other nodes
// (its own backup copy included), takes it over with a higher epoch and
// returns it. It reports false when no node holds a live version of it
// (never created, expired, invalidated, or every copy lost). An error
// means the other nodes could not all be asked; what was found is still
// used.
func (s *Space) Restore(ctx context.Context, id string) (Record, bool, error) {
	if s.n.closed.Load() {
		return Record{}, false, ErrClosed
	}
	s.mu.Lock()
	if o := s.own[id]; o != nil {
		rec := o.rec
		s.mu.Unlock()
		if rec.tomb {
			return Record{}, false, nil
		}
		return s.record(id, &rec)
	}
	var best *wireRecord
	if c := s.copies[id]; c != nil {
		r := c.rec
		best = &r
	}
	s.mu.Unlock()

	peers := s.n.peers()
	var askErr error
	if len(peers) > 0 {
		ctx, cancel := context.WithTimeout(ctx, s.n.cfg.FetchTimeout)
		defer cancel()
		replies, done := s.n.request(peers, &msg{kind: kFetch, space: s.name, id: id})
		defer done()
		for range peers {
			select {
			case m := <-replies:
				if m.err != nil {
					askErr = fmt.Errorf("failover: ask %s: %w", m.from, m.err)
					continue
				}
				if m.found && (best == nil || m.rec.newer(best)) {
					r := m.rec
					best = &r
				}
			case <-ctx.Done():
				askErr = fmt.Errorf("%w: restore %s: %v", ErrTimeout, short(id), ctx.Err())
			case <-s.n.stop:
				return Record{}, false, ErrClosed
			}
			if ctx.Err() != nil {
				break
			}
		}
	}
	now := time.Now().UnixNano()
	if best == nil || best.tomb || (best.expires != 0 && now > best.expires) {
		s.n.missing.Add(1)
		return Record{}, false, askErr
	}
	s.n.restored.Add(1)

	// Claim it: a higher epoch, this node as primary, sent to the new
	// backups and to the old primary, which stops replicating it.
	s.mu.Lock()
	if o := s.own[id]; o != nil { // restored meanwhile by another caller
		rec := o.rec
		s.mu.Unlock()
		if rec.tomb {
			return Record{}, false, nil
		}
		return s.record(id, &rec)
	}
	claim := *best
	claim.epoch++
	claim.seq = 1
	claim.primary = s.n.cfg.Name
	s.own[id] = &owned{rec: claim}
	delete(s.copies, id)
	delete(s.lost, id)
	s.mu.Unlock()

	targets := s.backups(id)
	if old := s.n.member(best.primary); old != nil && old.Name != s.n.cfg.Name && !slices.Contains(targets, old) {
		targets = append(targets, old)
	}
	for _, t := range targets {
		if err := s.n.send(t, &msg{kind: kReplicate, space: s.name, id: id, rec: claim}); err != nil {
			s.markDirty(id) // the flusher sends it again
		}
	}
	r, ok, err := s.record(id, &claim)
	if err == nil {
		err = askErr
	}
	return r, ok, err
}

// record turns a stored version into a Record.
func (s *Space) record(id string, w *wireRecord) (Record, bool, error) {
	props, err := s.decode(w.props)
	if err != nil {
		return Record{}, false, err
	}
	attrs, err := s.decode(w.attrs)
	if err != nil {
		return Record{}, false, err
	}
	r := Record{ID: id, Timeout: time.Duration(w.timeout), Props: props, Attrs: attrs}
	if w.expires != 0 {
		r.LastAccess = time.Unix(0, w.expires).Add(-r.Timeout)
	} else {
		r.LastAccess = time.Now()
	}
	return r, true, nil
}

// decode decodes stored properties; a tombstone has none.
func (s *Space) decode(b []byte) (map[string]any, error) {
	if len(b) == 0 {
		return map[string]any{}, nil
	}
	return DecodeProperties(b, s.n.cfg.Limits)
}

// backups returns the members that hold copies of id: the first
// Config.Backups other members by rendezvous hashing. It takes no lock of
// s.
func (s *Space) backups(id string) []*memberlist.Node {
	order := s.candidates(id)
	return order[:min(len(order), s.n.cfg.Backups)]
}

// candidates returns the other members in rendezvous order for id: the
// first are its backups, the next take over when one of them fails.
func (s *Space) candidates(id string) []*memberlist.Node {
	return s.rank(s.n.peers(), id)
}

// rank sorts peers (in place) in rendezvous order for id.
func (s *Space) rank(peers []*memberlist.Node, id string) []*memberlist.Node {
	score := func(m *memberlist.Node) uint64 {
		h := fnv.New64a()
		h.Write([]byte(s.name))
		h.Write([]byte{0})
		h.Write([]byte(id))
		h.Write([]byte{0})
		h.Write([]byte(m.Name))
		return h.Sum64()
	}
	slices.SortFunc(peers, func(a, b *memberlist.Node) int {
		return cmp.Or(cmp.Compare(score(b), score(a)), cmp.Compare(a.Name, b.Name))
	})
	return peers
}

// replicate sends version rec of id to its backups and waits for their
// acknowledgements; a backup that cannot be reached is replaced by the
// next candidate.
func (s *Space) replicate(ctx context.Context, id string, rec wireRecord) error {
	ctx, cancel := context.WithTimeout(ctx, s.n.cfg.AckTimeout)
	defer cancel()
	cands := s.candidates(id)
	need := min(len(cands), s.n.cfg.Backups)
	acked, next := 0, 0
	for acked < need {
		batch := cands[next:min(len(cands), next+need-acked)]
		next += len(batch)
		if len(batch) == 0 {
			return fmt.Errorf("%w: session %s: %d of %d backups acknowledged, no other member answered", ErrTimeout, short(id), acked, need)
		}
		replies, done := s.n.request(batch, &msg{kind: kReplicate, space: s.name, id: id, rec: rec})
		for range batch {
			select {
			case m := <-replies:
				switch {
				case m.err != nil:
				case m.stale:
					done()
					s.markLost(id, &m.rec)
					return fmt.Errorf("%w: session %s", ErrStale, short(id))
				default:
					acked++
				}
			case <-ctx.Done():
				done()
				return fmt.Errorf("%w: session %s: %d of %d backups acknowledged within %v", ErrTimeout, short(id), acked, need, s.n.cfg.AckTimeout)
			case <-s.n.stop:
				done()
				return ErrClosed
			}
		}
		done()
	}
	s.mu.Lock()
	if o := s.own[id]; o != nil && o.rec.seq == rec.seq && o.rec.epoch == rec.epoch {
		o.dirty, o.synced = false, rec.seq
	}
	s.mu.Unlock()
	return nil
}

// synced reports whether rec, the current version of id, was
// acknowledged by the backups.
func (s *Space) synced(id string, rec *wireRecord) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.own[id]
	return o != nil && o.synced == rec.seq && o.rec.epoch == rec.epoch
}

// markDirty queues id to be sent again.
func (s *Space) markDirty(id string) {
	s.mu.Lock()
	if o := s.own[id]; o != nil {
		o.dirty = true
	}
	s.mu.Unlock()
}

// markAllDirty queues every local session: the backups may have changed.
func (s *Space) markAllDirty() {
	s.mu.Lock()
	for _, o := range s.own {
		o.dirty = true
	}
	s.mu.Unlock()
}

// OnLost installs fn, called when another node takes over a session this
// node served (it restored the session with a higher epoch): this node's
// copy is out of date, and its changes are no longer replicated. fn runs
// on one of the node's goroutines; it must not block.
func (s *Space) OnLost(fn func(id string)) {
	s.mu.Lock()
	s.onLost = fn
	s.mu.Unlock()
}

// markLost records that another node claimed id (claim: its epoch and
// primary) over this node's claim: this node stops replicating it.
func (s *Space) markLost(id string, claim *wireRecord) {
	s.mu.Lock()
	o := s.own[id]
	if o == nil || !claim.outranks(&o.rec) {
		s.mu.Unlock()
		return
	}
	s.loseLocked(id)
	fn := s.onLost
	s.mu.Unlock()
	if fn != nil {
		fn(id)
	}
}

// loseLocked forgets a session this node served.
func (s *Space) loseLocked(id string) {
	delete(s.own, id)
	s.lost[id] = time.Now()
	s.n.log.Info("cluster: session taken over by another node", "space", s.name, "session", short(id))
}

// batchBytes is about the most record bytes one batch carries.
const batchBytes = 256 << 10

// flush sends the changed sessions to their backups (write-behind; no
// acknowledgement awaited, a backup that holds a claim that outranks the
// sender's answers stale by itself), in one batch per backup, or a few
// when they are large.
func (s *Space) flush(ctx context.Context) {
	type item struct {
		id  string
		rec wireRecord
	}
	var items []item
	now := time.Now().UnixNano()
	s.mu.Lock()
	for id, o := range s.own {
		if o.dirty {
			o.dirty = false
			items = append(items, item{id, o.rec})
		}
		if o.rec.tomb && now > o.until && !o.dirty {
			delete(s.own, id)
		}
	}
	s.mu.Unlock()
	if len(items) == 0 {
		return
	}

	// Backups are chosen outside the lock, over one list of the members.
	type dest struct {
		node    *memberlist.Node
		entries []msg
	}
	dests := map[string]*dest{}
	var order []*dest
	peers := s.n.peers()
	ranked := make([]*memberlist.Node, len(peers))
	for _, it := range items {
		copy(ranked, peers)
		for _, b := range s.rank(ranked, it.id)[:min(len(peers), s.n.cfg.Backups)] {
			d := dests[b.Name]
			if d == nil {
				d = &dest{node: b}
				dests[b.Name] = d
				order = append(order, d)
			}
			d.entries = append(d.entries, msg{kind: kReplicate, space: s.name, id: it.id, rec: it.rec})
		}
	}
	// Each backup in its own goroutine: one that does not answer holds up
	// only its own batches.
	var wg sync.WaitGroup
	for _, d := range order {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.sendBatches(ctx, d.node, d.entries)
		}()
	}
	wg.Wait()
}

// sendBatches sends entries to one backup, in batches; what could not be
// sent is queued again.
func (s *Space) sendBatches(ctx context.Context, to *memberlist.Node, entries []msg) {
	for len(entries) > 0 {
		n, size := 0, 0
		for n < len(entries) && n < maxBatch && (n == 0 || size+len(entries[n].rec.props)+len(entries[n].rec.attrs) <= batchBytes) {
			size += len(entries[n].rec.props) + len(entries[n].rec.attrs)
			n++
		}
		part := entries[:n]
		entries = entries[n:]
		err := ctx.Err()
		if err == nil {
			err = s.n.send(to, &msg{kind: kBatch, batch: part})
		}
		if err != nil {
			s.n.repFails.Add(1)
			s.n.log.Debug("cluster: replicate failed; retrying", "to", to.Name, "records", len(part), "err", err)
			for i := range part {
				s.markDirty(part[i].id)
			}
		}
	}
}

// sweep forgets expired copies and old tombstones.
func (s *Space) sweep(t time.Time) {
	now := t.UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, c := range s.copies {
		if c.rec.tomb && now > c.until || !c.rec.tomb && c.rec.expires != 0 && now > c.rec.expires {
			delete(s.copies, id)
		}
	}
	for id, o := range s.own {
		if !o.rec.tomb && o.rec.expires != 0 && now > o.rec.expires {
			delete(s.own, id)
		}
	}
	for id, at := range s.lost {
		if t.Sub(at) > s.n.cfg.TombstoneTTL {
			delete(s.lost, id)
		}
	}
}

// onReplicate stores a version sent by its primary, unless a newer epoch
// is known here: then the answer says stale.
func (s *Space) onReplicate(m *msg) msg {
	ack, lost := s.store(m)
	if lost {
		s.mu.Lock()
		fn := s.onLost
		s.mu.Unlock()
		if fn != nil {
			fn(m.id)
		}
	}
	return ack
}

// store is onReplicate under the lock; lost reports that this node was
// the session's primary and no longer is.
func (s *Space) store(m *msg) (ack msg, lost bool) {
	ack = msg{kind: kAck, space: s.name, id: m.id}
	_, err := s.decode(m.rec.props)
	if err == nil {
		_, err = s.decode(m.rec.attrs)
	}
	if err != nil {
		s.n.refused.Add(1)
		s.n.log.Warn("cluster: replicated properties refused", "from", m.from, "space", s.name, "err", err)
		return msg{}, false // no answer: the primary's wait times out
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if o := s.own[m.id]; o != nil {
		if !m.rec.outranks(&o.rec) {
			ack.stale, ack.rec.epoch, ack.rec.primary = true, o.rec.epoch, o.rec.primary
			return ack, false
		}
		// Claimed by m.from: this node stops being its primary.
		s.loseLocked(m.id)
		lost = true
	}
	c := s.copies[m.id]
	switch {
	case c == nil || m.rec.newer(&c.rec):
		c = &copyRec{rec: m.rec}
		c.rec.props = append([]byte(nil), m.rec.props...)
		c.rec.attrs = append([]byte(nil), m.rec.attrs...)
		if c.rec.tomb {
			c.until = time.Now().Add(s.n.cfg.TombstoneTTL).UnixNano()
		}
		s.copies[m.id] = c
	case c.rec.outranks(&m.rec):
		ack.stale, ack.rec.epoch, ack.rec.primary = true, c.rec.epoch, c.rec.primary
	}
	return ack, lost
}

// onFetch answers whether this node holds id, as primary or backup.
func (s *Space) onFetch(m *msg) msg {
	out := msg{kind: kFetched, space: s.name, id: m.id}
	s.mu.Lock()
	defer s.mu.Unlock()
	if o := s.own[m.id]; o != nil {
		out.found, out.rec = true, o.rec
	} else if c := s.copies[m.id]; c != nil {
		out.found, out.rec = true, c.rec
	}
	return out
}

// short abbreviates a session id for logs: the whole id is a credential.
func short(id string) string {
	if len(id) > 8 {
		return id[:8] + "…"
	}
	return id
}
