package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Timeouts of the harness.
const (
	buildTimeout = 5 * time.Minute  // go build ./cmd/wsc
	startTimeout = 15 * time.Second // until the port accepts TCP
	stopTimeout  = 15 * time.Second // from SIGTERM to exit
	startTries   = 5                // free ports tried before giving up
	echoPath     = "/samples/echo"
)

// binDir holds the wsc binary built for this test run; TestMain removes it.
var binDir string

var build struct {
	once sync.Once
	path string
	err  error
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wsc-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// moduleRoot returns the repository root: the parent of this package's
// directory, which holds go.mod.
func moduleRoot(tb testing.TB) string {
	tb.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		tb.Fatalf("module root not found at %s: %v", root, err)
	}
	return root
}

// wscBinary builds ./cmd/wsc on first use and returns the binary's path.
// Every test of the run shares the build.
func wscBinary(tb testing.TB) string {
	tb.Helper()
	build.once.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			build.err = fmt.Errorf("go tool not found: %w", err)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
		defer cancel()
		path := filepath.Join(binDir, "wsc")
		cmd := exec.CommandContext(ctx, goTool, "build", "-o", path, "./cmd/wsc")
		cmd.Dir = moduleRoot(tb)
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("go build ./cmd/wsc: %v\n%s", err, out)
			return
		}
		build.path = path
	})
	if build.err != nil {
		tb.Fatal(build.err)
	}
	return build.path
}

// syncBuffer is a bytes.Buffer safe for the process's writer goroutine and
// the test reading it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// server is a running wsc process.
type server struct {
	Addr string // 127.0.0.1:PORT
	URL  string // ws://127.0.0.1:PORT/samples/echo

	cmd    *exec.Cmd
	stderr *syncBuffer
	exited chan struct{} // closed when the process has exited
	err    error         // cmd.Wait's result, once exited is closed

	termSent atomic.Bool
	killed   atomic.Bool // by Kill: Stop checks nothing
	stopOnce sync.Once
}

// startServer runs wsc on a free loopback port and waits until it serves. t.Cleanup stops it with SIGTERM and checks that it exits 0
// after logging "stopped"; a test may call Stop earlier.
func startServer(tb testing.TB) *server { return startWith(tb, nil) }

// startWith is startServer with more flags: extra, when not nil, gives
// them for each try.
func startWith(tb testing.TB, extra func() []string) *server {
	tb.Helper()
	bin := wscBinary(tb)
	var lastErr error
	for try := 0; try < startTries; try++ {
		addr, err := freeAddr()
		if err != nil {
			tb.Fatal(err)
		}
		var args []string
		if extra != nil {
			args = extra()
		}
		s, err := launch(bin, addr, args...)
		if err == nil {
			tb.Cleanup(func() { s.Stop(tb) })
			return s
		}
		lastErr = err
		tb.Logf("start on %s failed, retrying: %v", addr, err)
	}
	tb.Fatalf("wsc did not start after %d tries: %v", startTries, lastErr)
	return nil
}

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

// launch starts wsc on addr and waits until it logs that it serves and the
// port accepts TCP. It kills the process and returns an error when it exits
// or does not listen in time (the port may have been taken in between).
func launch(bin, addr string, extra ...string) (*server, error) {
	s := &server{
		Addr:   addr,
		URL:    "ws://" + addr + echoPath,
		stderr: &syncBuffer{},
		exited: make(chan struct{}),
	}
	s.cmd = exec.Command(bin, append([]string{"-listen", addr, "-admin", "127.0.0.1:0", "-v"}, extra...)...)
	s.cmd.Stdout = s.stderr
	s.cmd.Stderr = s.stderr
	killWithParent(s.cmd)
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.exited)
	}()
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-s.exited:
			return nil, fmt.Errorf("wsc exited before listening: %v\n%s", s.err, s.stderr)
		default:
		}
		// The log line tells that this process, not another one that got
		// the port in between, is the listener.
		err := errors.New(`no "wsc serving" log line yet`)
		if strings.Contains(s.Log(), `msg="wsc serving" addr=`+addr) {
			var c net.Conn
			if c, err = net.DialTimeout("tcp", addr, time.Second); err == nil {
				_ = c.Close()
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			_ = s.cmd.Process.Kill()
			<-s.exited
			return nil, fmt.Errorf("wsc not listening on %s after %v: %v\n%s", addr, startTimeout, err, s.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill kills the process with SIGKILL, as a crash would, and waits for
// it to exit; Stop then checks nothing.
func (s *server) Kill() {
	s.killed.Store(true)
	s.termSent.Store(true)
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// Terminate sends SIGTERM to the process, once.
func (s *server) Terminate(tb testing.TB) {
	tb.Helper()
	if s.termSent.Swap(true) {
		return
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		tb.Errorf("SIGTERM: %v", err)
	}
}

// Stop sends SIGTERM (unless Terminate did), waits up to stopTimeout for the
// process to exit and checks that it exited 0 after logging "stopped". It
// kills the process if it does not exit. Calls after the first do nothing.
func (s *server) Stop(tb testing.TB) {
	tb.Helper()
	s.stopOnce.Do(func() {
		defer func() {
			if tb.Failed() {
				tb.Logf("wsc log (%s):\n%s", s.Addr, s.Log())
			}
		}()
		if s.killed.Load() {
			return
		}
		select {
		case <-s.exited:
			if !s.termSent.Load() {
				tb.Errorf("wsc exited before it was stopped: %v", s.err)
				return
			}
		default:
			s.Terminate(tb)
		}
		t := time.NewTimer(stopTimeout)
		defer t.Stop()
		select {
		case <-s.exited:
		case <-t.C:
			_ = s.cmd.Process.Kill()
			<-s.exited
			tb.Errorf("wsc did not exit within %v of SIGTERM; killed", stopTimeout)
			return
		}
		var exitErr *exec.ExitError
		switch {
		case errors.As(s.err, &exitErr):
			tb.Errorf("wsc exited with %v, want status 0", exitErr)
		case s.err != nil:
			tb.Errorf("wsc: %v", s.err)
		}
		if !strings.Contains(s.Log(), "msg=stopped") {
			tb.Errorf("wsc did not log msg=stopped")
		}
	})
}

// Log returns what the process has logged so far.
func (s *server) Log() string { return s.stderr.String() }
