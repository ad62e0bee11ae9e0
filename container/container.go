package container

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/panjf2000/gnet/v2/pkg/logging"
	"golang.org/x/sys/unix"

	"github.com/wsc-dev/wsc/endpoint"
)

// Errors of the container's life cycle.
var (
	// ErrStarted is returned by Deploy and Start after Start.
	ErrStarted = errors.New("container: already started")
	// ErrNotStarted is returned by Shutdown before Start.
	ErrNotStarted = errors.New("container: not started")
)

// WebContext is a deployable web application: a context path, its settings
// and its endpoints, like a WAR in a Java web server.
type WebContext struct {
	// Path is the context path, such as "/samples"; "" or "/" is the root.
	Path string
	// Settings are the context's WebSocket settings.
	Settings Settings
	// Endpoints are the endpoints to deploy, at paths relative to Path.
	Endpoints []*endpoint.ServerConfig
	// Handler serves the context's plain HTTP requests (pages, static
	// files, REST), with Path stripped from the URL path. Nil means 404,
	// or 426 at a WebSocket endpoint's path.
	Handler http.Handler
}

// DeploymentError lists every problem of a web context that failed to
// deploy.
type DeploymentError struct {
	// Context is the context path.
	Context string
	// Problems describes each problem, naming the endpoint.
	Problems []string
}

// Error implements error.
func (e *DeploymentError) Error() string {
	return fmt.Sprintf("container: context %q not deployed: %s", e.Context, strings.Join(e.Problems, "; "))
}

// Container runs WebSocket endpoints on gnet event loops. Create it with
// New, add contexts with Deploy, then Start; Shutdown stops it.
//
// Lock order: Container.mu → mapping.mu. Session locks (see session) are
// never held while taking these.
type Container struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	contexts []*webContext // longest path first
	started  bool

	eng      gnet.Engine
	addr     net.Addr
	booted   chan struct{}
	stopped  chan error
	draining atomic.Bool
	conns    atomic.Int64 // open TCP connections
	now      atomic.Int64 // coarse clock, unix nanoseconds, for idle checks
	hsCount  handshakeCounters
	stopTick chan struct{}
	flushers sync.Map  // gnet.EventLoop → *loopFlusher (fanout.go)
	pollers  []*poller // the open sessions' loops, after the hand-off (poller.go)
	socks    fdTable   // the pollers' sessions by descriptor
}

// webContext is a deployed WebContext.
type webContext struct {
	path      string // "" for the root
	settings  Settings
	exec      *executor
	endpoints map[string]*mapping // by path template as written
	routes    endpoint.TemplateSet[*mapping]
	stopIdle  chan struct{}
	count     contextCounters
	handler   http.Handler
	open      atomic.Int64 // open WebSocket sessions, for MaxSessions
	sessions  *sessionStore
}

// acquire takes a session slot, or reports that MaxSessions are open.
func (c *webContext) acquire() bool {
	limit := int64(c.settings.MaxSessions)
	for {
		n := c.open.Load()
		if limit > 0 && n >= limit {
			return false
		}
		if c.open.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// mapping is a deployed endpoint and its open sessions.
type mapping struct {
	ctx      *webContext
	cfg      *endpoint.ServerConfig
	fullPath string

	// The sessions form a list through session.prev and session.next, so
	// an idle session costs its mapping no map entry (guarded by mu).
	mu    sync.Mutex
	head  *session
	count int
}

// add puts s on the list. A session is on at most one list at a time.
func (m *mapping) add(s *session) {
	m.mu.Lock()
	s.prev, s.next = nil, m.head
	if m.head != nil {
		m.head.prev = s
	}
	m.head = s
	m.count++
	m.mu.Unlock()
}

// remove takes s off the list; removing a session that is not on it does
// nothing.
func (m *mapping) remove(s *session) {
	m.mu.Lock()
	if s.prev != nil || m.head == s {
		if s.prev != nil {
			s.prev.next = s.next
		} else {
			m.head = s.next
		}
		if s.next != nil {
			s.next.prev = s.prev
		}
		s.prev, s.next = nil, nil
		m.count--
	}
	m.mu.Unlock()
}

func (m *mapping) openSessions() []endpoint.Session {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]endpoint.Session, 0, m.count)
	for s := m.head; s != nil; s = s.next {
		if s.IsOpen() {
			out = append(out, s)
		}
	}
	return out
}

func (m *mapping) all() []*session {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*session, 0, m.count)
	for s := m.head; s != nil; s = s.next {
		out = append(out, s)
	}
	return out
}

// New returns a container with cfg; zero fields take their defaults.
func New(cfg Config) *Container {
	cfg = cfg.withDefaults()
	c := &Container{cfg: cfg, log: cfg.Logger, booted: make(chan struct{}), stopped: make(chan error, 1), stopTick: make(chan struct{})}
	c.now.Store(time.Now().UnixNano())
	return c
}

// clockTick is the resolution of the coarse clock that stamps session
// traffic: far below the 1 s floor of idle timeouts, far above the cost of
// reading the time for every frame.
const clockTick = 100 * time.Millisecond

func (c *Container) runClock() {
	t := time.NewTicker(clockTick)
	defer t.Stop()
	for {
		select {
		case <-c.stopTick:
			return
		case now := <-t.C:
			c.now.Store(now.UnixNano())
		}
	}
}

// Deploy adds a web context. It checks every endpoint first and deploys
// nothing when any is wrong, returning a *DeploymentError that names each
// problem; the container keeps serving its other contexts.
func (c *Container) Deploy(wc WebContext) error {
	path := strings.TrimSuffix(wc.Path, "/")
	var problems []string
	if path != "" && !strings.HasPrefix(path, "/") {
		problems = append(problems, fmt.Sprintf("context path %q must start with /", wc.Path))
	}
	ctx := &webContext{path: path, settings: wc.Settings.withDefaults(), endpoints: map[string]*mapping{}, handler: wc.Handler}
	ctx.sessions = newSessionStore(c.cfg.Route, path, ctx.settings.SessionTimeout)
	if ctx.settings.DistributedUserProperties && c.cfg.Cluster != nil {
		ctx.sessions.rep = newReplica(c.cfg.Cluster.Space(cmp.Or(path, "/")), ctx.settings.WriteThrough, c.log.With("context", cmp.Or(path, "/")))
		ctx.sessions.forgetLost()
	}
	for i, ep := range wc.Endpoints {
		switch {
		case ep == nil:
			problems = append(problems, fmt.Sprintf("endpoint %d is nil", i))
			continue
		case ep.New == nil:
			problems = append(problems, fmt.Sprintf("endpoint %q: New is nil", ep.Path))
		case ep.Inline && ctx.localInline():
			c.log.Warn("an Inline endpoint keeps its user properties per session, not in the HTTP session: with write-through replication a Set would wait for the cluster on the event loop", "context", cmp.Or(path, "/"), "endpoint", ep.Path)
		}
		tmpl, err := endpoint.ParseTemplate(ep.Path)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		m := &mapping{ctx: ctx, cfg: ep, fullPath: path + ep.Path}
		if err := ctx.routes.Add(tmpl, m); err != nil {
			problems = append(problems, err.Error())
			continue
		}
		ctx.endpoints[ep.Path] = m
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started {
		return ErrStarted
	}
	for _, other := range c.contexts {
		if other.path == path {
			problems = append(problems, fmt.Sprintf("context path %q is already deployed", wc.Path))
		}
	}
	if len(problems) > 0 {
		return &DeploymentError{Context: wc.Path, Problems: problems}
	}
	c.contexts = append(c.contexts, ctx)
	sort.SliceStable(c.contexts, func(i, j int) bool { return len(c.contexts[i].path) > len(c.contexts[j].path) })
	return nil
}

// route finds the endpoint for an escaped request path: the context with
// the longest matching path, then the endpoint template matching the rest
// (exact paths first, then the leftmost literal segment wins).
func (c *Container) route(escapedPath string) (*mapping, map[string]string) {
	ctx, rest := c.contextFor(escapedPath)
	if ctx == nil {
		return nil, nil
	}
	m, params, ok := ctx.routes.Match(rest)
	if !ok {
		return nil, nil
	}
	return m, params
}

// Start starts listening and returns once the listener is bound. It serves
// until Shutdown.
func (c *Container) Start() error {
	c.mu.Lock()
	if c.started {
		c.mu.Unlock()
		return ErrStarted
	}
	c.started = true
	go c.runClock()
	for _, ctx := range c.contexts {
		ctx.exec = newExecutor(ctx.settings.Executor)
		ctx.stopIdle = make(chan struct{})
		go ctx.monitorIdle()
	}
	c.mu.Unlock()
	if !c.cfg.LoopReads {
		n := c.cfg.EventLoops
		if n <= 0 {
			n = runtime.GOMAXPROCS(0)
		}
		for i := 0; i < n; i++ {
			p, err := newPoller(c)
			if err != nil {
				c.stopPollers()
				return fmt.Errorf("container: start a poller: %w", err)
			}
			c.pollers = append(c.pollers, p)
		}
	}
	opts := []gnet.Option{
		gnet.WithMulticore(true),
		gnet.WithReusePort(false),
		// As net.Listen does: a restart (after a crash, or a shutdown that
		// closed sessions) binds its port while the old connections are
		// in TIME_WAIT. Two live listeners still cannot share it.
		gnet.WithReuseAddr(true),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithLogger(gnetLogger{c.log}),
		gnet.WithLogLevel(logging.DebugLevel), // gnetLogger maps the levels
	}
	if c.cfg.EventLoops > 0 {
		opts = append(opts, gnet.WithNumEventLoop(c.cfg.EventLoops))
	}
	go func() {
		c.stopped <- gnet.Run((*handler)(c), "tcp://"+c.cfg.Addr, opts...)
	}()
	select {
	case <-c.booted:
		return nil
	case err := <-c.stopped:
		c.stopped <- err
		c.stopPollers()
		return fmt.Errorf("container: listen on %s: %w", c.cfg.Addr, err)
	}
}

// Addr returns the address the container listens on, once started.
func (c *Container) Addr() net.Addr { return c.addr }

// Shutdown stops the container gracefully: it refuses new handshakes,
// closes every session with 1001, waits for the peers' close frames, stops
// the event loops and waits for the executors to run every OnClose. It
// returns ctx.Err() if ctx ends first, with whatever was left closed hard.
func (c *Container) Shutdown(ctx context.Context) error {
	c.mu.Lock()
	started := c.started
	c.mu.Unlock()
	if !started {
		return ErrNotStarted
	}
	c.draining.Store(true)
	for _, wc := range c.contexts {
		close(wc.stopIdle)
	}
	var live []*session
	for _, wc := range c.contexts {
		for _, m := range wc.endpoints {
			live = append(live, m.all()...)
		}
	}
	for _, s := range live {
		_ = s.Close(endpoint.CloseReason{Code: endpoint.CloseGoingAway, Reason: "server shutting down"})
	}
	var err error
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
wait:
	for _, s := range live {
		for s.getState() != stateClosed {
			select {
			case <-ctx.Done():
				err = ctx.Err()
				break wait
			case <-tick.C:
			}
		}
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = c.eng.Stop(stopCtx)
	<-c.stopped
	c.stopPollers()
	done := ctx.Done()
	for _, wc := range c.contexts {
		if !wc.exec.stop(done) && err == nil {
			err = ctx.Err()
		}
	}
	close(c.stopTick)
	return err
}

// stopPollers stops the pollers and closes the sessions still on them.
func (c *Container) stopPollers() {
	for _, p := range c.pollers {
		p.stop()
	}
	c.socks.each(func(k *sock) { k.closeNow() })
}

// handler is the container as gnet's event handler.
type handler Container

func (h *handler) OnBoot(eng gnet.Engine) gnet.Action {
	c := (*Container)(h)
	c.eng = eng
	if fd, err := eng.Dup(); err == nil {
		if sa, err := unix.Getsockname(fd); err == nil {
			c.addr = sockaddrToTCP(sa)
		}
		_ = unix.Close(fd)
	}
	close(c.booted)
	return gnet.None
}

func (h *handler) OnShutdown(gnet.Engine) {}

func (h *handler) OnOpen(conn gnet.Conn) ([]byte, gnet.Action) {
	c := (*Container)(h)
	s := newSession(conn, c)
	conn.SetContext(s)
	c.conns.Add(1)
	s.hsTimer.Store(time.AfterFunc(c.cfg.HandshakeTimeout, func() {
		if s.getState() == stateHandshake {
			_ = conn.Close()
		}
	}))
	return nil, gnet.None
}

func (h *handler) OnTraffic(conn gnet.Conn) gnet.Action {
	s := conn.Context().(*session)
	if s.getState() == stateHandshake {
		s.setFlag(flagOnLoop) // an inline endpoint's OnOpen runs here
		defer s.clearFlag(flagOnLoop)
		return s.onHandshakeTraffic(conn)
	}
	if s.has(flagHandedOff) {
		return gnet.None // gnet is letting the connection go: adopt carries these bytes over
	}
	// Open: flagInline was set before the state changed. Only an inline
	// endpoint looks at flagOnLoop, so the others skip two atomic
	// operations per read.
	if !s.has(flagInline) {
		return s.readFrames(conn)
	}
	s.setFlag(flagOnLoop)
	a := s.readFrames(conn) // endpoint panics are recovered below it
	s.clearFlag(flagOnLoop)
	return a
}

func (h *handler) OnClose(conn gnet.Conn, _ error) gnet.Action {
	c := (*Container)(h)
	s, _ := conn.Context().(*session)
	if s == nil {
		return gnet.None
	}
	s.setFlag(flagOnLoop) // an inline endpoint's OnClose runs here
	ended := s.ended(conn)
	s.clearFlag(flagOnLoop)
	if !ended {
		// The session has left gnet for a sock, which takes it over now.
		s.out.mu.Lock()
		k := s.c.(*sock)
		s.out.mu.Unlock()
		s.adopt(conn, k)
		return gnet.None
	}
	c.conns.Add(-1)
	return gnet.None
}

// ended closes the session for sending and, if it was open, takes it off
// its endpoint, counts it and posts its OnClose. t is the transport that
// closed: when the session has left it (gnet's connection after detach),
// nothing changes and ended reports false.
func (s *session) ended(t transport) bool {
	if !s.closeOutboundFrom(t) {
		return false
	}
	prev := sessionState(s.state.Swap(uint32(stateClosed)))
	if prev == stateHandshake {
		s.stopHandshakeTimer()
		return true
	}
	// Leave, folding the counters in, so that Stats counts them once.
	s.ctx.count.foldMu.Lock()
	s.ep.remove(s)
	s.trafficTo(&s.ctx.count.ended)
	s.ctx.count.foldMu.Unlock()
	if h := s.authenticatedIn(); h != nil {
		h.unbind(s)
	}
	s.out.mu.Lock()
	if s.closeReason == nil {
		s.closeReason = &endpoint.CloseReason{Code: endpoint.CloseClosedAbnormally}
	}
	code := s.closeReason.Code
	s.out.mu.Unlock()
	s.ctx.open.Add(-1)
	s.ctx.count.closed(code)
	s.post(event{kind: evClose})
	return true
}

func (h *handler) OnTick() (time.Duration, gnet.Action) { return time.Hour, gnet.None }

func sockaddrToTCP(sa unix.Sockaddr) net.Addr {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]).To16(), Port: a.Port}
	case *unix.SockaddrInet6:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}
	}
	return nil
}

// settings returns the session's context settings.
func (s *session) settings() *Settings { return &s.ctx.settings }
