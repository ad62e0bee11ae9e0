package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// server is one server under test: how to start it and what it serves.
type server struct {
	name  string // short name, as in -servers
	label string // for the tables
	bin   string
	args  func(addr, stats string) []string
	mode  string // load -mode: tcp for the raw gnet echo, ws otherwise
	echo  string // echo path ("" for raw TCP)
	bcast string // broadcast path; "" when the server has none
	stats bool   // serves /debug/pprof/ on its stats address
}

// running is a started server process.
type running struct {
	s       *server
	addr    string
	stats   string
	cmd     *exec.Cmd
	exited  chan error
	stopped bool
	logPath string
	logf    *os.File
}

// start starts s on free 127.0.0.1 ports and waits until it listens. A
// server that exits before listening (another process took a port in the
// meantime) is started again on other ports, twice at most.
func (h *harness) start(ctx context.Context, s *server, tag string) (*running, error) {
	for try := 0; ; try++ {
		r, err := h.startOnce(ctx, s, tag)
		if err == nil || try == 2 || !strings.Contains(err.Error(), "exited before listening") {
			return r, err
		}
		fmt.Fprintf(os.Stderr, "    %s: %v: starting it again\n", s.name, firstLine(err.Error()))
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

func (h *harness) startOnce(ctx context.Context, s *server, tag string) (*running, error) {
	n := 1
	if s.stats {
		n = 2
	}
	addrs, err := freeAddrs(n)
	if err != nil {
		return nil, err
	}
	addr, stats := addrs[0], ""
	if s.stats {
		stats = addrs[1]
	}
	r := &running{s: s, addr: addr, stats: stats, exited: make(chan error, 1),
		logPath: filepath.Join(h.logDir, fmt.Sprintf("%s-%s.log", s.name, tag))}
	if r.logf, err = os.Create(r.logPath); err != nil {
		return nil, err
	}
	r.cmd = exec.Command(s.bin, s.args(addr, stats)...)
	r.cmd.Stdout, r.cmd.Stderr = r.logf, r.logf
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		r.logf.Close()
		return nil, fmt.Errorf("start %s: %w", s.name, err)
	}
	go func() { r.exited <- r.cmd.Wait() }()
	if err := waitListening(ctx, addr, r.exited); err != nil {
		r.kill()
		return nil, fmt.Errorf("%s: %w%s", s.name, err, logTail(r.logPath))
	}
	if stats != "" {
		if err := waitListening(ctx, stats, r.exited); err != nil {
			r.kill()
			return nil, fmt.Errorf("%s stats: %w%s", s.name, err, logTail(r.logPath))
		}
	}
	return r, nil
}

func (r *running) pid() int { return r.cmd.Process.Pid }

// alive returns an error if the server has exited.
func (r *running) alive() error {
	if r.stopped {
		return errors.New("server stopped")
	}
	select {
	case err := <-r.exited:
		r.stopped = true
		return fmt.Errorf("%s exited during the run (%v)%s", r.s.name, err, logTail(r.logPath))
	default:
		return nil
	}
}

// stop stops the server as its owner would (SIGTERM) and expects a clean
// exit within 20 s.
func (r *running) stop() error {
	if r.stopped {
		return nil
	}
	defer r.logf.Close()
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-r.exited:
		r.stopped = true
		if err != nil {
			return fmt.Errorf("%s exited with %v after SIGTERM%s", r.s.name, err, logTail(r.logPath))
		}
		return nil
	case <-time.After(20 * time.Second):
		r.kill()
		return fmt.Errorf("%s did not exit within 20s of SIGTERM%s", r.s.name, logTail(r.logPath))
	}
}

func (r *running) kill() {
	if r.stopped {
		return
	}
	_ = r.cmd.Process.Kill()
	<-r.exited
	r.stopped = true
	r.logf.Close()
}

// memStats is a server's memory, after a forced GC.
type memStats struct {
	heapInuse, stackInuse float64 // bytes, from runtime.MemStats
	rss, hwm              float64 // bytes, VmRSS and VmHWM (peak RSS)
	goroutines            float64
}

func (m memStats) user() float64 { return m.heapInuse + m.stackInuse }

// mem reads the server's memory: heap and stacks after a GC from its
// pprof endpoint (/debug/pprof/heap?gc=1&debug=1 prints runtime.MemStats),
// goroutines from the goroutine profile, RSS from /proc.
func (r *running) mem() (memStats, error) {
	var m memStats
	var err error
	if m.rss, m.hwm, err = procRSS(r.pid()); err != nil {
		return m, err
	}
	if r.stats == "" {
		return m, nil
	}
	body, err := httpGet("http://" + r.stats + "/debug/pprof/heap?gc=1&debug=1")
	if err != nil {
		return m, err
	}
	// "# Stack = inuse / sys"; the others are "# Name = n".
	stats := leadingNumbers(body, "# ", " = ")
	m.heapInuse, m.stackInuse = stats["HeapInuse"], stats["Stack"]
	if m.heapInuse == 0 {
		return m, fmt.Errorf("%s: no HeapInuse in the heap profile", r.s.name)
	}
	// RSS again, now that the GC ran.
	if m.rss, m.hwm, err = procRSS(r.pid()); err != nil {
		return m, err
	}
	body, err = httpGet("http://" + r.stats + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		return m, err
	}
	first, _, _ := strings.Cut(body, "\n")
	if _, n, ok := strings.Cut(first, "total "); ok {
		m.goroutines, _ = strconv.ParseFloat(strings.TrimSpace(n), 64)
	}
	return m, nil
}

func httpGet(url string) (string, error) {
	c := http.Client{Timeout: 30 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(b), err
}

// leadingNumbers reads lines "<prefix>key<sep>number ..." of text into a
// map of each key's first number.
func leadingNumbers(text, prefix, sep string) map[string]float64 {
	m := map[string]float64{}
	for _, l := range strings.Split(text, "\n") {
		k, v, ok := strings.Cut(strings.TrimPrefix(l, prefix), sep)
		if !ok {
			continue
		}
		if f := strings.Fields(v); len(f) > 0 {
			m[k], _ = strconv.ParseFloat(f[0], 64)
		}
	}
	return m
}

// procRSS returns VmRSS and VmHWM of a process, in bytes.
func procRSS(pid int) (rss, hwm float64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	status := leadingNumbers(string(b), "", ":") // "VmRSS:	  1234 kB"
	rss, hwm = status["VmRSS"]*1024, status["VmHWM"]*1024
	return rss, hwm, nil
}

// loadResult is the JSON line of cmd/load, every workload's fields.
type loadResult struct {
	Workload        string      `json:"workload"`
	Mode            string      `json:"mode"`
	Conns           int         `json:"conns"`
	Size            int         `json:"size"`
	Seconds         float64     `json:"seconds"`
	Messages        uint64      `json:"messages"`
	MsgPerS         float64     `json:"msg_per_s"`
	Errors          int64       `json:"errors"`
	MinConnMessages uint64      `json:"min_conn_messages"`
	P50us           float64     `json:"p50_us"`
	P99us           float64     `json:"p99_us"`
	P999us          float64     `json:"p999_us"`
	MaxUs           float64     `json:"max_us"`
	Hist            [][2]uint64 `json:"hist"`
	Error           string      `json:"error"`
	RateTarget      float64     `json:"rate_target"`
	Sent            uint64      `json:"sent"`
	Deliveries      uint64      `json:"deliveries"`
	DeliveriesPerS  float64     `json:"deliveries_per_s"`
	Published       uint64      `json:"published"`
	Slow            int         `json:"slow"`
	SlowClosed      int         `json:"slow_closed"`
	Upgrades        uint64      `json:"upgrades"`
	UpgradesPerS    float64     `json:"upgrades_per_s"`
	SlowConns       int         `json:"slow_conns"`
	ClosedByServer  int         `json:"closed_by_server"`
	CloseAfterP50ms float64     `json:"close_after_ms_p50"`
	CloseAfterMaxms float64     `json:"close_after_ms_max"`
	StillOpen       int         `json:"still_open"`
	CloseCode       int         `json:"close_code"`
	MBPerS          float64     `json:"mb_per_s"`
	SendLagP99us    float64     `json:"send_lag_p99_us"`
}

// loadProc is one running load process.
type loadProc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout bytes.Buffer
	ready  chan struct{}
	done   chan error
	tail   []string // the last stderr lines, for errors
	mu     sync.Mutex
}

// group is a set of load processes that start their traffic together:
// each is run with -sync, says "load: ready" when its connections are up,
// and starts when it reads "go" on stdin. The first process's window marks
// call onMark.
type group struct {
	procs  []*loadProc
	onMark func(mark string)
}

// startGroup starts one load process per argument list.
func (h *harness) startGroup(ctx context.Context, argsList [][]string, onMark func(string)) (*group, error) {
	g := &group{onMark: onMark}
	for i, args := range argsList {
		p := &loadProc{ready: make(chan struct{}), done: make(chan error, 1)}
		p.cmd = exec.CommandContext(ctx, h.loadBin, append([]string{"-sync"}, args...)...)
		p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		p.cmd.Stdout = &p.stdout
		var err error
		if p.stdin, err = p.cmd.StdinPipe(); err != nil {
			return nil, err
		}
		stderr, err := p.cmd.StderrPipe()
		if err != nil {
			return nil, err
		}
		if h.verbose {
			fmt.Fprintf(os.Stderr, "    load %s\n", strings.Join(args, " "))
		}
		if err := p.cmd.Start(); err != nil {
			g.kill()
			return nil, fmt.Errorf("start load: %w", err)
		}
		first := i == 0
		scanned := make(chan struct{})
		go func() {
			defer close(scanned)
			sc := bufio.NewScanner(stderr)
			readyOnce := sync.Once{}
			for sc.Scan() {
				line := sc.Text()
				switch {
				case line == "load: ready":
					readyOnce.Do(func() { close(p.ready) })
				case line == "load: window start" || line == "load: window end":
					if first && g.onMark != nil {
						g.onMark(line)
					}
				default:
					p.mu.Lock()
					p.tail = append(p.tail, line)
					if len(p.tail) > 10 {
						p.tail = p.tail[1:]
					}
					p.mu.Unlock()
				}
			}
		}()
		go func() {
			<-scanned
			p.done <- p.cmd.Wait()
		}()
		g.procs = append(g.procs, p)
	}
	return g, nil
}

// waitReady waits until every process said "load: ready".
func (g *group) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.After(timeout)
	for i, p := range g.procs {
		select {
		case <-p.ready:
		case err := <-p.done:
			p.done <- err
			return fmt.Errorf("load process %d exited before it was ready (%v): %s %s", i, err, strings.TrimSpace(p.stdout.String()), p.lastLines())
		case <-deadline:
			return fmt.Errorf("load process %d not ready after %v %s", i, timeout, p.lastLines())
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (p *loadProc) lastLines() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.tail) == 0 {
		return ""
	}
	return "(stderr: " + strings.Join(p.tail, " | ") + ")"
}

// send writes a line to every process's stdin.
func (g *group) send(line string) {
	for _, p := range g.procs {
		_, _ = io.WriteString(p.stdin, line+"\n")
	}
}

// wait waits for every process to finish and returns their results. Any
// process error or reported error fails.
func (g *group) wait(timeout time.Duration) ([]loadResult, error) {
	var out []loadResult
	var firstErr error
	deadline := time.After(timeout)
	for i, p := range g.procs {
		var err error
		select {
		case err = <-p.done:
		case <-deadline:
			g.kill()
			return nil, fmt.Errorf("load process %d did not finish within %v %s", i, timeout, p.lastLines())
		}
		var r loadResult
		jerr := json.Unmarshal(bytes.TrimSpace(p.stdout.Bytes()), &r)
		if firstErr == nil {
			switch {
			case jerr != nil:
				firstErr = fmt.Errorf("load process %d: bad output %q (%v) %s", i, p.stdout.String(), err, p.lastLines())
			case err != nil || r.Errors > 0 || r.Error != "":
				firstErr = fmt.Errorf("load process %d failed (%v): errors=%d %s %s", i, err, r.Errors, r.Error, p.lastLines())
			}
		}
		out = append(out, r)
	}
	return out, firstErr
}

func (g *group) kill() {
	for _, p := range g.procs {
		if p.cmd.Process != nil {
			_ = p.cmd.Process.Kill()
		}
	}
}

// freeAddrs returns n distinct 127.0.0.1 addresses whose ports were free a
// moment ago: all are held open together, so that no two are the same.
func freeAddrs(n int) ([]string, error) {
	var out []string
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		out = append(out, l.Addr().String())
	}
	return out, nil
}

func waitListening(ctx context.Context, addr string, exited chan error) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			return nil
		}
		select {
		case err := <-exited:
			exited <- err
			return fmt.Errorf("server exited before listening: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server not listening on %s after 15s", addr)
		}
	}
}

// logTail returns the last lines of a server log, for error messages.
func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return "\n  server log " + path + " (tail):\n    " + strings.Join(lines, "\n    ")
}

// logIssues returns the warnings, errors and panics in a server log.
func logIssues(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if strings.Contains(l, "level=ERROR") || strings.Contains(l, "panic") {
			n++
			if len(out) < 5 {
				out = append(out, l)
			}
		}
	}
	if n > len(out) {
		out = append(out, fmt.Sprintf("... %d such lines in all (%s)", n, path))
	}
	return out
}
