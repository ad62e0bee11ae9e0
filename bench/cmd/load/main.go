// Command load is the closed-loop echo load generator of the benchmark
// harness. It opens -conns connections (WebSocket with -mode ws, plain TCP
// with -mode tcp), then every connection, in its own goroutine, sends one
// message of -size bytes, reads the echo whole, checks it and sends the
// next: one message in flight per connection.
//
//	load -mode ws  -addr 127.0.0.1:9000 -path /samples/echo -conns 1000 -size 1024
//	load -mode tcp -addr 127.0.0.1:9001 -conns 1000 -size 1024
//
// WebSocket connections are opened with gobwas ws.Dialer without
// extensions (no compression). Each message is one masked binary frame; the
// echoed frame must be a single unmasked binary frame of exactly -size
// bytes. The first 8 payload bytes carry a per-connection sequence number
// that is checked on every echo; the whole payload is compared every
// -verify-every messages.
//
// After -warmup the counters are read and "load: window start" is written to
// stderr; after -duration they are read again and "load: window end" is
// written. The compare command reads the server's CPU time at these two
// lines. The result is one JSON line on stdout. Any dial, handshake,
// protocol or verify error, a stall, or a connection that gets no echo makes
// the run fail: the JSON then has errors > 0 and "error", and the exit
// status is 1.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
)

// Phases of a run, read by every connection before each message.
const (
	phaseWarmup int32 = iota
	phaseMeasure
	phaseStop
)

// sampleEvery is how often (in messages) a connection records a latency
// sample during the measured window.
const sampleEvery = 8

type config struct {
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
}

// result is the JSON line written to stdout.
type result struct {
	Mode     string  `json:"mode"`
	Conns    int     `json:"conns"`
	Size     int     `json:"size"`
	Seconds  float64 `json:"seconds"`
	Messages uint64  `json:"messages"`
	MsgPerS  float64 `json:"msg_per_s"`
	Errors   int64   `json:"errors"`
	// MinConnMessages is the fewest echoes one connection completed in the
	// window: 0 means a connection starved.
	MinConnMessages uint64  `json:"min_conn_messages"`
	P50us           float64 `json:"p50_us"`
	P99us           float64 `json:"p99_us"`
	Error           string  `json:"error,omitempty"`
}

// conn is one client connection and its closed loop.
type conn struct {
	nc    net.Conn
	r     io.Reader // ws: buffered reader over nc
	frame []byte    // what is written per message: ws frame, or the tcp payload
	off   int       // offset of the payload in frame
	mask  [4]byte   // ws only
	want  []byte    // the payload, unmasked
	got   []byte
	hdr   [8]byte

	samples []int64 // round-trip nanoseconds, in the window only

	_     [64]byte
	count atomic.Uint64 // echoes completed
	_     [56]byte
}

type runner struct {
	cfg   config
	conns []*conn
	phase atomic.Int32

	mu       sync.Mutex
	failErr  error         // the first error, guarded by mu
	failed   chan struct{} // closed at the first error
	errors   atomic.Int64
	teardown atomic.Bool
}

func main() {
	var cfg config
	var src string
	flag.StringVar(&cfg.mode, "mode", "ws", "ws (WebSocket frames) or tcp (raw bytes)")
	flag.StringVar(&cfg.addr, "addr", "127.0.0.1:8080", "server address host:port")
	flag.StringVar(&cfg.path, "path", "/samples/echo", "request path (ws mode)")
	flag.IntVar(&cfg.conns, "conns", 1000, "connections")
	flag.IntVar(&cfg.size, "size", 1024, "message size in bytes (WebSocket payload, or TCP bytes)")
	flag.DurationVar(&cfg.duration, "duration", 10*time.Second, "measured window")
	flag.DurationVar(&cfg.warmup, "warmup", 2*time.Second, "load before the measured window")
	flag.StringVar(&src, "src", "", "comma-separated source IPs (127.0.0.x) to spread connections over; empty: chosen by the kernel")
	flag.Uint64Var(&cfg.verifyEvery, "verify-every", 16, "compare the whole echoed payload every N messages (the sequence number is checked on every one)")
	flag.IntVar(&cfg.dialConc, "dial-concurrency", 64, "connections dialed at once")
	flag.DurationVar(&cfg.hangTimeout, "hang-timeout", 10*time.Second, "fail when the echoes stop for this long, or a connection's last echo does not come back in this time after the window")
	flag.Parse()

	if err := cfg.check(src); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(2)
	}
	r := &runner{cfg: cfg, failed: make(chan struct{})}
	res := r.run()
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
	if res.Errors > 0 || res.Error != "" {
		os.Exit(1)
	}
}

func (cfg *config) check(src string) error {
	if cfg.mode != "ws" && cfg.mode != "tcp" {
		return fmt.Errorf("-mode must be ws or tcp, not %q", cfg.mode)
	}
	if cfg.conns < 1 || cfg.size < 1 || cfg.duration <= 0 || cfg.warmup < 0 || cfg.dialConc < 1 || cfg.hangTimeout <= 0 {
		return errors.New("-conns, -size, -duration, -dial-concurrency and -hang-timeout must be positive, -warmup not negative")
	}
	if cfg.verifyEvery == 0 {
		cfg.verifyEvery = 1
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

func (r *runner) run() result {
	cfg := r.cfg
	res := result{Mode: cfg.mode, Conns: cfg.conns, Size: cfg.size}
	finish := func() result {
		r.teardown.Store(true)
		r.phase.Store(phaseStop)
		r.closeAll()
		res.Errors = r.errors.Load()
		if err := r.firstErr(); err != nil {
			res.Error = err.Error()
		}
		return res
	}

	if err := r.dialAll(); err != nil {
		return finish()
	}

	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, c := range r.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if err := r.loop(c); err != nil {
				r.fail(err)
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	close(start)

	if !r.watch(time.Now().Add(cfg.warmup)) {
		return finish()
	}
	before := r.counts()
	t0 := time.Now()
	r.phase.Store(phaseMeasure)
	fmt.Fprintln(os.Stderr, "load: window start")
	if !r.watch(t0.Add(cfg.duration)) {
		return finish()
	}
	after := r.counts()
	t1 := time.Now()
	r.phase.Store(phaseStop)
	fmt.Fprintln(os.Stderr, "load: window end")

	res.Seconds = t1.Sub(t0).Seconds()
	res.MinConnMessages = ^uint64(0)
	for i := range after {
		n := after[i] - before[i]
		res.Messages += n
		res.MinConnMessages = min(res.MinConnMessages, n)
	}
	res.MsgPerS = float64(res.Messages) / res.Seconds

	// Every connection finishes its message in flight and stops.
	select {
	case <-done:
	case <-r.failed:
	case <-time.After(cfg.hangTimeout):
		n := 0
		for i, c := range r.conns {
			if c.count.Load() == after[i] {
				n++
			}
		}
		r.fail(fmt.Errorf("%d of %d connections got no echo for their last message within %v after the window", n, cfg.conns, cfg.hangTimeout))
	}
	if r.firstErr() == nil {
		var lat []int64
		for _, c := range r.conns {
			lat = append(lat, c.samples...)
		}
		slices.Sort(lat)
		res.P50us = percentile(lat, 0.50)
		res.P99us = percentile(lat, 0.99)
	}
	return finish()
}

// watch waits until the deadline, failing the run when it fails or when no
// echo completes for the hang timeout. It returns false when the run failed.
func (r *runner) watch(deadline time.Time) bool {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	last, lastAt := r.total(), time.Now()
	for {
		select {
		case <-r.failed:
			return false
		case now := <-tick.C:
			if n := r.total(); n != last {
				last, lastAt = n, now
			} else if now.Sub(lastAt) >= r.cfg.hangTimeout {
				r.fail(fmt.Errorf("stalled: no echo completed on any connection for %v (%d echoes so far)", r.cfg.hangTimeout, n))
				return false
			}
			if !now.Before(deadline) {
				return true
			}
		}
	}
}

func (r *runner) counts() []uint64 {
	out := make([]uint64, len(r.conns))
	for i, c := range r.conns {
		out[i] = c.count.Load()
	}
	return out
}

func (r *runner) total() uint64 {
	var n uint64
	for _, c := range r.conns {
		n += c.count.Load()
	}
	return n
}

// closeAll closes every connection with SO_LINGER 0 (RST), so that repeated
// runs leave no TIME_WAIT behind.
func (r *runner) closeAll() {
	for _, c := range r.conns {
		if c == nil || c.nc == nil {
			continue
		}
		if tc, ok := c.nc.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		_ = c.nc.Close()
	}
}

func percentile(sorted []int64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p * float64(len(sorted)-1))
	return float64(sorted[i]) / 1e3
}

// dialAll opens every connection, -dial-concurrency at a time.
func (r *runner) dialAll() error {
	cfg := r.cfg
	r.conns = make([]*conn, cfg.conns)
	idx := make(chan int)
	var wg sync.WaitGroup
	for range min(cfg.dialConc, cfg.conns) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range idx {
				c, err := r.dial(i)
				if err != nil {
					r.fail(fmt.Errorf("connection %d: %w", i, err))
					continue
				}
				r.conns[i] = c
			}
		}()
	}
	go func() {
		defer close(idx)
		for i := range cfg.conns {
			select {
			case idx <- i:
			case <-r.failed:
				return
			}
		}
	}()
	wg.Wait()
	return r.firstErr()
}

func (r *runner) dial(i int) (*conn, error) {
	cfg := r.cfg
	nd := &net.Dialer{Timeout: 10 * time.Second}
	if len(cfg.src) > 0 {
		nd.LocalAddr = &net.TCPAddr{IP: cfg.src[i%len(cfg.src)]}
	}
	rng := rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))
	c := &conn{want: make([]byte, cfg.size), got: make([]byte, cfg.size)}
	for j := range c.want {
		c.want[j] = byte(rng.Uint32())
	}
	c.samples = make([]int64, 0, 1024)

	if cfg.mode == "tcp" {
		nc, err := nd.Dial("tcp", cfg.addr)
		if err != nil {
			return nil, fmt.Errorf("dial: %w", err)
		}
		c.nc, c.r = nc, nc
		c.frame, c.off = c.want, 0
		return c, nil
	}

	d := ws.Dialer{
		Timeout: 10 * time.Second,
		NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return nd.DialContext(ctx, network, addr)
		},
	}
	nc, br, hs, err := d.Dial(context.Background(), "ws://"+cfg.addr+cfg.path)
	if err != nil {
		if nc != nil {
			_ = nc.Close()
		}
		return nil, fmt.Errorf("websocket handshake: %w", err)
	}
	c.nc = nc
	if len(hs.Extensions) > 0 {
		_ = nc.Close()
		return nil, fmt.Errorf("server negotiated extensions %v; none were offered", hs.Extensions)
	}
	var src io.Reader = nc
	if br != nil {
		src = io.MultiReader(br, nc)
	}
	c.r = bufio.NewReaderSize(src, min(max(4096, cfg.size+14), 64<<10+14))

	binary.BigEndian.PutUint32(c.mask[:], rng.Uint32()|1)
	h := ws.Header{Fin: true, OpCode: ws.OpBinary, Masked: true, Mask: c.mask, Length: int64(cfg.size)}
	var hb bytes.Buffer
	if err := ws.WriteHeader(&hb, h); err != nil {
		_ = nc.Close()
		return nil, err
	}
	c.off = hb.Len()
	c.frame = append(hb.Bytes(), c.want...)
	ws.Cipher(c.frame[c.off:], c.mask, 0)
	return c, nil
}

// loop is a connection's closed loop: send, read the echo whole, check it.
func (r *runner) loop(c *conn) error {
	var seq uint64
	isWS := r.cfg.mode == "ws"
	for {
		phase := r.phase.Load()
		if phase == phaseStop {
			return nil
		}
		seq++
		if len(c.want) >= 8 {
			binary.LittleEndian.PutUint64(c.want, seq)
			p := c.frame[c.off:]
			if isWS {
				for j := range 8 {
					p[j] = c.want[j] ^ c.mask[j&3]
				}
			}
			// In tcp mode frame and want are the same slice.
		}
		sample := phase == phaseMeasure && seq%sampleEvery == 0
		var t0 time.Time
		if sample {
			t0 = time.Now()
		}
		if _, err := c.nc.Write(c.frame); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		if isWS {
			if err := c.readFrame(); err != nil {
				return err
			}
		} else if _, err := io.ReadFull(c.r, c.got); err != nil {
			return fmt.Errorf("read echo: %w", err)
		}
		if sample {
			c.samples = append(c.samples, int64(time.Since(t0)))
		}
		if len(c.want) >= 8 && !bytes.Equal(c.got[:8], c.want[:8]) {
			return fmt.Errorf("verify: echo of message %d carries sequence %d", seq, binary.LittleEndian.Uint64(c.got))
		}
		if (len(c.want) < 8 || seq%r.cfg.verifyEvery == 0) && !bytes.Equal(c.got, c.want) {
			return fmt.Errorf("verify: echo of message %d differs from what was sent", seq)
		}
		c.count.Add(1)
	}
}

// readFrame reads one server frame into c.got. It must be a single
// unmasked binary frame of exactly the message size.
func (c *conn) readFrame() error {
	if _, err := io.ReadFull(c.r, c.hdr[:2]); err != nil {
		return fmt.Errorf("read frame header: %w", err)
	}
	b0, b1 := c.hdr[0], c.hdr[1]
	fin, rsv, op := b0&0x80 != 0, b0&0x70, ws.OpCode(b0&0x0f)
	masked := b1&0x80 != 0
	n := uint64(b1 & 0x7f)
	switch n {
	case 126:
		if _, err := io.ReadFull(c.r, c.hdr[:2]); err != nil {
			return fmt.Errorf("read frame length: %w", err)
		}
		n = uint64(binary.BigEndian.Uint16(c.hdr[:2]))
	case 127:
		if _, err := io.ReadFull(c.r, c.hdr[:8]); err != nil {
			return fmt.Errorf("read frame length: %w", err)
		}
		n = binary.BigEndian.Uint64(c.hdr[:8])
	}
	if masked {
		return errors.New("protocol: server frame is masked")
	}
	if op == ws.OpClose {
		p := make([]byte, min(n, 125))
		_, _ = io.ReadFull(c.r, p)
		if len(p) >= 2 {
			return fmt.Errorf("server closed the WebSocket: code %d %q", binary.BigEndian.Uint16(p), p[2:])
		}
		return errors.New("server closed the WebSocket without a code")
	}
	if op != ws.OpBinary || !fin || rsv != 0 {
		return fmt.Errorf("protocol: expected one binary frame, got opcode %d fin %v rsv %#x", op, fin, rsv>>4)
	}
	if n != uint64(len(c.got)) {
		return fmt.Errorf("verify: echo is %d bytes, sent %d", n, len(c.got))
	}
	if _, err := io.ReadFull(c.r, c.got); err != nil {
		return fmt.Errorf("read frame payload: %w", err)
	}
	return nil
}
