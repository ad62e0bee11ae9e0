package container

import (
	"sync"

	"github.com/wsc-dev/wsc/endpoint"
)

// batcher gathers a session's data frames while the endpoint allows
// batching (endpoint.Batching). Its mutex may be held across a blocking
// send, so the event loop never takes it: the loop's close paths leave the
// batch alone, and Session.Close flushes it first.
type batcher struct {
	mu      sync.Mutex
	allowed bool    // mirrored in the session's flagBatching, which senders read without the lock
	buf     *[]byte // encoded frames not yet handed to the send path
}

// sendBatched writes w, or adds it to the batch when batching is allowed,
// flushing the batch once it reaches BatchingBufferBytes.
func (s *session) sendBatched(w wframe, policy sendPolicy, done endpoint.SendHandler) error {
	if !s.has(flagBatching) {
		// Not batching: no lock. A send racing SetBatchingAllowed from
		// another goroutine has no order with it anyway.
		return s.transmit(w, false, policy, done)
	}
	b := s.batch.Load()
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.allowed {
		return s.transmit(w, false, policy, done)
	}
	if s.out.isClosing() {
		w.release()
		if done != nil {
			done(endpoint.ErrSessionClosed)
		}
		return endpoint.ErrSessionClosed
	}
	b.buf = growBuf(b.buf, len(w.b))
	*b.buf = append(*b.buf, w.b...)
	w.release()
	if done != nil {
		done(nil)
	}
	if len(*b.buf) >= s.settings().BatchingBufferBytes {
		return s.flushLocked(b, policy)
	}
	return nil
}

// flushLocked hands the batch to the send path. b.mu must be held.
func (s *session) flushLocked(b *batcher, policy sendPolicy) error {
	if b.buf == nil || len(*b.buf) == 0 {
		return nil
	}
	fb := b.buf
	b.buf = nil
	return s.transmit(wframe{b: *fb, own: fb}, false, policy, nil)
}

// SetBatchingAllowed implements endpoint.Batching.
func (s *session) SetBatchingAllowed(allowed bool) error {
	b := s.batch.Load()
	if b == nil {
		if !allowed {
			return nil
		}
		// The first time: sessions that never batch hold no batcher.
		s.batch.CompareAndSwap(nil, new(batcher))
		b = s.batch.Load()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.allowed = allowed
	s.setFlagTo(flagBatching, allowed)
	if !allowed {
		return s.flushLocked(b, policyBasic)
	}
	return nil
}

// BatchingAllowed implements endpoint.Batching.
func (s *session) BatchingAllowed() bool {
	b := s.batch.Load()
	if b == nil {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.allowed
}

// FlushBatch implements endpoint.Batching.
func (s *session) FlushBatch() error {
	b := s.batch.Load()
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return s.flushLocked(b, policyBasic)
}

// flushBeforeClose writes the batch ahead of a close frame, without
// waiting for room.
func (s *session) flushBeforeClose() {
	b := s.batch.Load()
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	_ = s.flushLocked(b, policyAsync)
}
