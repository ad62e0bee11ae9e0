package container

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/wsc-dev/wsc/endpoint"
	"github.com/wsc-dev/wsc/failover"
)

// Failover of HTTP sessions and their WebSocket user properties (DESIGN
// §6). In a context with DistributedUserProperties and Config.Cluster,
// each HTTP session this node creates or takes over is saved in the
// context's failover.Space: its id, timeout and last access (touched by
// its HTTP requests), its attributes and the WebSocket user properties
// bound to it, after each change (write-behind, or write-through with WriteThrough). A
// request whose cookie names a session this node does not hold (its node
// died, and the proxy sent the client here) restores it from the other
// nodes: a handshake is then served on an executor, never on the event
// loop. The restored session answers with its cookie re-pinned to this
// node's route. The per-connection keys (jeus.websocket.remote*) are not
// replicated: they describe one connection, not the HTTP session.

// localInline reports whether the Inline endpoints of ctx keep their user
// properties per session: when the HTTP session's are replicated
// write-through, a Set waits for the backups, and an Inline callback runs
// on the event loop.
func (ctx *webContext) localInline() bool {
	return ctx.sessions.rep != nil && ctx.settings.WriteThrough
}

// maxRestores bounds the restores under way in a context: each may wait
// FetchTimeout for the other nodes, on an executor worker, and cookies
// are the client's to invent. A restore beyond it waits up to
// restoreWait for its turn, then its request starts without the session.
const (
	maxRestores = 16
	restoreWait = 5 * time.Second
)

// Misses are remembered for missTTL (at most maxMisses of them), so that
// a client repeating a cookie no node knows does not make every node
// search each time.
const (
	missTTL   = 5 * time.Second
	maxMisses = 4096
)

// replica is a context's link to the cluster store.
type replica struct {
	space        *failover.Space
	writeThrough bool
	log          *slog.Logger
	restoring    chan struct{} // semaphore of maxRestores

	missMu      sync.Mutex
	misses      map[string]time.Time // ids no node held: when
	windowStart time.Time            // of the current second of misses
	inWindow    int                  // restores that found nothing in it
	lastRefusal time.Time            // last warning about a refused restore
}

func newReplica(space *failover.Space, writeThrough bool, log *slog.Logger) *replica {
	return &replica{space: space, writeThrough: writeThrough, log: log, restoring: make(chan struct{}, maxRestores), misses: map[string]time.Time{}}
}

// maxMissesPerSecond bounds the restores that found nothing in a second
// of a context: past it, no more restores start in that second. Cookies
// are the client's to invent, and each restore asks every node; the
// clients of a node that died come back with sessions that exist, and
// are not held back.
const maxMissesPerSecond = 100

// allowRestore reports whether a restore may start now.
func (rep *replica) allowRestore() bool {
	rep.missMu.Lock()
	now := time.Now()
	if now.Sub(rep.windowStart) >= time.Second {
		rep.windowStart, rep.inWindow = now, 0
	}
	ok := rep.inWindow < maxMissesPerSecond
	rep.missMu.Unlock()
	if !ok {
		rep.refused("more than %d HTTP sessions looked for in vain this second; starting without the session", maxMissesPerSecond)
	}
	return ok
}

// refused logs a restore that was not attempted, at most every 10s.
func (rep *replica) refused(format string, args ...any) {
	rep.missMu.Lock()
	now := time.Now()
	quiet := now.Sub(rep.lastRefusal) < 10*time.Second
	if !quiet {
		rep.lastRefusal = now
	}
	rep.missMu.Unlock()
	if !quiet {
		rep.log.Warn(fmt.Sprintf(format, args...))
	}
}

// missed reports whether id was looked for in vain lately.
func (rep *replica) missed(id string) bool {
	rep.missMu.Lock()
	defer rep.missMu.Unlock()
	at, ok := rep.misses[id]
	if ok && time.Since(at) > missTTL {
		delete(rep.misses, id)
		return false
	}
	return ok
}

// miss remembers that no node held id.
func (rep *replica) miss(id string) {
	rep.missMu.Lock()
	defer rep.missMu.Unlock()
	if len(rep.misses) >= maxMisses {
		clear(rep.misses)
	}
	now := time.Now()
	rep.misses[id] = now
	if now.Sub(rep.windowStart) >= time.Second {
		rep.windowStart, rep.inWindow = now, 0
	}
	rep.inWindow++
}

// forgetLost makes st forget the sessions another node takes over: the
// next request for one restores the newer version. WebSocket sessions
// still open on the old HTTP session keep its properties, no longer
// replicated.
func (st *sessionStore) forgetLost() {
	st.rep.space.OnLost(func(id string) { st.remove(id) })
}

// attach makes h's attributes and user properties replicated and saves
// h. h is not in the store yet: no change can race with this first save.
func (rep *replica) attach(h *httpSession) {
	rep.hook(h)
	_ = rep.saveNew(h)
}

// hook has every change of h's attributes or user properties saved.
func (rep *replica) hook(h *httpSession) {
	save := func(map[string]any) error { return rep.save(h) }
	h.wsProps.OnChange(save)
	h.attrs.OnChange(save)
}

// saveNew saves a session this node just created.
func (rep *replica) saveNew(h *httpSession) error {
	_, err := rep.space.Save(failover.Record{ID: h.id, Timeout: h.MaxInactiveInterval(), LastAccess: h.LastAccessedTime()})
	rep.space.Flush()
	return err
}

// perConnection are the user properties that describe one connection.
var perConnection = []string{endpoint.PropRemoteAddr, endpoint.PropRemoteHost, endpoint.PropRemotePort}

// errSessionEnded: a change to the user properties of an HTTP session
// that was invalidated, or that another node took over, is not
// replicated (it would bring the session back).
var errSessionEnded = errors.New("container: the HTTP session was invalidated or moved to another node: user properties not replicated")

// save saves h as it is now: its attributes and user properties (the
// space skips a save that changes nothing, such as a change of the
// per-connection keys only). Saves of one session do not overlap, so
// the last one holds the latest of both maps.
func (rep *replica) save(h *httpSession) error {
	if h.invalid.Load() || !h.sessions.holds(h) {
		rep.log.Warn("attribute or user property set after its HTTP session ended or moved to another node: not replicated", "session", shortID(h.id))
		return errSessionEnded
	}
	h.saveMu.Lock()
	defer h.saveMu.Unlock()
	props := h.wsProps.Snapshot()
	for _, k := range perConnection {
		delete(props, k)
	}
	r := failover.Record{ID: h.id, Timeout: h.MaxInactiveInterval(), LastAccess: h.LastAccessedTime(), Props: props, Attrs: h.attrs.Snapshot()}
	var skipped []string
	var err error
	if rep.writeThrough {
		skipped, err = rep.space.SaveSync(context.Background(), r)
	} else {
		skipped, err = rep.space.Save(r)
		rep.space.Flush()
	}
	if len(skipped) > 0 && !h.warnedSkip.Swap(true) {
		rep.log.Warn("user properties that are not replicable stay on this node", "keys", skipped)
	}
	switch {
	case err == nil:
	case errors.Is(err, failover.ErrExpired):
		rep.log.Warn("user property set after its HTTP session expired: not replicated", "err", err)
	default:
		rep.log.Warn("user properties not replicated", "err", err)
	}
	return err
}

// restore takes over the session id from the other nodes, or returns nil.
// It blocks (up to the cluster's fetch timeout): never call it on the
// event loop.
func (st *sessionStore) restore(id string) *httpSession {
	rep := st.rep
	if rep.missed(id) {
		return nil
	}
	if !rep.allowRestore() {
		return nil
	}
	// After a node dies its clients come back all at once: a restore
	// waits its turn for a while before it gives up.
	t := time.NewTimer(restoreWait)
	defer t.Stop()
	select {
	case rep.restoring <- struct{}{}:
		defer func() { <-rep.restoring }()
	case <-t.C:
		rep.refused("too many HTTP session restores under way; starting without the session")
		return nil
	}
	r, ok, err := rep.space.Restore(context.Background(), id)
	switch {
	case err != nil && ok: // a node that died did not answer: expected
		rep.log.Debug("restoring an HTTP session: not every node answered", "err", err)
	case err != nil:
		rep.log.Warn("restoring an HTTP session from the cluster", "err", err)
	}
	if !ok {
		if err == nil {
			rep.miss(id)
		}
		return nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if h := st.m[id]; h != nil { // restored meanwhile
		return h
	}
	h := &httpSession{id: id, created: time.Now(), sessions: st}
	h.last.Store(r.LastAccess.UnixNano())
	h.timeout.Store(int64(r.Timeout))
	h.moved.Store(true)
	for k, v := range maps.All(r.Props) {
		_ = h.wsProps.Set(k, v)
	}
	for k, v := range maps.All(r.Attrs) {
		_ = h.attrs.Set(k, v)
	}
	rep.hook(h)
	st.m[id] = h
	rep.log.Info("HTTP session restored from the cluster", "session", shortID(id), "properties", len(r.Props), "attributes", len(r.Attrs))
	return h
}

// shortID abbreviates a session id for logs: the whole id is a credential.
func shortID(id string) string {
	if len(id) > 8 {
		return id[:8] + "…"
	}
	return id
}

// validID reports whether id could be one of ours: 43 characters of
// base64url (256 bits), so that no other string makes the nodes search.
func validID(id string) bool {
	if len(id) != 43 {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch b := id[i]; {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9', b == '-', b == '_':
		default:
			return false
		}
	}
	return true
}
