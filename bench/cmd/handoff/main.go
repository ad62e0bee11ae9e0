// Command handoff measures what handing a connection's work to a worker pool
// costs, apart from WebSocket and from the container. It is a TCP echo, like
// rawecho, whose echo runs on a pool of worker goroutines that keeps each
// connection's order, in one of two designs:
//
//   - -design copy: gnet reads on its event loop (as for rawecho and the
//     container), OnTraffic copies the bytes into a pooled buffer and queues
//     the connection; a worker writes the buffer back to the socket. This is
//     the container's default path without WebSocket: the bytes cross from
//     the loop's core to the worker's.
//   - -design read: an epoll poller (edge-triggered, one per core) only
//     reports that a socket is readable and queues the connection; the
//     worker reads the socket itself and writes the bytes back, so they
//     never leave its core. This is how Tomcat's and Jetty's connectors hand
//     work to their pools.
//
// Both use the same pool: a fixed number of worker goroutines taking
// connections from one buffered channel, a connection queued at most once at
// a time. The harness measures both beside rawecho, so that the report can
// say how much of the container's default path is the hand-off itself and
// what a socket-reading worker would give. It stops on SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/panjf2000/gnet/v2/pkg/logging"
	"golang.org/x/sys/unix"
)

// pool is the worker pool: a connection is queued at most once at a time
// (its own state says so), so its work never overlaps and keeps its order.
type pool struct {
	tasks chan task
}

// task is a connection with work pending.
type task interface{ run() }

func newPool(workers, queue int) *pool {
	p := &pool{tasks: make(chan task, queue)}
	for i := 0; i < workers; i++ {
		go func() {
			for t := range p.tasks {
				t.run()
			}
		}()
	}
	return p
}

// Connection states for both designs: idle, queued (or running), and
// queued with more work arrived meanwhile.
const (
	stIdle int32 = iota
	stQueued
	stAgain
)

// schedule queues t unless it is queued already; then the worker that runs
// it goes round once more.
func (p *pool) schedule(state *atomic.Int32, t task) {
	for {
		switch st := state.Load(); st {
		case stIdle:
			if state.CompareAndSwap(stIdle, stQueued) {
				p.tasks <- t
				return
			}
		case stQueued:
			if state.CompareAndSwap(stQueued, stAgain) {
				return
			}
		default:
			return
		}
	}
}

// done ends a worker's turn: it returns true when more work arrived
// meanwhile and the worker must go round again.
func done(state *atomic.Int32) bool {
	if state.CompareAndSwap(stQueued, stIdle) {
		return false
	}
	state.Store(stQueued) // stAgain: one more round
	return true
}

// writeAll writes b to a non-blocking socket, waiting for room when the
// send buffer is full (rare with one message in flight).
func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
			if _, err := unix.Poll(pfd, 1000); err != nil && err != unix.EINTR {
				return err
			}
			continue
		case err != nil:
			return err
		}
		b = b[n:]
	}
	return nil
}

// ---- design copy: gnet reads on the loop, the worker writes ----

type copyServer struct {
	gnet.BuiltinEventEngine
	pool   *pool
	eng    gnet.Engine
	booted chan struct{}
	bufs   sync.Pool
}

// copyConn is one connection's mailbox: the buffers the loop filled, in
// order, for the worker to write.
type copyConn struct {
	srv   *copyServer
	fd    int
	state atomic.Int32
	mu    sync.Mutex
	q     []*[]byte
	dead  atomic.Bool
	c     gnet.Conn
}

func (s *copyServer) OnBoot(eng gnet.Engine) gnet.Action {
	s.eng = eng
	close(s.booted)
	return gnet.None
}

func (s *copyServer) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	c.SetContext(&copyConn{srv: s, fd: c.Fd(), c: c})
	return nil, gnet.None
}

func (s *copyServer) OnClose(c gnet.Conn, _ error) gnet.Action {
	c.Context().(*copyConn).dead.Store(true)
	return gnet.None
}

func (s *copyServer) OnTraffic(c gnet.Conn) gnet.Action {
	cc := c.Context().(*copyConn)
	in, _ := c.Next(-1)
	bp, _ := s.bufs.Get().(*[]byte)
	if bp == nil {
		b := make([]byte, 0, 64<<10)
		bp = &b
	}
	*bp = append((*bp)[:0], in...)
	cc.mu.Lock()
	cc.q = append(cc.q, bp)
	cc.mu.Unlock()
	s.pool.schedule(&cc.state, cc)
	return gnet.None
}

func (cc *copyConn) run() {
	for {
		for {
			cc.mu.Lock()
			if len(cc.q) == 0 {
				cc.mu.Unlock()
				break
			}
			bp := cc.q[0]
			cc.q[0] = nil
			cc.q = cc.q[1:]
			cc.mu.Unlock()
			if !cc.dead.Load() {
				if err := writeAll(cc.fd, *bp); err != nil {
					_ = cc.c.Close()
				}
			}
			cc.srv.bufs.Put(bp)
		}
		if !done(&cc.state) {
			return
		}
	}
}

func serveCopy(listen string, p *pool) (stop func(context.Context) error, err error) {
	s := &copyServer{pool: p, booted: make(chan struct{})}
	stopped := make(chan error, 1)
	go func() {
		stopped <- gnet.Run(s, "tcp://"+listen,
			gnet.WithMulticore(true),
			gnet.WithReusePort(false),
			gnet.WithTCPNoDelay(gnet.TCPNoDelay),
			gnet.WithLogLevel(logging.ErrorLevel),
		)
	}()
	select {
	case <-s.booted:
	case err := <-stopped:
		return nil, err
	}
	return func(ctx context.Context) error {
		if err := s.eng.Stop(ctx); err != nil {
			return err
		}
		return <-stopped
	}, nil
}

// ---- design read: the poller reports readiness, the worker reads ----

// readConn is one connection of the read design.
type readConn struct {
	fd    int
	state atomic.Int32
	p     *readServer
}

type readServer struct {
	pool    *pool
	pollers []int // epoll fds
	mu      sync.Mutex
	conns   map[int]*readConn
	bufs    sync.Pool
	ln      int
	closing atomic.Bool
}

func (rc *readConn) run() {
	bp, _ := rc.p.bufs.Get().(*[]byte)
	if bp == nil {
		b := make([]byte, 64<<10)
		bp = &b
	}
	defer rc.p.bufs.Put(bp)
	for {
		for {
			n, err := unix.Read(rc.fd, *bp)
			if err == unix.EINTR {
				continue
			}
			if err == unix.EAGAIN {
				break
			}
			if err != nil || n == 0 {
				rc.p.drop(rc)
				return // the connection's state stays queued: it is gone
			}
			if err := writeAll(rc.fd, (*bp)[:n]); err != nil {
				rc.p.drop(rc)
				return
			}
			if n < len(*bp) {
				// A short read drained the socket: bytes that come
				// later raise a new edge, so no read for EAGAIN.
				break
			}
		}
		if !done(&rc.state) {
			return
		}
	}
}

func (s *readServer) drop(rc *readConn) {
	s.mu.Lock()
	if s.conns[rc.fd] == rc {
		delete(s.conns, rc.fd)
		_ = unix.Close(rc.fd) // also leaves its epoll set
	}
	s.mu.Unlock()
}

func (s *readServer) poll(epfd int) {
	events := make([]unix.EpollEvent, 256)
	// As gnet's poller does: after a wait that returned events, look
	// again without blocking; when that finds none, yield the P (to the
	// workers just queued) before blocking.
	msec := -1
	for {
		n, err := unix.EpollWait(epfd, events, msec)
		if n == 0 || err == unix.EINTR {
			msec = -1
			runtime.Gosched()
			continue
		}
		if err != nil {
			return
		}
		msec = 0
		for i := 0; i < n; i++ {
			fd := int(events[i].Fd)
			s.mu.Lock()
			rc := s.conns[fd]
			s.mu.Unlock()
			if rc != nil {
				s.pool.schedule(&rc.state, rc)
			}
		}
	}
}

func (s *readServer) accept() {
	next := 0
	for {
		fd, _, err := unix.Accept4(s.ln, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		if err == unix.EINTR || err == unix.ECONNABORTED {
			continue
		}
		if err != nil {
			if !s.closing.Load() {
				fmt.Fprintln(os.Stderr, "handoff: accept:", err)
			}
			return
		}
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		rc := &readConn{fd: fd, p: s}
		s.mu.Lock()
		s.conns[fd] = rc
		s.mu.Unlock()
		epfd := s.pollers[next%len(s.pollers)]
		next++
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(fd)}
		if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			s.drop(rc)
			continue
		}
		// Bytes that came before the registration raise no edge.
		s.pool.schedule(&rc.state, rc)
	}
}

func serveRead(listen string, p *pool, pollers int) (stop func(context.Context) error, err error) {
	addr, err := net.ResolveTCPAddr("tcp4", listen)
	if err != nil {
		return nil, err
	}
	ln, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	_ = unix.SetsockoptInt(ln, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	sa := &unix.SockaddrInet4{Port: addr.Port}
	copy(sa.Addr[:], addr.IP.To4())
	if err := unix.Bind(ln, sa); err != nil {
		return nil, err
	}
	if err := unix.Listen(ln, 4096); err != nil {
		return nil, err
	}
	s := &readServer{pool: p, conns: make(map[int]*readConn), ln: ln}
	for i := 0; i < pollers; i++ {
		epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			return nil, err
		}
		s.pollers = append(s.pollers, epfd)
		go s.poll(epfd)
	}
	go s.accept()
	return func(context.Context) error {
		s.closing.Store(true)
		_ = unix.Shutdown(ln, unix.SHUT_RDWR)
		return unix.Close(ln)
	}, nil
}

func main() {
	listen := flag.String("listen", "127.0.0.1:9002", "TCP address to serve on")
	design := flag.String("design", "copy", "copy (gnet reads, the worker writes a copy) or read (the worker reads its own socket)")
	workers := flag.Int("workers", 10, "worker goroutines (the container's default executor minimum)")
	queue := flag.Int("queue", 4096, "the pool's queue (the container's default)")
	flag.Parse()

	p := newPool(*workers, *queue)
	var stop func(context.Context) error
	var err error
	switch *design {
	case "copy":
		stop, err = serveCopy(*listen, p)
	case "read":
		stop, err = serveRead(*listen, p, runtime.NumCPU())
	default:
		err = errors.New("-design must be copy or read")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "handoff:", err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "handoff serving", *listen, "design", *design)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := stop(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "handoff: stop:", err)
		os.Exit(1)
	}
}
