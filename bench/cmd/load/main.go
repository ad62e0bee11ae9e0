// Command load is the load generator of the benchmark harness. It runs one
// workload (-workload) against a server and prints one JSON line.
//
//	load -mode ws  -addr 127.0.0.1:9000 -path /samples/echo -conns 1000 -size 1024
//	load -mode tcp -addr 127.0.0.1:9001 -conns 1000 -size 1024
//	load -workload broadcast -path /samples/broadcast -conns 5000 -slow 10 -publish-rate 100
//
// # Run protocol (every workload)
//
// load opens its connections (-conns, spread over the -src source IPs in
// turn, -dial-concurrency at a time) and writes "load: ready" to stderr.
// With -sync it then waits for one line on stdin (any line, e.g. "go"):
// a harness starts several load processes, waits for every "ready" and
// writes "go\n" to each. Then the traffic starts: -warmup of load, then
// "load: window start" on stderr, the measured -duration, "load: window
// end". Every figure covers the window only, unless told otherwise below.
// The result is one JSON line on stdout. Any dial, handshake, protocol or
// verify error, a close by the server, or a stall (-hang-timeout) fills
// "error", counts in "errors" and makes the exit status 1 (the only
// exception: slowloris connections that stay open are data, not errors).
//
// # Flags
//
// Every workload: -workload, -addr, -path, -conns, -size, -duration,
// -warmup, -src, -dial-concurrency, -hang-timeout, -sync, -verify-every.
// echo: -mode, -inflight, -rate, -max-inflight, -schedulers. broadcast:
// -publish-rate, -slow, -drain-timeout. storm: -conc. slowloris:
// -interval. large: -frag, -expect-close. Run load -h for the defaults.
//
// # JSON
//
// Always present: workload, mode, conns, size, seconds (the window),
// messages, msg_per_s, errors, p50_us, p99_us, p999_us, max_us, samples;
// hist when it is not empty; error when the run failed. The fields of
// one workload, listed below, appear only for that workload.
//
// # Latency histogram
//
// Latencies go into a fixed log-bucket histogram (see hist.go): bucket i
// has the upper bound U(i) = ceil(1000 × 1.04^i) ns, i = 0 … 479, and holds
// U(i-1) < v ≤ U(i). The JSON has "hist": [[U(i), count], …] for the
// non-empty buckets, "samples" (their total), and p50_us, p99_us, p999_us
// (the bucket's upper bound, capped at the maximum: at most 4% high) and
// max_us (exact). Histograms of several processes merge by adding counts
// of equal upper bounds. Each goroutine records into its own histogram;
// they are merged at the end.
//
// # Workloads
//
// -workload echo (default), -mode ws (binary frames on -path) or -mode tcp
// (raw bytes, e.g. against the raw gnet echo). Each message is -size
// bytes; its first 8 bytes carry a per-connection sequence number (little
// endian) that is checked on every echo, and the whole payload is compared
// every -verify-every messages. WebSocket echoes must be single unmasked
// binary frames of exactly -size bytes. Every message sent in the window
// is recorded in the histogram (round trip). Three loops:
//
//   - closed loop (default, -inflight 1, -rate 0): one message in flight per
//     connection, one goroutine per connection.
//   - pipelined (-inflight k): k messages in flight per connection, a
//     writer and a reader goroutine per connection; the latency of a
//     message is its receive time minus its send time (kept in a ring of k).
//   - open loop (-rate R msg/s for the whole process): each connection
//     sends one message every conns/R seconds, from a random phase, on a
//     schedule kept by -schedulers goroutines (default: one per 64
//     connections) that write directly; a reader goroutine per connection.
//     Latency is measured from the scheduled send time, not the actual one
//     (coordinated-omission safe). More than -max-inflight messages in
//     flight on a connection is an error. After the window the schedule
//     stops and every echo must come back within -hang-timeout.
//
// JSON: messages and msg_per_s (echoes received in the window),
// min_conn_messages (fewest echoes of one connection), inflight; open loop
// adds rate_target, sent (messages scheduled in the window) and
// send_lag_p50_us, send_lag_p99_us, send_lag_max_us: how late the sends
// went out after their scheduled time. That is the client's own timer
// slack (Go timers wake up to about 1 ms late on an idle machine), and it
// is included in the latency.
//
// -workload broadcast: -conns subscribers dial -path (default
// /samples/broadcast for this workload) and read. With
// -publish-rate R > 0 one more connection, the publisher, sends a binary
// message of -size (≥ 16) bytes every 1/R s on a schedule: bytes 0–7 the
// sequence number (big endian, from 1), bytes 8–15 the scheduled send time
// (Unix nanoseconds, big endian), then a fixed pseudo-random pattern
// (the same in every process). The publisher reads and discards what the
// server relays back to it. With -publish-rate 0 the messages come from
// another process (only one process of a run publishes). Every normal
// subscriber checks that the sequence grows by one (a gap is an error),
// the size and, every -verify-every messages, the pattern, and records
// receive time minus embedded send time (wall clock: same host) for the
// frames received in the window. With a local publisher the first message
// must be number 1. -slow M:
// the last M subscribers never read after the handshake; after the window
// each is drained with a -drain-timeout read deadline and counts as closed
// by the server on EOF, RST or a close frame. A normal subscriber that is
// closed, or (with a local publisher) misses messages, is an error. JSON:
// deliveries and deliveries_per_s (frames received by the normal
// subscribers in the window; messages and msg_per_s repeat them),
// published (messages scheduled in the window by this process),
// publish_rate, slow, slow_closed, send_lag_*_us (local publisher).
//
// -workload idle: dial -conns WebSocket connections and hold them without
// traffic. Pings are answered with pongs; a connection closed by the server
// during the hold is an error. Without -sync the hold lasts -warmup +
// -duration (the window is the -duration). With -sync the first stdin line
// starts the window, and a later "stop" line or the end of stdin ends it
// (a first line "stop" ends it at once). JSON: held (connections open at
// the end).
//
// -workload storm: during warm-up and window, -conc goroutines loop: dial
// (spread over -src), WebSocket handshake on -path, a close frame 1000,
// close with SO_LINGER 0 (RST: no TIME_WAIT). Any failed handshake is an
// error; running out of ephemeral ports is reported as such. JSON:
// upgrades, upgrades_per_s, conc, histogram of handshake latency (dial
// start to 101 received).
//
// -workload slowloris: -conns TCP connections each send a valid WebSocket
// upgrade request (padded with an X-Pad header so that it cannot end
// within the run) one byte every -interval. The first byte goes out right
// after the connect, the rest from the start of the traffic. A connection
// counts as closed by the server on EOF, RST, a failed write, or any
// response bytes (an HTTP status such as 408 is reported in
// http_statuses). JSON, from the first byte to the end of the window:
// slow_conns, closed_by_server, close_after_ms_p50, close_after_ms_max
// (time from the first byte to the close), still_open. Still-open
// connections are not an error.
//
// -workload large: -conns (default 1) connections, closed loop, messages of
// -size bytes (a precomputed pseudo-random payload with the sequence
// number in its first 8 bytes), sent as one binary frame or, with -frag F,
// as frames of F bytes (binary FIN=0, continuations, the last FIN=1). The
// echo may come back in several frames: it is reassembled and compared
// whole, every message. JSON: messages, msg_per_s, mb_per_s (payload bytes
// echoed per second / 10^6), frag, latency histogram. With -expect-close
// CODE each connection sends one message and the server must answer with
// a close frame of that code (an echo is an error); the window then spans
// that exchange and the JSON has expect_close and close_code.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Phases of a run, read by the traffic goroutines.
const (
	phaseWarmup int32 = iota
	phaseMeasure
	phaseStop
)

// config holds the flags.
type config struct {
	workload    string
	mode        string
	addr        string
	path        string
	conns       int
	size        int
	duration    time.Duration
	warmup      time.Duration
	src         []net.IP
	verifyEvery uint64
	dialConc    int
	hangTimeout time.Duration
	sync        bool

	// echo
	inflight    int
	rate        float64
	maxInflight uint64
	schedulers  int

	// broadcast
	publishRate  float64
	slow         int
	drainTimeout time.Duration

	// storm
	conc int

	// slowloris
	interval time.Duration

	// large
	frag        int
	expectClose int
}

// result is the JSON line written to stdout. The fields that belong to one
// workload are pointers, present only for that workload.
type result struct {
	Workload string  `json:"workload"`
	Mode     string  `json:"mode"`
	Conns    int     `json:"conns"`
	Size     int     `json:"size"`
	Seconds  float64 `json:"seconds"`
	Messages uint64  `json:"messages"`
	MsgPerS  float64 `json:"msg_per_s"`
	Errors   int64   `json:"errors"`

	// MinConnMessages is the fewest echoes one connection completed in the
	// window: 0 means a connection starved (echo, large).
	MinConnMessages *uint64 `json:"min_conn_messages,omitempty"`

	// Latency histogram (see hist.go) and its percentiles.
	P50us   float64    `json:"p50_us"`
	P99us   float64    `json:"p99_us"`
	P999us  float64    `json:"p999_us"`
	MaxUs   float64    `json:"max_us"`
	Samples uint64     `json:"samples"`
	Hist    [][2]int64 `json:"hist,omitempty"`

	// echo
	Inflight   *int     `json:"inflight,omitempty"`
	RateTarget *float64 `json:"rate_target,omitempty"`
	Sent       *uint64  `json:"sent,omitempty"`
	// SendLag*: how late the scheduled sends (open loop, publisher) went
	// out.
	SendLagP50us *float64 `json:"send_lag_p50_us,omitempty"`
	SendLagP99us *float64 `json:"send_lag_p99_us,omitempty"`
	SendLagMaxUs *float64 `json:"send_lag_max_us,omitempty"`

	// broadcast
	Slow           *int     `json:"slow,omitempty"`
	PublishRate    *float64 `json:"publish_rate,omitempty"`
	Published      *uint64  `json:"published,omitempty"`
	Deliveries     *uint64  `json:"deliveries,omitempty"`
	DeliveriesPerS *float64 `json:"deliveries_per_s,omitempty"`
	SlowClosed     *int     `json:"slow_closed,omitempty"`

	// idle
	Held *int `json:"held,omitempty"`

	// storm
	Conc         *int     `json:"conc,omitempty"`
	Upgrades     *uint64  `json:"upgrades,omitempty"`
	UpgradesPerS *float64 `json:"upgrades_per_s,omitempty"`

	// slowloris
	SlowConns       *int           `json:"slow_conns,omitempty"`
	ClosedByServer  *int           `json:"closed_by_server,omitempty"`
	CloseAfterMsP50 *float64       `json:"close_after_ms_p50,omitempty"`
	CloseAfterMsMax *float64       `json:"close_after_ms_max,omitempty"`
	StillOpen       *int           `json:"still_open,omitempty"`
	HTTPStatuses    map[string]int `json:"http_statuses,omitempty"`

	// large
	MBPerS      *float64 `json:"mb_per_s,omitempty"`
	Frag        *int     `json:"frag,omitempty"`
	ExpectClose *int     `json:"expect_close,omitempty"`
	CloseCode   *int     `json:"close_code,omitempty"`

	Error string `json:"error,omitempty"`
}

// ptr returns a pointer to v, for the optional result fields.
func ptr[T any](v T) *T { return &v }

// runner is the state shared by a run's goroutines.
type runner struct {
	cfg    config
	stderr io.Writer
	lines  chan string // stdin lines, with -sync; closed at EOF
	base   time.Time   // origin of mono()
	phase  atomic.Int32

	mu       sync.Mutex
	failErr  error         // the first error, guarded by mu
	failed   chan struct{} // closed at the first error
	errors   atomic.Int64
	teardown atomic.Bool
	stop     chan struct{} // closed when the run tears down
	stopOnce sync.Once
	wg       sync.WaitGroup // every traffic goroutine
	// histOK is false when some goroutine did not stop at teardown: its
	// histogram is then not safe to read.
	histOK bool
}

// main parses the flags, runs the workload, prints the JSON line and exits
// 1 on any error (2 on bad flags).
func main() {
	cfg, err := parseFlags(flag.CommandLine, os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(2)
	}
	res := run(cfg, os.Stdin, os.Stderr)
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
	if res.Errors > 0 || res.Error != "" {
		os.Exit(1)
	}
}

// parseFlags parses and checks the command line.
func parseFlags(fs *flag.FlagSet, args []string) (config, error) {
	var cfg config
	var src string
	var maxInflight uint
	fs.StringVar(&cfg.workload, "workload", "echo", "echo, broadcast, idle, storm, slowloris or large")
	fs.StringVar(&cfg.mode, "mode", "ws", "echo: ws (WebSocket frames) or tcp (raw bytes); the other workloads are ws only")
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:8080", "server address host:port")
	fs.StringVar(&cfg.path, "path", "/samples/echo", "WebSocket request path (broadcast: default /samples/broadcast)")
	fs.IntVar(&cfg.conns, "conns", 1000, "connections (large: default 1; broadcast: subscribers, the publisher comes on top)")
	fs.IntVar(&cfg.size, "size", 1024, "message size in bytes (WebSocket payload, or TCP bytes)")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "measured window")
	fs.DurationVar(&cfg.warmup, "warmup", 2*time.Second, "traffic before the measured window")
	fs.StringVar(&src, "src", "", "comma-separated source IPs (127.0.0.x) to spread connections over; empty: chosen by the kernel")
	fs.Uint64Var(&cfg.verifyEvery, "verify-every", 16, "compare the whole payload every N messages (the sequence number is checked on every one)")
	fs.IntVar(&cfg.dialConc, "dial-concurrency", 64, "connections dialed at once")
	fs.DurationVar(&cfg.hangTimeout, "hang-timeout", 10*time.Second, "fail when the traffic stops for this long, or when what was sent in the window is not answered this long after it")
	fs.BoolVar(&cfg.sync, "sync", false, "after \"load: ready\", wait for a line on stdin before starting the traffic (idle: until \"stop\" or EOF)")
	fs.IntVar(&cfg.inflight, "inflight", 1, "echo: messages in flight per connection (pipelined when > 1)")
	fs.Float64Var(&cfg.rate, "rate", 0, "echo: open loop at this many messages per second for the whole process (0: closed loop)")
	fs.UintVar(&maxInflight, "max-inflight", 1024, "echo open loop: more messages in flight on a connection is an error")
	fs.IntVar(&cfg.schedulers, "schedulers", 0, "echo open loop: scheduler goroutines (0: one per 64 connections)")
	fs.Float64Var(&cfg.publishRate, "publish-rate", 0, "broadcast: messages per second published by this process (0: another process publishes)")
	fs.IntVar(&cfg.slow, "slow", 0, "broadcast: subscribers (of -conns) that never read")
	fs.DurationVar(&cfg.drainTimeout, "drain-timeout", 5*time.Second, "broadcast: read deadline when draining the slow subscribers after the window")
	fs.IntVar(&cfg.conc, "conc", 64, "storm: concurrent dial+handshake+close loops")
	fs.DurationVar(&cfg.interval, "interval", time.Second, "slowloris: time between two bytes of the upgrade request")
	fs.IntVar(&cfg.frag, "frag", 0, "large: send each message as frames of this many bytes (0: one frame)")
	fs.IntVar(&cfg.expectClose, "expect-close", 0, "large: send one message and expect a close frame with this code (e.g. 1009)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if cfg.workload == "large" && !set["conns"] {
		cfg.conns = 1
	}
	if cfg.workload == "broadcast" && !set["path"] {
		cfg.path = "/samples/broadcast"
	}
	cfg.maxInflight = uint64(maxInflight)
	return cfg, cfg.check(src)
}

// check validates the configuration and parses -src.
func (cfg *config) check(src string) error {
	switch cfg.workload {
	case "echo", "broadcast", "idle", "storm", "slowloris", "large":
	default:
		return fmt.Errorf("-workload must be echo, broadcast, idle, storm, slowloris or large, not %q", cfg.workload)
	}
	if cfg.mode != "ws" && cfg.mode != "tcp" {
		return fmt.Errorf("-mode must be ws or tcp, not %q", cfg.mode)
	}
	if cfg.mode == "tcp" && cfg.workload != "echo" {
		return errors.New("-mode tcp is for -workload echo only")
	}
	minConns := 1
	if cfg.workload == "broadcast" && cfg.publishRate > 0 {
		minConns = 0
	}
	if cfg.conns < minConns || cfg.size < 1 || cfg.duration <= 0 || cfg.warmup < 0 || cfg.dialConc < 1 || cfg.hangTimeout <= 0 {
		return errors.New("-conns, -size, -duration, -dial-concurrency and -hang-timeout must be positive, -warmup not negative")
	}
	if cfg.verifyEvery == 0 {
		cfg.verifyEvery = 1
	}
	switch cfg.workload {
	case "echo":
		if cfg.inflight < 1 || cfg.rate < 0 || cfg.maxInflight < 1 || cfg.schedulers < 0 {
			return errors.New("-inflight and -max-inflight must be positive, -rate and -schedulers not negative")
		}
		if cfg.rate > 0 && cfg.inflight > 1 {
			return errors.New("-inflight is for the closed loop; the open loop (-rate) bounds messages in flight with -max-inflight")
		}
		if (cfg.rate > 0 || cfg.inflight > 1) && cfg.size < 8 {
			return errors.New("-size must be at least 8 (the sequence number) with -inflight > 1 or -rate")
		}
	case "broadcast":
		if cfg.size < 16 {
			return errors.New("broadcast: -size must be at least 16 (sequence number and send time)")
		}
		if cfg.publishRate < 0 || cfg.slow < 0 || cfg.slow > cfg.conns || cfg.drainTimeout <= 0 {
			return errors.New("broadcast: -publish-rate must not be negative, -slow within [0, -conns], -drain-timeout positive")
		}
	case "storm":
		if cfg.conc < 1 {
			return errors.New("storm: -conc must be positive")
		}
	case "slowloris":
		if cfg.interval <= 0 {
			return errors.New("slowloris: -interval must be positive")
		}
	case "large":
		if cfg.size < 8 {
			return errors.New("large: -size must be at least 8 (the sequence number)")
		}
		if cfg.frag < 0 || (cfg.frag > 0 && cfg.frag < 8) || cfg.expectClose < 0 {
			return errors.New("large: -frag must be 0 or at least 8, -expect-close not negative")
		}
	}
	for _, s := range strings.Split(src, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		ip := net.ParseIP(s)
		if ip == nil {
			return fmt.Errorf("-src: bad IP %q", s)
		}
		cfg.src = append(cfg.src, ip)
	}
	return nil
}

// run runs the configured workload. stdin is read with -sync; the markers
// go to stderr.
func run(cfg config, stdin io.Reader, stderr io.Writer) result {
	r := &runner{
		cfg:    cfg,
		stderr: stderr,
		base:   time.Now(),
		failed: make(chan struct{}),
		stop:   make(chan struct{}),
		histOK: true,
	}
	if cfg.sync {
		r.lines = make(chan string, 16)
		go func() {
			defer close(r.lines)
			sc := bufio.NewScanner(stdin)
			for sc.Scan() {
				r.lines <- strings.TrimSpace(sc.Text())
			}
		}()
	}
	res := result{Workload: cfg.workload, Mode: cfg.mode, Conns: cfg.conns, Size: cfg.size}
	switch cfg.workload {
	case "echo":
		r.runEcho(&res)
	case "broadcast":
		r.runBroadcast(&res)
	case "idle":
		r.runIdle(&res)
	case "storm":
		r.runStorm(&res)
	case "slowloris":
		r.runSlowloris(&res)
	case "large":
		r.runLarge(&res)
	}
	res.Errors = r.errors.Load()
	if err := r.firstErr(); err != nil {
		res.Error = err.Error()
	}
	return res
}

// mono is the monotonic time in nanoseconds since the run began (always
// positive).
func (r *runner) mono() int64 { return int64(time.Since(r.base)) + 1 }

// logf writes a line to stderr.
func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.stderr, format+"\n", args...)
}

// fail records the first error and stops the run. Errors that come after
// the run started tearing down (closing connections) are not counted.
func (r *runner) fail(err error) {
	if r.teardown.Load() {
		return
	}
	r.errors.Add(1)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failErr == nil {
		r.failErr = err
		close(r.failed)
	}
}

// firstErr returns the first error of the run, or nil.
func (r *runner) firstErr() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failErr
}

// spawn runs fn in a goroutine counted in r.wg (and in wg when not nil); an
// error it returns fails the run.
func (r *runner) spawn(wg *sync.WaitGroup, fn func() error) {
	r.wg.Add(1)
	if wg != nil {
		wg.Add(1)
	}
	go func() {
		defer r.wg.Done()
		if wg != nil {
			defer wg.Done()
		}
		if err := fn(); err != nil {
			r.fail(err)
		}
	}()
}

// ready writes "load: ready" and, with -sync, waits for the first stdin
// line, which it returns. It returns false when the run failed or stdin
// ended first.
func (r *runner) ready() (string, bool) {
	r.logf("load: ready")
	if !r.cfg.sync {
		return "", r.firstErr() == nil
	}
	select {
	case line, ok := <-r.lines:
		if !ok {
			r.fail(errors.New("-sync: stdin ended before the go line"))
			return "", false
		}
		return line, true
	case <-r.failed:
		return "", false
	}
}

// window runs the warm-up until warmupEnd and the measured window of
// -duration, writing the markers. atStart and atEnd run right before the
// phase changes (to read counters). progress, when not nil, is a counter
// that must move at least every -hang-timeout. It returns the window's
// length in seconds, and false when the run failed.
func (r *runner) window(warmupEnd time.Time, progress func() uint64, atStart, atEnd func()) (float64, bool) {
	if !r.watch(warmupEnd, progress) {
		return 0, false
	}
	if atStart != nil {
		atStart()
	}
	t0 := time.Now()
	r.phase.Store(phaseMeasure)
	r.logf("load: window start")
	if !r.watch(t0.Add(r.cfg.duration), progress) {
		return 0, false
	}
	if atEnd != nil {
		atEnd()
	}
	t1 := time.Now()
	r.phase.Store(phaseStop)
	r.logf("load: window end")
	return t1.Sub(t0).Seconds(), true
}

// watch waits until the deadline, failing the run when it fails or when
// progress does not move for the hang timeout. It returns false when the
// run failed.
func (r *runner) watch(deadline time.Time, progress func() uint64) bool {
	end := time.NewTimer(time.Until(deadline))
	defer end.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last uint64
	if progress != nil {
		last = progress()
	}
	lastAt := time.Now()
	for {
		select {
		case <-r.failed:
			return false
		case <-end.C:
			return r.firstErr() == nil
		case now := <-tick.C:
			if progress == nil {
				continue
			}
			if n := progress(); n != last {
				last, lastAt = n, now
			} else if now.Sub(lastAt) >= r.cfg.hangTimeout {
				r.fail(fmt.Errorf("stalled: no progress for %v (%d so far)", r.cfg.hangTimeout, n))
				return false
			}
		}
	}
}

// await polls cond until it holds (true), the run fails or timeout passes
// (false).
func (r *runner) await(cond func() bool, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if r.firstErr() != nil || time.Now().After(deadline) {
			return false
		}
		select {
		case <-r.failed:
			return false
		case <-time.After(5 * time.Millisecond):
		}
	}
	return true
}

// done returns a channel closed when wg is done.
func done(wg *sync.WaitGroup) <-chan struct{} {
	ch := make(chan struct{})
	go func() { wg.Wait(); close(ch) }()
	return ch
}

// readyAfterDial reports ready once the connections are dialed (dialErr
// nil) and waits for the go; when either fails it shuts the run down,
// closing the connections with closeAll, and returns false.
func (r *runner) readyAfterDial(dialErr error, closeAll func()) bool {
	if dialErr == nil {
		if _, ok := r.ready(); ok {
			return true
		}
	}
	r.shutdown(closeAll)
	return false
}

// shutdown stops the run: later errors are ignored, the traffic goroutines
// are told to stop, closeAll closes the connections, and shutdown waits
// for every goroutine, so that their histograms can be read.
func (r *runner) shutdown(closeAll func()) {
	r.teardown.Store(true)
	r.phase.Store(phaseStop)
	r.stopOnce.Do(func() { close(r.stop) })
	if closeAll != nil {
		closeAll()
	}
	select {
	case <-done(&r.wg):
	case <-time.After(10 * time.Second):
		r.histOK = false
		r.logf("load: some goroutines did not stop within 10s of the teardown; latencies are not reported")
	}
}

// sleepUntil sleeps until the monotonic time t (ns, see mono) on tm, or
// until the run stops (false).
func (r *runner) sleepUntil(tm *time.Timer, t int64) bool {
	d := time.Duration(t - r.mono())
	if d <= 0 {
		return true
	}
	tm.Reset(d)
	select {
	case <-tm.C:
		return true
	case <-r.stop:
		return false
	}
}

// tally reads one message counter per connection at the window marks.
type tally struct {
	counters      []*atomic.Uint64
	before, after []uint64
}

func (t *tally) snapshot() []uint64 {
	out := make([]uint64, len(t.counters))
	for i, c := range t.counters {
		out[i] = c.Load()
	}
	return out
}

// total is the progress the stall watch follows.
func (t *tally) total() uint64 {
	var n uint64
	for _, c := range t.counters {
		n += c.Load()
	}
	return n
}

func (t *tally) start() { t.before = t.snapshot() }
func (t *tally) end()   { t.after = t.snapshot() }

// fill sets res.Messages and res.MinConnMessages to the window's counts.
func (t *tally) fill(res *result) {
	minConn := ^uint64(0)
	for i := range t.after {
		n := t.after[i] - t.before[i]
		res.Messages += n
		minConn = min(minConn, n)
	}
	res.MinConnMessages = ptr(minConn)
}
