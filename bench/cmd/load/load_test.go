package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// wsServer is a gobwas/ws server on net/http for the tests: it echoes
// messages (reassembled, and sent back in split frames), closes messages
// over limit with 1009, and optionally pings or closes every connection.
type wsServer struct {
	limit      int64         // close with 1009 above this many bytes (0: no limit)
	split      int           // echo each message in this many frames
	ping       bool          // ping right after the upgrade
	closeAfter time.Duration // close every connection after this long
	pongs      atomic.Int64
}

// ServeHTTP upgrades the request and echoes messages until the connection ends.
func (s *wsServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	conn, rw, _, err := ws.UpgradeHTTP(r, w)
	if err != nil {
		return
	}
	defer conn.Close()
	var wmu sync.Mutex
	write := func(f ws.Frame) error {
		wmu.Lock()
		defer wmu.Unlock()
		return ws.WriteFrame(conn, f)
	}
	if s.ping {
		_ = write(ws.NewPingFrame([]byte("hi")))
	}
	if s.closeAfter > 0 {
		t := time.AfterFunc(s.closeAfter, func() { _ = conn.Close() })
		defer t.Stop()
	}
	var msg []byte
	var op ws.OpCode
	for {
		h, err := ws.ReadHeader(rw.Reader)
		if err != nil {
			return
		}
		if s.limit > 0 && int64(len(msg))+h.Length > s.limit {
			_ = write(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusMessageTooBig, "too big")))
			return
		}
		p := make([]byte, h.Length)
		if _, err := io.ReadFull(rw.Reader, p); err != nil {
			return
		}
		if h.Masked {
			ws.Cipher(p, h.Mask, 0)
		}
		switch h.OpCode {
		case ws.OpPing:
			_ = write(ws.NewPongFrame(p))
			continue
		case ws.OpPong:
			s.pongs.Add(1)
			continue
		case ws.OpClose:
			_ = write(ws.NewCloseFrame(p))
			return
		case ws.OpContinuation:
			msg = append(msg, p...)
		default:
			op, msg = h.OpCode, p
		}
		if !h.Fin {
			continue
		}
		n := max(s.split, 1)
		chunk := (len(msg) + n - 1) / n
		for off := 0; ; off += chunk {
			end := min(off+chunk, len(msg))
			fop := ws.OpContinuation
			if off == 0 {
				fop = op
			}
			if err := write(ws.NewFrame(fop, end == len(msg), msg[off:end])); err != nil {
				return
			}
			if end == len(msg) {
				break
			}
		}
		msg = nil
	}
}

// bcServer relays every message to every connection, the sender included,
// through a queue of 256 frames per connection; a connection whose queue
// is full is closed (a slow consumer).
type bcServer struct {
	mu   sync.Mutex
	subs map[*bcPeer]bool
}

// bcPeer is one connection of bcServer.
type bcPeer struct {
	conn net.Conn
	out  chan []byte
	dead chan struct{}
}

// ServeHTTP upgrades the request, subscribes the connection and relays
// what it sends.
func (s *bcServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	conn, rw, _, err := ws.UpgradeHTTP(r, w)
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(16 << 10)
	}
	p := &bcPeer{conn: conn, out: make(chan []byte, 256), dead: make(chan struct{})}
	s.mu.Lock()
	if s.subs == nil {
		s.subs = map[*bcPeer]bool{}
	}
	s.subs[p] = true
	s.mu.Unlock()
	kill := func(p *bcPeer) { // with s.mu held
		if s.subs[p] {
			delete(s.subs, p)
			close(p.dead)
			_ = p.conn.Close()
		}
	}
	go func() {
		for {
			select {
			case f := <-p.out:
				if _, err := p.conn.Write(f); err != nil {
					return
				}
			case <-p.dead:
				return
			}
		}
	}()
	defer func() {
		s.mu.Lock()
		kill(p)
		s.mu.Unlock()
	}()
	for {
		h, err := ws.ReadHeader(rw.Reader)
		if err != nil {
			return
		}
		b := make([]byte, h.Length)
		if _, err := io.ReadFull(rw.Reader, b); err != nil {
			return
		}
		if h.Masked {
			ws.Cipher(b, h.Mask, 0)
		}
		if h.OpCode != ws.OpBinary {
			continue
		}
		f := ws.MustCompileFrame(ws.NewBinaryFrame(b))
		s.mu.Lock()
		for q := range s.subs {
			select {
			case q.out <- f:
			default:
				kill(q)
			}
		}
		s.mu.Unlock()
	}
}

// syncBuf is a goroutine-safe buffer for stderr.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *syncBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns what was written.
func (b *syncBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// testConfig parses load's command line.
func testConfig(t *testing.T, args ...string) config {
	t.Helper()
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	cfg, err := parseFlags(fs, args)
	if err != nil {
		t.Fatalf("flags %v: %v", args, err)
	}
	return cfg
}

// runLoad runs load in-process and checks the stderr markers.
func runLoad(t *testing.T, args ...string) result {
	t.Helper()
	var stderr syncBuf
	res := run(testConfig(t, args...), strings.NewReader(""), &stderr)
	out, _ := json.Marshal(res)
	t.Logf("load %s\n%s", strings.Join(args, " "), out)
	if res.Error == "" {
		checkMarkers(t, stderr.String())
	}
	return res
}

// checkMarkers checks that the ready and window markers came in order.
func checkMarkers(t *testing.T, stderr string) {
	t.Helper()
	a := strings.Index(stderr, "load: ready\n")
	b := strings.Index(stderr, "load: window start\n")
	c := strings.Index(stderr, "load: window end\n")
	if a < 0 || b < a || c < b {
		t.Errorf("markers out of order in stderr %q", stderr)
	}
}

// requireOK fails the test when the run reported an error.
func requireOK(t *testing.T, res result) {
	t.Helper()
	if res.Errors != 0 || res.Error != "" {
		t.Fatalf("errors %d: %s", res.Errors, res.Error)
	}
}

// checkHist checks that the histogram adds up and percentiles are ordered.
func checkHist(t *testing.T, res result) {
	t.Helper()
	var n int64
	last := int64(0)
	for _, p := range res.Hist {
		if p[0] <= last || p[1] <= 0 {
			t.Fatalf("bad histogram %v", res.Hist)
		}
		last = p[0]
		n += p[1]
	}
	if n == 0 || uint64(n) != res.Samples {
		t.Fatalf("histogram holds %d values, samples %d", n, res.Samples)
	}
	if !(res.P50us > 0 && res.P50us <= res.P99us && res.P99us <= res.P999us && res.P999us <= res.MaxUs) {
		t.Fatalf("percentiles out of order: %v %v %v %v", res.P50us, res.P99us, res.P999us, res.MaxUs)
	}
}

// addr is the host:port of a test server.
func addr(ts *httptest.Server) string { return strings.TrimPrefix(ts.URL, "http://") }

// tcpEcho starts a raw TCP echo server.
func tcpEcho(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	return ln.Addr().String()
}

// TestHistScheme checks the bucket bounds, bucketOf and the quantiles.
func TestHistScheme(t *testing.T) {
	if histBounds[0] != 1000 || histBounds[1] != 1040 || histBounds[2] != 1082 {
		t.Fatalf("bounds start %v", histBounds[:3])
	}
	if histBounds[histBuckets-1] < 100e9 {
		t.Fatalf("last bound %d ns < 100 s", histBounds[histBuckets-1])
	}
	for i := 1; i < histBuckets; i++ {
		if want := int64(math.Ceil(1000 * math.Pow(1.04, float64(i)))); histBounds[i] != want {
			t.Fatalf("U(%d) = %d, want %d", i, histBounds[i], want)
		}
		lo, hi := histBounds[i-1], histBounds[i]
		for _, v := range []int64{lo + 1, (lo + hi) / 2, hi} {
			if b := bucketOf(v); b != i {
				t.Fatalf("bucketOf(%d) = %d, want %d", v, b, i)
			}
		}
		if float64(hi)/float64(lo+1) > 1.04 {
			t.Fatalf("bucket %d: relative width %v", i, float64(hi)/float64(lo+1))
		}
	}
	for _, v := range []int64{-5, 0, 1, 1000} {
		if bucketOf(v) != 0 {
			t.Fatalf("bucketOf(%d) != 0", v)
		}
	}
	if bucketOf(1<<62) != histBuckets-1 {
		t.Fatal("overflow not in the last bucket")
	}
	var a, b hist
	for i := range 100 {
		a.record(int64(i+1) * 1000)
		b.record(int64(i+101) * 1000)
	}
	var tot histTotal
	tot.add(&a)
	tot.add(&b)
	if tot.n != 200 || tot.max != 200000 {
		t.Fatalf("n %d max %d", tot.n, tot.max)
	}
	for _, q := range []float64{0.5, 0.99, 0.999} {
		exact := math.Ceil(q*200) * 1000
		got := float64(tot.quantile(q))
		if got < exact || got > exact*1.04 {
			t.Fatalf("q%v = %v, exact %v", q, got, exact)
		}
	}
}

// TestEchoWorkloads runs the closed, pipelined and open loops in ws and
// tcp mode.
func TestEchoWorkloads(t *testing.T) {
	ts := httptest.NewServer(&wsServer{})
	defer ts.Close()
	raw := tcpEcho(t)
	common := []string{"-conns", "20", "-size", "256", "-warmup", "100ms", "-duration", "400ms", "-verify-every", "1", "-hang-timeout", "3s"}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"closed-ws", []string{"-addr", addr(ts), "-path", "/echo"}},
		{"closed-tcp", []string{"-mode", "tcp", "-addr", raw}},
		{"pipelined-ws", []string{"-addr", addr(ts), "-inflight", "8"}},
		{"pipelined-tcp", []string{"-mode", "tcp", "-addr", raw, "-inflight", "8"}},
		{"open-ws", []string{"-addr", addr(ts), "-rate", "4000", "-schedulers", "3"}},
		{"open-tcp", []string{"-mode", "tcp", "-addr", raw, "-rate", "4000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := runLoad(t, append(tc.args, common...)...)
			requireOK(t, res)
			checkHist(t, res)
			if res.Messages == 0 || res.MinConnMessages == nil || *res.MinConnMessages == 0 {
				t.Fatalf("messages %d, min per conn %v", res.Messages, res.MinConnMessages)
			}
			if strings.HasPrefix(tc.name, "open") {
				want := 4000 * 0.4
				if res.Sent == nil || math.Abs(float64(*res.Sent)-want) > want*0.05 {
					t.Fatalf("sent %v, want about %v", res.Sent, want)
				}
				if res.Samples != *res.Sent {
					t.Fatalf("samples %d != sent %d: every message of the window is recorded", res.Samples, *res.Sent)
				}
				if res.SendLagMaxUs == nil || *res.RateTarget != 4000 {
					t.Fatal("open-loop fields missing")
				}
			}
		})
	}
}

// TestSync: with -sync nothing is sent before the go line, and the
// processes of a run can be started together.
func TestSync(t *testing.T) {
	ts := httptest.NewServer(&wsServer{})
	defer ts.Close()
	cfg := testConfig(t, "-addr", addr(ts), "-conns", "5", "-warmup", "0s", "-duration", "200ms", "-sync")
	pr, pw := io.Pipe()
	var stderr syncBuf
	resc := make(chan result)
	go func() { resc <- run(cfg, pr, &stderr) }()
	waitFor(t, func() bool { return strings.Contains(stderr.String(), "load: ready") })
	time.Sleep(200 * time.Millisecond)
	if strings.Contains(stderr.String(), "window") {
		t.Fatal("the window started before the go line")
	}
	_, _ = pw.Write([]byte("go\n"))
	res := <-resc
	requireOK(t, res)
	checkMarkers(t, stderr.String())
	if res.Messages == 0 {
		t.Fatal("no messages")
	}

	// stdin closed before the go line: an error.
	pr, pw = io.Pipe()
	stderr = syncBuf{}
	go func() { resc <- run(cfg, pr, &stderr) }()
	waitFor(t, func() bool { return strings.Contains(stderr.String(), "load: ready") })
	_ = pw.Close()
	if res := <-resc; res.Error == "" {
		t.Fatal("no error when stdin ends before go")
	}
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestBroadcast: a local publisher, normal and slow subscribers; the
// server closes the slow ones.
func TestBroadcast(t *testing.T) {
	ts := httptest.NewServer(&bcServer{})
	defer ts.Close()
	res := runLoad(t, "-workload", "broadcast", "-addr", addr(ts), "-path", "/broadcast", "-conns", "12", "-slow", "2",
		"-publish-rate", "1000", "-size", "4096", "-warmup", "200ms", "-duration", "600ms", "-drain-timeout", "1s", "-verify-every", "1")
	requireOK(t, res)
	checkHist(t, res)
	if *res.SlowClosed != 2 {
		t.Fatalf("slow_closed %d, want 2", *res.SlowClosed)
	}
	pub := float64(*res.Published)
	if math.Abs(pub-600) > 30 {
		t.Fatalf("published %v, want about 600", pub)
	}
	// Deliveries counted at receive time: the window edges can shift a few.
	if d := float64(*res.Deliveries); math.Abs(d-10*pub) > 10*pub*0.1 {
		t.Fatalf("deliveries %v, want about %v", d, 10*pub)
	}
}

// TestBroadcastTwoProcesses: one process publishes, another only
// subscribes, started together with -sync.
func TestBroadcastTwoProcesses(t *testing.T) {
	ts := httptest.NewServer(&bcServer{})
	defer ts.Close()
	base := []string{"-workload", "broadcast", "-addr", addr(ts), "-size", "64", "-warmup", "100ms", "-duration", "400ms", "-sync"}
	cfgs := []config{
		testConfig(t, append(base, "-conns", "4", "-publish-rate", "500")...),
		testConfig(t, append(base, "-conns", "8")...),
	}
	var stderr [2]syncBuf
	var pws [2]*io.PipeWriter
	resc := [2]chan result{make(chan result, 1), make(chan result, 1)}
	for i := range cfgs {
		pr, pw := io.Pipe()
		pws[i] = pw
		go func() { resc[i] <- run(cfgs[i], pr, &stderr[i]) }()
	}
	for i := range cfgs {
		waitFor(t, func() bool { return strings.Contains(stderr[i].String(), "load: ready") })
	}
	for _, pw := range pws {
		_, _ = pw.Write([]byte("go\n"))
	}
	for i := range cfgs {
		res := <-resc[i]
		out, _ := json.Marshal(res)
		t.Logf("process %d: %s", i, out)
		requireOK(t, res)
		checkHist(t, res)
		if *res.Deliveries == 0 {
			t.Fatalf("process %d: no deliveries", i)
		}
	}
}

// TestIdle holds connections until "stop", answering the server's pings.
func TestIdle(t *testing.T) {
	srv := &wsServer{ping: true}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	cfg := testConfig(t, "-workload", "idle", "-addr", addr(ts), "-conns", "30", "-sync")
	pr, pw := io.Pipe()
	var stderr syncBuf
	resc := make(chan result)
	go func() { resc <- run(cfg, pr, &stderr) }()
	waitFor(t, func() bool { return strings.Contains(stderr.String(), "load: ready") })
	_, _ = pw.Write([]byte("go\n"))
	waitFor(t, func() bool { return srv.pongs.Load() == 30 })
	time.Sleep(100 * time.Millisecond)
	_, _ = pw.Write([]byte("stop\n"))
	res := <-resc
	requireOK(t, res)
	checkMarkers(t, stderr.String())
	if *res.Held != 30 || res.Seconds < 0.1 {
		t.Fatalf("held %d for %vs", *res.Held, res.Seconds)
	}

	// A connection closed by the server during the hold is an error.
	ts2 := httptest.NewServer(&wsServer{closeAfter: 100 * time.Millisecond})
	defer ts2.Close()
	res = runLoad(t, "-workload", "idle", "-addr", addr(ts2), "-conns", "5", "-warmup", "0s", "-duration", "500ms")
	if res.Errors == 0 || !strings.Contains(res.Error, "closed by the server") {
		t.Fatalf("want a close error, got %q", res.Error)
	}
}

// TestStorm: handshakes in a loop; a refused dial is an error.
func TestStorm(t *testing.T) {
	ts := httptest.NewServer(&wsServer{})
	defer ts.Close()
	res := runLoad(t, "-workload", "storm", "-addr", addr(ts), "-conc", "8", "-warmup", "100ms", "-duration", "500ms")
	requireOK(t, res)
	checkHist(t, res)
	if *res.Upgrades == 0 || *res.UpgradesPerS <= 0 {
		t.Fatalf("upgrades %d", *res.Upgrades)
	}

	// Nothing listening: the handshake fails, and that is an error.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	_ = ln.Close()
	res = runLoad(t, "-workload", "storm", "-addr", dead, "-conc", "2", "-warmup", "0s", "-duration", "200ms")
	if res.Errors == 0 || !strings.Contains(res.Error, "dial") {
		t.Fatalf("want a dial error, got %q", res.Error)
	}
}

// TestSlowloris: a server with a handshake timeout closes every
// connection; one without keeps them open.
func TestSlowloris(t *testing.T) {
	// The handshake (request headers) must arrive within 300ms.
	ts := httptest.NewUnstartedServer(&wsServer{})
	ts.Config.ReadHeaderTimeout = 300 * time.Millisecond
	ts.Start()
	defer ts.Close()
	res := runLoad(t, "-workload", "slowloris", "-addr", addr(ts), "-conns", "10", "-interval", "50ms", "-warmup", "0s", "-duration", "800ms")
	requireOK(t, res)
	if *res.ClosedByServer != 10 || *res.StillOpen != 0 {
		t.Fatalf("closed %d, open %d", *res.ClosedByServer, *res.StillOpen)
	}
	if p := *res.CloseAfterMsP50; p < 250 || p > 700 {
		t.Fatalf("closed after %v ms, want about 300", p)
	}

	// No handshake timeout: every connection is still open; not an error.
	ts2 := httptest.NewServer(&wsServer{})
	defer ts2.Close()
	res = runLoad(t, "-workload", "slowloris", "-addr", addr(ts2), "-conns", "10", "-interval", "50ms", "-warmup", "0s", "-duration", "400ms")
	requireOK(t, res)
	if *res.ClosedByServer != 0 || *res.StillOpen != 10 {
		t.Fatalf("closed %d, open %d", *res.ClosedByServer, *res.StillOpen)
	}
}

// TestLarge: 1 MiB echoes, whole or fragmented, reassembled from split
// echoes; and the close 1009 of a message over the limit.
func TestLarge(t *testing.T) {
	ts := httptest.NewServer(&wsServer{split: 3, limit: 1 << 20})
	defer ts.Close()
	for _, frag := range []string{"0", "65536"} {
		res := runLoad(t, "-workload", "large", "-addr", addr(ts), "-size", "1048576", "-frag", frag, "-conns", "2", "-warmup", "100ms", "-duration", "400ms")
		requireOK(t, res)
		checkHist(t, res)
		if res.Messages == 0 || *res.MBPerS <= 0 {
			t.Fatalf("messages %d", res.Messages)
		}
	}

	res := runLoad(t, "-workload", "large", "-addr", addr(ts), "-size", "1048577", "-expect-close", "1009")
	requireOK(t, res)
	if res.CloseCode == nil || *res.CloseCode != 1009 {
		t.Fatalf("close code %v", res.CloseCode)
	}
	// The message is within the limit: an echo instead of a close is an error.
	res = runLoad(t, "-workload", "large", "-addr", addr(ts), "-size", "1000", "-expect-close", "1009")
	if res.Errors == 0 || !strings.Contains(res.Error, "instead of a close") {
		t.Fatalf("want an error, got %q", res.Error)
	}
}

// TestVerify: an echo that differs from what was sent is an error.
func TestVerify(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				buf := make([]byte, 64)
				for n := 0; ; n++ {
					if _, err := io.ReadFull(br, buf); err != nil {
						return
					}
					if n == 20 {
						buf[40] ^= 1
					}
					_, _ = c.Write(buf)
				}
			}()
		}
	}()
	res := runLoad(t, "-mode", "tcp", "-addr", ln.Addr().String(), "-conns", "1", "-size", "64", "-inflight", "4", "-verify-every", "1", "-warmup", "0s", "-duration", "300ms")
	if !strings.Contains(res.Error, "differs") {
		t.Fatalf("want a verify error, got %q", res.Error)
	}
}
