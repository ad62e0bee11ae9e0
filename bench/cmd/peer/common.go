package main

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"time"
)

const (
	// queueLimit is the budget, in cost units (see cost), of the messages
	// queued for one /broadcast subscriber and not yet written. A message that
	// would take the queue past it closes the subscriber, unless the queue is
	// empty: one message of any size up to maxMessageSize is always accepted.
	queueLimit = 1 << 20

	// entryOverhead is what one queued message costs on top of its payload,
	// so a flood of tiny messages is bounded too.
	entryOverhead = 64

	// keepBufferMax is the largest echo read buffer a connection keeps
	// between messages; a bigger one is dropped after use, so one big message
	// does not pin its size for the life of the connection.
	keepBufferMax = 1 << 20
)

// cost is what a message of n payload bytes counts against queueLimit.
func cost(n int) int64 { return int64(n) + entryOverhead }

// hub is the set of connections currently open on /broadcast. It is safe for
// concurrent use.
type hub[S comparable] struct {
	mu    sync.RWMutex
	list  []S
	index map[S]int
	pool  sync.Pool // *[]S snapshots
}

// newHub returns an empty hub.
func newHub[S comparable]() *hub[S] {
	return &hub[S]{index: make(map[S]int)}
}

// add puts s in the set.
func (h *hub[S]) add(s S) {
	h.mu.Lock()
	if _, ok := h.index[s]; !ok {
		h.index[s] = len(h.list)
		h.list = append(h.list, s)
	}
	h.mu.Unlock()
}

// remove takes s out of the set; it is a no-op if s is not in it.
func (h *hub[S]) remove(s S) {
	h.mu.Lock()
	if i, ok := h.index[s]; ok {
		last := len(h.list) - 1
		h.list[i] = h.list[last]
		h.index[h.list[i]] = i
		var zero S
		h.list[last] = zero
		h.list = h.list[:last]
		delete(h.index, s)
	}
	h.mu.Unlock()
}

// each calls f for every member, on a snapshot taken under the lock, so f may
// block briefly or make a member leave without deadlocking the hub.
func (h *hub[S]) each(f func(S)) {
	p, _ := h.pool.Get().(*[]S)
	if p == nil {
		p = new([]S)
	}
	h.mu.RLock()
	snap := append((*p)[:0], h.list...)
	h.mu.RUnlock()
	for _, s := range snap {
		f(s)
	}
	clear(snap)
	*p = snap[:0]
	h.pool.Put(p)
}

// outbox is the bounded outbound queue of one /broadcast subscriber, for the
// implementations whose idiom is one writer goroutine per connection. The
// readers of all connections push; the subscriber's writer goroutine pops.
type outbox[M any] struct {
	mu      sync.Mutex
	q       []entry[M]
	pending int64 // cost of queued and in-flight messages
	dead    bool
	wake    chan struct{} // capacity 1: something was pushed
}

// entry is one queued message and its cost.
type entry[M any] struct {
	m    M
	cost int64
}

// newOutbox returns an empty outbox.
func newOutbox[M any]() *outbox[M] {
	return &outbox[M]{wake: make(chan struct{}, 1)}
}

// push queues m, which costs c. It returns false if the queue is over its
// budget: the outbox is then dead, drops everything, and the caller must
// close the subscriber. Pushing to a dead outbox is a silent no-op.
func (o *outbox[M]) push(m M, c int64) bool {
	o.mu.Lock()
	if o.dead {
		o.mu.Unlock()
		return true
	}
	if o.pending > 0 && o.pending+c > queueLimit {
		o.dead = true
		clear(o.q)
		o.q = nil
		o.mu.Unlock()
		return false
	}
	o.q = append(o.q, entry[M]{m, c})
	o.pending += c
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
	return true
}

// take moves every queued message to batch (reusing its storage) and
// returns it; the messages stay counted as pending until done is called for
// each. It returns an empty batch if nothing is queued.
func (o *outbox[M]) take(batch []entry[M]) []entry[M] {
	clear(batch)
	batch = batch[:0]
	o.mu.Lock()
	batch, o.q = o.q, batch
	o.mu.Unlock()
	return batch
}

// done marks a taken message of cost c as written.
func (o *outbox[M]) done(c int64) {
	o.mu.Lock()
	o.pending -= c
	o.mu.Unlock()
}

// run is the writer loop: it writes queued messages, in order, with write
// until write fails or stop is closed.
func (o *outbox[M]) run(stop <-chan struct{}, write func(M) error) error {
	var batch []entry[M]
	for {
		select {
		case <-o.wake:
		case <-stop:
			return nil
		}
		batch = o.take(batch)
		for _, e := range batch {
			err := write(e.m)
			o.done(e.cost)
			if err != nil {
				return err
			}
		}
		if cap(batch) > 1024 {
			batch = nil // do not keep a burst's storage
		}
	}
}

// connTracker tracks the upgraded connections of a net/http based server, so
// that shutdown can close them (http.Server does not track hijacked
// connections) and wait for their goroutines.
type connTracker struct {
	mu      sync.Mutex
	conns   map[any]func()
	closing bool
	wg      sync.WaitGroup
}

// newConnTracker returns an empty tracker.
func newConnTracker() *connTracker {
	return &connTracker{conns: make(map[any]func())}
}

// add registers the connection key, closed by closeFn on shutdown. It
// returns false if shutdown has begun: the caller must then close the
// connection itself and not call remove.
func (t *connTracker) add(key any, closeFn func()) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closing {
		return false
	}
	t.conns[key] = closeFn
	t.wg.Add(1)
	return true
}

// remove unregisters key once its goroutines are done with the connection.
func (t *connTracker) remove(key any) {
	t.mu.Lock()
	delete(t.conns, key)
	t.mu.Unlock()
	t.wg.Done()
}

// closeAll refuses new connections and closes the registered ones.
func (t *connTracker) closeAll() {
	t.mu.Lock()
	t.closing = true
	fns := make([]func(), 0, len(t.conns))
	for _, fn := range t.conns {
		fns = append(fns, fn)
	}
	t.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

// wait waits up to d for every registered connection to be removed. It
// reports whether they all were.
func (t *connTracker) wait(d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		t.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// runHTTP serves h on ln with net/http until ctx is done; then it closes the
// listener, the connections net/http still owns and the upgraded ones in t,
// and waits for the latter's goroutines.
func runHTTP(ctx context.Context, ln net.Listener, h http.Handler, t *connTracker) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.Default(),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	var err error
	select {
	case err = <-served:
	case <-ctx.Done():
		_ = srv.Close()
		if e := <-served; !errors.Is(e, http.ErrServerClosed) {
			err = e
		}
	}
	t.closeAll()
	if !t.wait(shutdownWait) {
		log.Print("shutdown: some connections did not finish in time")
	}
	return err
}

// readInto reads r to EOF into *buf, reusing and growing its storage, and
// returns the bytes read. On success the caller may keep the storage for the
// next message with keep.
func readInto(buf *[]byte, r io.Reader) ([]byte, error) {
	b := (*buf)[:0]
	if cap(b) == 0 {
		b = make([]byte, 0, 4096)
	}
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			*buf = b
			return b, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// keep drops *buf if it grew past keepBufferMax.
func keep(buf *[]byte) {
	if cap(*buf) > keepBufferMax {
		*buf = nil
	}
}
