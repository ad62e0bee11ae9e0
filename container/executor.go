package container

import (
	"sync"
	"sync/atomic"
	"time"
)

// executor is a web context's bounded worker pool. Its unit of work is a
// session with pending events: a session is queued at most once at a time
// (see mailbox), so its callbacks never overlap and keep their order.
//
// It never blocks the caller: submit fails when QueueSize sessions are
// already waiting, and the caller closes the overloaded session with 1013.
// Work that must run (a session's final OnClose) goes to an overflow list
// bounded by the number of sessions, so no session ends without its OnClose.
type executor struct {
	settings ExecutorSettings
	tasks    chan *session

	mu       sync.Mutex
	overflow []*session
	hasOver  atomic.Bool
	overLen  atomic.Int32 // len(overflow)

	workers atomic.Int32 // running worker goroutines
	idle    atomic.Int32 // workers waiting for a task (or starting); the others are busy
	peak    atomic.Int32 // most workers busy at once, for tests and metrics
	quit    chan struct{}
	wg      sync.WaitGroup
}

func newExecutor(s ExecutorSettings) *executor {
	e := &executor{
		settings: s,
		tasks:    make(chan *session, s.QueueSize),
		quit:     make(chan struct{}),
	}
	for i := 0; i < s.Min; i++ {
		e.spawn()
	}
	return e
}

// submit queues s to run. It returns false when the queue is full.
func (e *executor) submit(s *session) bool {
	select {
	case e.tasks <- s:
	default:
		return false
	}
	e.maybeSpawn()
	return true
}

// submitMust queues s even when the queue is full.
func (e *executor) submitMust(s *session) {
	if e.submit(s) {
		return
	}
	e.mu.Lock()
	e.overflow = append(e.overflow, s)
	e.hasOver.Store(true)
	e.overLen.Add(1)
	e.mu.Unlock()
	e.maybeSpawn()
}

// maybeSpawn adds workers, up to Max, while more sessions wait than idle
// workers can take: a burst must not wait behind workers that are busy.
func (e *executor) maybeSpawn() {
	for int(e.idle.Load()) < len(e.tasks)+int(e.overLen.Load()) {
		n := e.workers.Load()
		if int(n) >= e.settings.Max {
			return
		}
		if e.workers.CompareAndSwap(n, n+1) {
			e.start()
		}
	}
}

func (e *executor) spawn() {
	e.workers.Add(1)
	e.start()
}

func (e *executor) start() {
	e.idle.Add(1)
	e.wg.Add(1)
	go e.work()
}

// busy returns how many workers are running a task (a worker counts as busy
// for a moment while it starts, too).
func (e *executor) busy() int32 { return e.workers.Load() - e.idle.Load() }

func (e *executor) popOverflow() *session {
	if !e.hasOver.Load() {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.overflow) == 0 {
		return nil
	}
	s := e.overflow[0]
	e.overflow[0] = nil
	e.overflow = e.overflow[1:]
	e.overLen.Add(-1)
	if len(e.overflow) == 0 {
		e.overflow = nil
		e.hasOver.Store(false)
	}
	return s
}

func (e *executor) work() {
	defer e.wg.Done()
	keepAlive := e.settings.KeepAlive
	timer := time.NewTimer(keepAlive)
	defer timer.Stop()
	// The keep-alive timer is not re-armed per task (that costs a
	// timer-heap update per message), and the time is read only when the
	// worker is about to wait: when the timer fires, a worker that has not
	// waited for a whole KeepAlive re-arms it for the rest.
	var idleSince time.Time
	waiting := false // since idleSince, without a task
	// counted: this worker counts in e.idle. A worker that goes from one
	// task straight to the next never does, so a busy pool leaves the
	// counter, which every loop reads per submit, alone.
	counted := true // start counted it
	for {
		s := e.popOverflow()
		if s == nil {
			select {
			case s = <-e.tasks: // a busy pool: no timer, no blocking select
			default:
				if !counted {
					e.idle.Add(1)
					counted = true
				}
				if !waiting {
					idleSince, waiting = time.Now(), true
				}
				select {
				case s = <-e.tasks:
				case <-timer.C:
					if idle := time.Since(idleSince); idle < keepAlive {
						timer.Reset(keepAlive - idle)
						continue
					}
					// Retire if above Min; the CAS keeps concurrent exits
					// from going below it.
					if n := e.workers.Load(); int(n) > e.settings.Min && e.workers.CompareAndSwap(n, n-1) {
						e.idle.Add(-1)
						return
					}
					timer.Reset(keepAlive)
					continue
				case <-e.quit:
					e.idle.Add(-1)
					e.workers.Add(-1)
					return
				}
			}
		}
		waiting = false
		if counted {
			counted = false
			idle := e.idle.Add(-1)
			// Until now this worker counted as idle: a submit in that
			// window may have left a session for it. Make sure someone
			// takes it.
			e.maybeSpawn()
			if b := e.workers.Load() - idle; b > e.peak.Load() {
				e.peak.Store(b)
			}
		}
		s.run()
	}
}

func (e *executor) stop(done <-chan struct{}) bool {
	finished := make(chan struct{})
	go func() {
		// Let queued work finish: workers exit on quit only when idle.
		for len(e.tasks) > 0 || e.hasOver.Load() || e.busy() > 0 {
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
		}
		close(e.quit)
		e.wg.Wait()
		close(finished)
	}()
	select {
	case <-finished:
		return true
	case <-done:
		return false
	}
}
