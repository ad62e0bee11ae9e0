package container

import (
	"sync"
	"time"

	"github.com/wsc-dev/wsc/endpoint"
)

// monitorIdle closes the context's idle sessions every MonitoringPeriod (the
// JEUS monitoring period): a session closes within its idle timeout plus one
// period. One goroutine per context, as JEUS and Tomcat do, instead of a
// timer per session.
func (c *webContext) monitorIdle() {
	t := time.NewTicker(c.settings.MonitoringPeriod)
	defer t.Stop()
	for {
		select {
		case <-c.stopIdle:
			return
		case now := <-t.C:
			c.closeIdle(now)
			c.sessions.sweep(now)
		}
	}
}

// closeIdle closes every open session idle for longer than its timeout.
// The sessions are shared among TimeoutThreads goroutines; it returns how
// many ran.
func (c *webContext) closeIdle(now time.Time) int {
	var all []*session
	for _, m := range c.endpoints {
		all = append(all, m.all()...)
	}
	threads := min(c.settings.TimeoutThreads, max(len(all), 1))
	var wg sync.WaitGroup
	for i := 0; i < threads; i++ {
		wg.Add(1)
		go func(part []*session) {
			defer wg.Done()
			for _, s := range part {
				timeout := s.idleNanos.Load()
				if timeout <= 0 || s.getState() != stateOpen {
					continue
				}
				if idle := now.UnixNano() - s.lastSeen.Load(); idle > timeout {
					s.idleClose()
				}
			}
		}(all[i*len(all)/threads : (i+1)*len(all)/threads])
	}
	wg.Wait()
	return threads
}

// idleClose closes an idle session: 1001 to the peer, 1006 to OnClose (as
// JEUS reports it: the session did not end by a closing handshake of the
// application's).
func (s *session) idleClose() {
	payload := []byte{byte(endpoint.CloseGoingAway >> 8), byte(endpoint.CloseGoingAway & 0xff)}
	payload = append(payload, "idle timeout"...)
	s.sendClose(payload, endpoint.CloseReason{Code: endpoint.CloseClosedAbnormally, Reason: "idle timeout"}, false)
}
