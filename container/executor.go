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
//
// A worker waits with a plain receive on tasks, not a select with a
// keep-alive timer: in a select, every wait would put the timer in the
// runtime's heap and every wake-up take it out again, once per message
// under an echo load. Workers above Min retire through a reaper that runs
// every KeepAlive while there are any: it counts the workers that stayed
// idle for the whole period and wakes that many with a nil task.
type executor struct {
	settings ExecutorSettings
	// tasks holds the sessions waiting for a worker. A nil task wakes a
	// worker to retire (above Min) or, once stop has begun, to exit.
	tasks chan *session

	mu       sync.Mutex
	overflow []*session
	hasOver  atomic.Bool
	overLen  atomic.Int32 // len(overflow)

	workers atomic.Int32 // running worker goroutines
	idle    atomic.Int32 // workers waiting for a task (or starting); the others are busy
	peak    atomic.Int32 // most workers busy at once, for tests and metrics
	// idleLow is the fewest idle workers since the reaper's last tick: that
	// many have been idle for the whole period.
	idleLow  atomic.Int32
	reaping  atomic.Bool // a reaper tick is scheduled
	stopping atomic.Bool
	wg       sync.WaitGroup
}

func newExecutor(s ExecutorSettings) *executor {
	e := &executor{
		settings: s,
		tasks:    make(chan *session, s.QueueSize),
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
			e.armReaper()
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

// lessIdle takes a worker out of the idle count and keeps idleLow.
func (e *executor) lessIdle() int32 {
	idle := e.idle.Add(-1)
	for {
		low := e.idleLow.Load()
		if idle >= low || e.idleLow.CompareAndSwap(low, idle) {
			return idle
		}
	}
}

// armReaper schedules a reaper tick if there are workers above Min and
// none is scheduled.
func (e *executor) armReaper() {
	if int(e.workers.Load()) > e.settings.Min && !e.stopping.Load() && e.reaping.CompareAndSwap(false, true) {
		e.idleLow.Store(e.idle.Load())
		time.AfterFunc(e.settings.KeepAlive, e.reap)
	}
}

// reap wakes, with a nil task each, as many workers above Min as have been
// idle since the last tick, and ticks again while workers above Min remain.
func (e *executor) reap() {
	if !e.stopping.Load() {
		surplus := min(e.idleLow.Load(), e.workers.Load()-int32(e.settings.Min))
		for ; surplus > 0; surplus-- {
			select {
			case e.tasks <- nil:
			default:
				surplus = 1 // the queue is full: the pool is not idle
			}
		}
		if int(e.workers.Load()) > e.settings.Min {
			e.idleLow.Store(e.idle.Load())
			time.AfterFunc(e.settings.KeepAlive, e.reap)
			return
		}
	}
	e.reaping.Store(false)
	e.armReaper() // a spawn since the check above
}

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
	// counted: this worker counts in e.idle. A worker that goes from one
	// task straight to the next never does, so a busy pool leaves the
	// counter, which every loop reads per submit, alone.
	counted := true // start counted it
	for {
		s := e.popOverflow()
		if s == nil {
			select {
			case s = <-e.tasks: // a busy pool: no blocking
			default:
				if !counted {
					e.idle.Add(1)
					counted = true
				}
				s = <-e.tasks
			}
			if s == nil {
				if e.leave(counted) {
					return
				}
				continue
			}
		}
		if counted {
			counted = false
			idle := e.lessIdle()
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

// leave handles a nil task: the worker exits if stop has begun, or retires
// if the pool is above Min. It reports whether the worker is gone.
func (e *executor) leave(counted bool) bool {
	if !e.stopping.Load() {
		n := e.workers.Load()
		if int(n) <= e.settings.Min || !e.workers.CompareAndSwap(n, n-1) {
			return false
		}
	} else {
		e.workers.Add(-1)
	}
	if counted {
		e.lessIdle()
	}
	// A session queued behind the nil task may have counted on this worker.
	e.maybeSpawn()
	return true
}

func (e *executor) stop(done <-chan struct{}) bool {
	finished := make(chan struct{})
	go func() {
		// Let queued work finish: workers exit only when idle.
		for len(e.tasks) > 0 || e.hasOver.Load() || e.busy() > 0 {
			e.maybeSpawn() // a nil task queued behind no worker (Min 0)
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
		}
		e.stopping.Store(true)
		for e.workers.Load() > 0 {
			if len(e.tasks) == 0 {
				select {
				case e.tasks <- nil:
					continue // taken at once by a waiting worker, or left for the next
				default:
				}
			}
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
		}
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
