package container_test

// Conformance of the container to RFC 6455 §4–§7 (and RFC 7692 for
// permessage-deflate), checked byte by byte with the raw client of
// rawclient_test.go against the samples echo endpoint.

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/wsc-dev/wsc/container"
	"github.com/wsc-dev/wsc/endpoint"
	"github.com/wsc-dev/wsc/samples"
	"github.com/wsc-dev/wsc/samples/echo"
)

const (
	echoPath   = samples.ContextPath + "/echo"
	smallPath  = samples.ContextPath + "/small"
	smallLimit = 1024
	offerPMD   = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"
)

// smallEchoConfig is the echo endpoint with a 1024-byte message limit.
func smallEchoConfig() *endpoint.ServerConfig {
	cfg := echo.Config()
	cfg.Path = "/small"
	cfg.MaxTextMessageBytes = smallLimit
	cfg.MaxBinaryMessageBytes = smallLimit
	return cfg
}

// startEcho starts a container serving the samples context (echo at
// /samples/echo, permessage-deflate on unless mutate turns it off) plus the
// 1024-byte echo at /samples/small, and returns its address.
func startEcho(tb testing.TB, mutate func(*container.Settings)) string {
	tb.Helper()
	return startEchoConfig(tb, container.Config{}, mutate)
}

func startEchoConfig(tb testing.TB, cfg container.Config, mutate func(*container.Settings)) string {
	tb.Helper()
	cfg.Addr = "127.0.0.1:0"
	c := container.New(cfg)
	settings := container.DefaultSettings()
	settings.AllowedOrigins = []string{"*"}
	settings.PerMessageDeflate = true
	// As the samples' descriptor sets them.
	settings.MaxTextMessageBytes = echo.MaxMessageBytes
	settings.MaxBinaryMessageBytes = echo.MaxMessageBytes
	if mutate != nil {
		mutate(&settings)
	}
	err := c.Deploy(container.WebContext{
		Path:      samples.ContextPath,
		Settings:  settings,
		Endpoints: append(samples.Endpoints([]byte("test-secret")), smallEchoConfig()),
	})
	if err != nil {
		tb.Fatalf("deploy: %v", err)
	}
	if err := c.Start(); err != nil {
		tb.Fatalf("start: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := c.Shutdown(ctx); err != nil {
			tb.Errorf("shutdown: %v", err)
		}
	})
	if c.Addr() == nil {
		tb.Fatal("container has no address after Start")
	}
	return c.Addr().String()
}

// textPayload returns n bytes of ASCII text.
func textPayload(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = 'a' + byte(i%26)
	}
	return p
}

// binaryPayload returns n pseudo-random bytes (every byte value occurs).
func binaryPayload(n int) []byte {
	r := rand.New(rand.NewPCG(uint64(n), 7))
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(r.Uint32())
	}
	return p
}

// payloadFor returns an n-byte payload suited to op.
func payloadFor(op byte, n int) []byte {
	if op == opText {
		return textPayload(n)
	}
	return binaryPayload(n)
}

// wantLenField is the 7-bit length field of a minimally encoded n-byte frame.
func wantLenField(n int) byte {
	switch {
	case n < 126:
		return byte(n)
	case n <= 0xffff:
		return 126
	}
	return 127
}

// ---- §4: opening handshake ----------------------------------------------

func TestConformanceHandshake(t *testing.T) {
	addr := startEcho(t, nil)

	t.Run("101 response is valid and negotiates nothing unasked", func(t *testing.T) {
		c := dialRaw(t, addr)
		c.write(c.request(echoPath))
		r := c.expectUpgrade()
		if v := r.header.Values("Sec-WebSocket-Extensions"); len(v) != 0 {
			t.Errorf("101 without an extension offer carries Sec-WebSocket-Extensions: %q", v)
		}
		if v := r.header.Values("Sec-WebSocket-Protocol"); len(v) != 0 {
			t.Errorf("101 without a subprotocol offer carries Sec-WebSocket-Protocol: %q", v)
		}
		c.send(fr{op: opText, payload: []byte("hello")})
		c.expectMessage(opText, []byte("hello"))
	})

	t.Run("lower-case header names", func(t *testing.T) {
		c := dialRaw(t, addr)
		c.key = c.newKey()
		c.write([]byte(handshakeRequest("GET", echoPath,
			"host: "+addr, "upgrade: websocket", "connection: upgrade",
			"sec-websocket-key: "+c.key, "sec-websocket-version: 13")))
		c.expectUpgrade()
		c.send(fr{op: opBinary, payload: []byte{1, 2, 3}})
		c.expectMessage(opBinary, []byte{1, 2, 3})
	})

	t.Run("handshake and a frame in one write", func(t *testing.T) {
		c := dialRaw(t, addr)
		req := c.request(echoPath)
		c.write(append(req, c.encode(fr{op: opText, payload: []byte("pipelined")})...))
		c.expectUpgrade()
		c.expectMessage(opText, []byte("pipelined"))
	})

	t.Run("handshake, frames and a ping in one write", func(t *testing.T) {
		c := dialRaw(t, addr)
		req := c.request(echoPath)
		c.write(append(req, c.encode(
			fr{op: opPing, payload: []byte("p1")},
			fr{op: opText, payload: []byte("one")},
			fr{op: opBinary, payload: []byte("two")},
		)...))
		c.expectUpgrade()
		c.expectPong([]byte("p1"))
		c.expectMessage(opText, []byte("one"))
		c.expectMessage(opBinary, []byte("two"))
	})

	t.Run("split at every byte boundary", func(t *testing.T) {
		probe := dialRaw(t, addr)
		n := len(probe.request(echoPath))
		probe.close()
		for k := 1; k < n; k++ {
			c := dialRaw(t, addr)
			req := c.request(echoPath)
			c.writeSplit(req, k, time.Millisecond)
			c.expectUpgrade()
			msg := []byte(fmt.Sprintf("split at %d", k))
			c.send(fr{op: opText, payload: msg})
			c.expectMessage(opText, msg)
			c.close()
		}
	})

	t.Run("split at every byte boundary with a frame after it", func(t *testing.T) {
		probe := dialRaw(t, addr)
		n := len(probe.request(echoPath))
		probe.close()
		for k := 1; k < n; k++ {
			c := dialRaw(t, addr)
			msg := []byte(fmt.Sprintf("pipelined after split %d", k))
			b := append(c.request(echoPath), c.encode(fr{op: opBinary, payload: msg})...)
			c.writeSplit(b, k, time.Millisecond)
			c.expectUpgrade()
			c.expectMessage(opBinary, msg)
			c.close()
		}
	})

	t.Run("byte by byte", func(t *testing.T) {
		c := dialRaw(t, addr)
		c.writeBytewise(c.request(echoPath), 100*time.Microsecond)
		c.expectUpgrade()
		c.send(fr{op: opText, payload: []byte("slow")})
		c.expectMessage(opText, []byte("slow"))
	})
}

func TestConformanceHandshakeRejections(t *testing.T) {
	addr := startEcho(t, nil)
	const key = "dGhlIHNhbXBsZSBub25jZQ==" // RFC 6455 §1.3
	std := func() []string { return upgradeHeaders(addr, key) }
	without := func(name string) []string {
		var out []string
		for _, h := range std() {
			if !strings.HasPrefix(h, name+":") {
				out = append(out, h)
			}
		}
		return out
	}
	with := func(name, value string) []string { return append(without(name), name+": "+value) }
	// padded returns an upgrade request of exactly size bytes.
	padded := func(size int) string {
		base := handshakeRequest("GET", echoPath, append(std(), "X-Pad: ")...)
		return handshakeRequest("GET", echoPath, append(std(), "X-Pad: "+strings.Repeat("p", size-len(base)))...)
	}

	cases := []struct {
		name    string
		req     string
		status  int
		headers map[string]string // header → token it must hold
	}{
		{"plain GET without Upgrade", handshakeRequest("GET", echoPath, "Host: "+addr), 426,
			map[string]string{"Upgrade": "websocket"}},
		{"missing Sec-WebSocket-Version", handshakeRequest("GET", echoPath, without("Sec-WebSocket-Version")...), 400,
			map[string]string{"Sec-WebSocket-Version": "13"}},
		{"Sec-WebSocket-Version 8", handshakeRequest("GET", echoPath, with("Sec-WebSocket-Version", "8")...), 400,
			map[string]string{"Sec-WebSocket-Version": "13"}},
		{"Sec-WebSocket-Version 14", handshakeRequest("GET", echoPath, with("Sec-WebSocket-Version", "14")...), 400,
			map[string]string{"Sec-WebSocket-Version": "13"}},
		{"POST", handshakeRequest("POST", echoPath, std()...), 400, nil},
		{"missing Sec-WebSocket-Key", handshakeRequest("GET", echoPath, without("Sec-WebSocket-Key")...), 400, nil},
		{"Sec-WebSocket-Key of 10 bytes", handshakeRequest("GET", echoPath, with("Sec-WebSocket-Key", "AAAAAAAAAAAAAA==")...), 400, nil},
		{"Sec-WebSocket-Key not base64", handshakeRequest("GET", echoPath, with("Sec-WebSocket-Key", "!!!!!!!!!!!!!!!!!!!!!!==")...), 400, nil},
		{"Sec-WebSocket-Key of 17 bytes", handshakeRequest("GET", echoPath, with("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAAA=")...), 400, nil},
		{"unknown endpoint in the context", handshakeRequest("GET", samples.ContextPath+"/nope", std()...), 404, nil},
		{"unknown context", handshakeRequest("GET", "/nope/echo", std()...), 404, nil},
		{"request of 8193 bytes", padded(8<<10 + 1), 431, nil},
		{"unterminated request over 8 KiB", strings.TrimSuffix(padded(9000), "\r\n\r\n") + "\r\nX-More: ", 431, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := dialRaw(t, addr)
			c.write([]byte(tc.req))
			r := c.readResponse()
			if r.status != tc.status {
				t.Fatalf("got status %d (%q), want %d", r.status, r.body, tc.status)
			}
			for name, token := range tc.headers {
				if !hasToken(r.header.Values(name), token) {
					t.Errorf("%d response: %s: %q, want %q", r.status, name, r.header.Values(name), token)
				}
			}
			if v := r.header.Get("Sec-WebSocket-Accept"); v != "" {
				t.Errorf("rejection carries Sec-WebSocket-Accept: %q", v)
			}
			c.expectTCPClosed()
		})
	}

	t.Run("request of exactly 8192 bytes is accepted", func(t *testing.T) {
		c := dialRaw(t, addr)
		c.key = key
		req := padded(8 << 10)
		if len(req) != 8<<10 {
			t.Fatalf("test bug: request is %d bytes", len(req))
		}
		c.write([]byte(req))
		c.expectUpgrade()
		c.send(fr{op: opText, payload: []byte("big headers")})
		c.expectMessage(opText, []byte("big headers"))
	})
}

func TestConformanceHandshakeTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	addr := startEchoConfig(t, container.Config{HandshakeTimeout: timeout}, nil)

	// expectClosedAfterTimeout waits for the server to close the connection
	// and checks that it did so because of the timeout, not at once.
	expectClosedAfterTimeout := func(t *testing.T, c *rawClient, start time.Time) {
		t.Helper()
		_ = c.conn.SetReadDeadline(time.Now().Add(ioTimeout))
		got, err := readAllUntilClose(c)
		elapsed := time.Since(start)
		if err != nil {
			t.Fatalf("server did not close an incomplete handshake: %s (after %v)", readErr(err), elapsed)
		}
		if bytes.HasPrefix(got, []byte("HTTP/1.1 101")) {
			t.Fatalf("server answered an incomplete handshake with 101: %q", got)
		}
		if elapsed < timeout*3/4 {
			t.Errorf("server closed after %v, before the %v handshake timeout", elapsed, timeout)
		}
	}

	t.Run("incomplete request is closed", func(t *testing.T) {
		c := dialRaw(t, addr)
		start := time.Now()
		c.write([]byte("GET " + echoPath + " HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\n"))
		expectClosedAfterTimeout(t, c, start)
	})

	t.Run("silent connection is closed", func(t *testing.T) {
		c := dialRaw(t, addr)
		expectClosedAfterTimeout(t, c, time.Now())
	})

	t.Run("completed handshake outlives the timeout", func(t *testing.T) {
		c := openWS(t, addr, echoPath)
		time.Sleep(2 * timeout)
		c.send(fr{op: opText, payload: []byte("still open")})
		c.expectMessage(opText, []byte("still open"))
	})
}

// readAllUntilClose reads until EOF or reset and returns what came before.
func readAllUntilClose(c *rawClient) ([]byte, error) {
	var got []byte
	buf := make([]byte, 4096)
	for {
		n, err := c.br.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			if isClosed(err) {
				return got, nil
			}
			return got, err
		}
	}
}

// ---- §5.2: framing ------------------------------------------------------

func TestConformancePayloadLengths(t *testing.T) {
	addr := startEcho(t, nil)
	for _, op := range []byte{opText, opBinary} {
		for _, n := range []int{0, 125, 126, 127, 65535, 65536} {
			t.Run(fmt.Sprintf("%s %d", opName(op), n), func(t *testing.T) {
				t.Parallel()
				c := openWS(t, addr, echoPath)
				p := payloadFor(op, n)
				c.send(fr{op: op, payload: p})
				m := c.expectMessage(op, p)
				if m.frames != 1 {
					t.Logf("echo came in %d frames", m.frames)
				}
				if m.frames == 1 && m.lenFields[0] != wantLenField(n) {
					t.Errorf("echo of %d bytes has length field %d, want %d (minimal encoding)", n, m.lenFields[0], wantLenField(n))
				}
			})
		}
	}
}

func TestConformancePipelining(t *testing.T) {
	addr := startEcho(t, nil)

	t.Run("1000 frames in one write come back in order", func(t *testing.T) {
		c := openWS(t, addr, echoPath)
		var frames []fr
		for i := range 1000 {
			op := opText
			if i%3 == 2 {
				op = opBinary
			}
			frames = append(frames, fr{op: op, payload: []byte(fmt.Sprintf("message %04d", i))})
		}
		c.send(frames...)
		for i, f := range frames {
			m, err := c.readMessage()
			if err != nil {
				t.Fatalf("message %d of 1000: %s", i, readErr(err))
			}
			if m.op != f.op || !bytes.Equal(m.payload, f.payload) {
				t.Fatalf("message %d: got %s, want %s %q", i, describeMessage(m), opName(f.op), f.payload)
			}
		}
	})

	t.Run("frames after the close frame are ignored", func(t *testing.T) {
		c := openWS(t, addr, echoPath)
		c.send(
			fr{op: opClose, payload: closeBody(1000, "")},
			fr{op: opText, payload: []byte("after close")},
			fr{op: opPing, payload: []byte("after close")},
		)
		c.expectClose(1000)
	})
}

func TestConformanceSplitFrames(t *testing.T) {
	addr := startEcho(t, nil)

	for _, n := range []int{125, 126, 65536} {
		t.Run(fmt.Sprintf("%d-byte message split in two at each boundary", n), func(t *testing.T) {
			t.Parallel()
			c := openWS(t, addr, echoPath)
			hdr := len(c.header(true, 0, opText, uint64(n)))
			var points []int
			if n < 1000 {
				for k := 1; k < hdr+n; k++ {
					points = append(points, k)
				}
			} else {
				// Every boundary in the header (length and mask) and the
				// first payload bytes, then a sample of the payload.
				for k := 1; k <= hdr+4; k++ {
					points = append(points, k)
				}
				points = append(points, hdr+1000, hdr+n/2+1, hdr+n-1)
			}
			for i, k := range points {
				op := opText
				if i%2 == 1 {
					op = opBinary
				}
				p := payloadFor(op, n)
				p[0] = 'A' + byte(i%26) // tell consecutive messages apart
				c.writeSplit(c.encode(fr{op: op, payload: p}), k, time.Millisecond)
				m, err := c.readMessage()
				if err != nil {
					t.Fatalf("split at %d: %s", k, readErr(err))
				}
				if m.op != op || !bytes.Equal(m.payload, p) {
					t.Fatalf("split at %d: got %s, want %s (%s)", k, describeMessage(m), opName(op), diff(m.payload, p))
				}
			}
		})
	}

	for _, tc := range []struct {
		n     int
		op    byte
		pause time.Duration
	}{
		{125, opText, 100 * time.Microsecond},
		{126, opBinary, 100 * time.Microsecond},
		{65536, opBinary, 0},
		{65536, opText, 0},
	} {
		t.Run(fmt.Sprintf("%d-byte %s message byte by byte", tc.n, opName(tc.op)), func(t *testing.T) {
			t.Parallel()
			c := openWS(t, addr, echoPath)
			p := payloadFor(tc.op, tc.n)
			c.writeBytewise(c.encode(fr{op: tc.op, payload: p}), tc.pause)
			c.expectMessage(tc.op, p)
		})
	}

	t.Run("125-byte ping split in two at each boundary", func(t *testing.T) {
		t.Parallel()
		c := openWS(t, addr, echoPath)
		p := textPayload(125)
		for k := 1; k < 2+4+125; k++ {
			p[0] = 'A' + byte(k%26)
			c.writeSplit(c.encode(fr{op: opPing, payload: p}), k, time.Millisecond)
			c.expectPong(p)
		}
	})

	t.Run("fragments and pings byte by byte", func(t *testing.T) {
		t.Parallel()
		c := openWS(t, addr, echoPath)
		c.writeBytewise(c.encode(
			fr{op: opText, payload: []byte("frag-"), more: true},
			fr{op: opPing, payload: []byte("ping")},
			fr{op: opCont, payload: []byte("mented"), more: true},
			fr{op: opCont, payload: []byte("!")},
		), 50*time.Microsecond)
		c.expectPong([]byte("ping"))
		c.expectMessage(opText, []byte("frag-mented!"))
	})

	t.Run("close frame byte by byte", func(t *testing.T) {
		t.Parallel()
		c := openWS(t, addr, echoPath)
		c.writeBytewise(c.encode(fr{op: opClose, payload: closeBody(1000, "bye")}), 100*time.Microsecond)
		c.expectClose(1000)
	})
}

// ---- §5.4–§5.5: fragmentation and control frames -------------------------

func TestConformanceFragmentation(t *testing.T) {
	addr := startEcho(t, nil)

	for _, op := range []byte{opText, opBinary} {
		t.Run(fmt.Sprintf("%s in 4 fragments with a ping answered between each", opName(op)), func(t *testing.T) {
			t.Parallel()
			c := openWS(t, addr, echoPath)
			p := payloadFor(op, 4000)
			parts := [][]byte{p[:1], p[1:1500], p[1500:3999], p[3999:]}
			for i, part := range parts {
				first, last := i == 0, i == len(parts)-1
				f := fr{op: opCont, payload: part, more: !last}
				if first {
					f.op = op
				}
				if last {
					c.send(f)
					break
				}
				ping := []byte(fmt.Sprintf("ping %d", i))
				c.send(f, fr{op: opPing, payload: ping})
				// The pong must come while the message is still incomplete.
				c.expectPong(ping)
			}
			c.expectMessage(op, p)
		})

		t.Run(fmt.Sprintf("%s in 3 fragments and a ping in one write", opName(op)), func(t *testing.T) {
			t.Parallel()
			c := openWS(t, addr, echoPath)
			p := payloadFor(op, 300)
			c.send(
				fr{op: op, payload: p[:100], more: true},
				fr{op: opPing, payload: []byte("in the middle")},
				fr{op: opCont, payload: p[100:200], more: true},
				fr{op: opCont, payload: p[200:]},
			)
			c.expectPong([]byte("in the middle"))
			c.expectMessage(op, p)
		})

		t.Run(fmt.Sprintf("%s with empty fragments", opName(op)), func(t *testing.T) {
			t.Parallel()
			c := openWS(t, addr, echoPath)
			c.send(
				fr{op: op, more: true},
				fr{op: opCont, payload: []byte("ab"), more: true},
				fr{op: opCont, more: true},
				fr{op: opCont, payload: []byte("c"), more: true},
				fr{op: opCont},
			)
			c.expectMessage(op, []byte("abc"))
		})

		t.Run(fmt.Sprintf("%s of only empty fragments", opName(op)), func(t *testing.T) {
			t.Parallel()
			c := openWS(t, addr, echoPath)
			c.send(fr{op: op, more: true}, fr{op: opCont, more: true}, fr{op: opCont})
			c.expectMessage(op, []byte{})
		})
	}

	t.Run("pings of 0 and 125 bytes get pongs with the same payload", func(t *testing.T) {
		c := openWS(t, addr, echoPath)
		c.send(fr{op: opPing})
		c.expectPong([]byte{})
		p := binaryPayload(125)
		c.send(fr{op: opPing, payload: p})
		c.expectPong(p)
	})

	t.Run("unsolicited pong is ignored", func(t *testing.T) {
		c := openWS(t, addr, echoPath)
		c.send(fr{op: opPong, payload: []byte("unsolicited")}, fr{op: opPong})
		c.send(fr{op: opText, payload: []byte("still usable")})
		c.expectMessage(opText, []byte("still usable"))
	})

	t.Run("unsolicited pong inside a fragmented message is ignored", func(t *testing.T) {
		c := openWS(t, addr, echoPath)
		c.send(
			fr{op: opBinary, payload: []byte("x"), more: true},
			fr{op: opPong, payload: []byte("unsolicited")},
			fr{op: opCont, payload: []byte("y")},
		)
		c.expectMessage(opBinary, []byte("xy"))
	})
}

// ---- §5.1–§5.5, §7.4: protocol violations --------------------------------

func TestConformanceProtocolViolations(t *testing.T) {
	addr := startEcho(t, nil)
	plainAddr := startEcho(t, func(s *container.Settings) { s.PerMessageDeflate = false })
	long := textPayload(126)

	type violation struct {
		name   string
		addr   string
		offer  bool   // offer permessage-deflate (it must not be negotiated)
		before []byte // a text message exchanged before the violation
		frames []fr
		raw    func(c *rawClient) []byte // instead of frames
	}
	cases := []violation{
		{name: "unmasked text frame", frames: []fr{{op: opText, payload: []byte("hello"), unmasked: true}}},
		{name: "unmasked ping", frames: []fr{{op: opPing, payload: []byte("hello"), unmasked: true}}},
		{name: "unmasked close", frames: []fr{{op: opClose, payload: closeBody(1000, ""), unmasked: true}}},
		{name: "RSV1 on text, deflate not offered", frames: []fr{{op: opText, payload: []byte("hello"), rsv: rsv1}}},
		{name: "RSV1 on binary, deflate not offered", frames: []fr{{op: opBinary, payload: []byte("hello"), rsv: rsv1}}},
		{name: "RSV1 on text, deflate offered but disabled", addr: plainAddr, offer: true,
			frames: []fr{{op: opText, payload: compressOnce(t, []byte("hello")), rsv: rsv1}}},
		{name: "RSV2 on text", frames: []fr{{op: opText, payload: []byte("hello"), rsv: rsv2}}},
		{name: "RSV3 on text", frames: []fr{{op: opText, payload: []byte("hello"), rsv: rsv3}}},
		{name: "RSV2 on ping", frames: []fr{{op: opPing, payload: []byte("hello"), rsv: rsv2}}},
		{name: "RSV3 on ping", frames: []fr{{op: opPing, payload: []byte("hello"), rsv: rsv3}}},
		{name: "RSV2 on continuation", frames: []fr{
			{op: opText, payload: []byte("a"), more: true}, {op: opCont, payload: []byte("b"), rsv: rsv2}}},
		{name: "ping with 126-byte payload", frames: []fr{{op: opPing, payload: long}}},
		{name: "pong with 126-byte payload", frames: []fr{{op: opPong, payload: long}}},
		{name: "close with 126-byte payload", frames: []fr{{op: opClose, payload: closeBody(1000, string(long[:124]))}}},
		{name: "fragmented ping", frames: []fr{{op: opPing, payload: []byte("a"), more: true}, {op: opCont, payload: []byte("b")}}},
		{name: "fragmented pong", frames: []fr{{op: opPong, payload: []byte("a"), more: true}}},
		{name: "fragmented close", frames: []fr{{op: opClose, payload: closeBody(1000, ""), more: true}}},
		{name: "continuation without a start (final)", frames: []fr{{op: opCont, payload: []byte("x")}}},
		{name: "continuation without a start (not final)", frames: []fr{{op: opCont, payload: []byte("x"), more: true}}},
		{name: "continuation after a complete message", before: []byte("whole"),
			frames: []fr{{op: opCont, payload: []byte("x")}}},
		{name: "text frame inside a fragmented text message", frames: []fr{
			{op: opText, payload: []byte("a"), more: true}, {op: opText, payload: []byte("b")}}},
		{name: "binary frame inside a fragmented text message", frames: []fr{
			{op: opText, payload: []byte("a"), more: true}, {op: opBinary, payload: []byte("b")}}},
		{name: "text frame inside a fragmented binary message", frames: []fr{
			{op: opBinary, payload: []byte("a"), more: true}, {op: opCont, payload: []byte("b"), more: true},
			{op: opText, payload: []byte("c"), more: true}}},
		{name: "64-bit length with the most significant bit set", raw: func(c *rawClient) []byte {
			h := c.header(true, 0, opBinary, 1<<63|5)
			return append(h, "hello"...)
		}},
	}
	for _, op := range []byte{3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF} {
		cases = append(cases, violation{
			name:   fmt.Sprintf("reserved opcode %#x", op),
			frames: []fr{{op: op, payload: []byte("x")}},
		})
	}
	cases = append(cases, violation{
		name:   "reserved opcode 0x3 inside a fragmented message",
		frames: []fr{{op: opText, payload: []byte("a"), more: true}, {op: 3}},
	})

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := addr
			if tc.addr != "" {
				a = tc.addr
			}
			var extra []string
			if tc.offer {
				extra = append(extra, offerPMD)
			}
			c := openWS(t, a, echoPath, extra...)
			if c.deflate {
				t.Fatalf("test bug: permessage-deflate was negotiated")
			}
			if tc.before != nil {
				c.send(fr{op: opText, payload: tc.before})
				c.expectMessage(opText, tc.before)
			}
			if tc.raw != nil {
				c.write(tc.raw(c))
			} else {
				c.send(tc.frames...)
			}
			c.expectClose(1002)
		})
	}
}

// ---- §5.5.1, §7.4: closing handshake -------------------------------------

func TestConformanceCloseHandshake(t *testing.T) {
	addr := startEcho(t, nil)

	for _, code := range []uint16{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999} {
		t.Run(fmt.Sprintf("code %d is echoed", code), func(t *testing.T) {
			t.Parallel()
			c := openWS(t, addr, echoPath)
			c.send(fr{op: opClose, payload: closeBody(code, "")})
			c.expectClose(code)
		})
	}

	t.Run("code 1000 with a reason is echoed", func(t *testing.T) {
		t.Parallel()
		c := openWS(t, addr, echoPath)
		c.send(fr{op: opClose, payload: closeBody(1000, "bye ✓ κόσμε")})
		c.expectClose(1000)
	})

	t.Run("close with the largest payload (125 bytes) is echoed", func(t *testing.T) {
		t.Parallel()
		c := openWS(t, addr, echoPath)
		c.send(fr{op: opClose, payload: closeBody(4001, string(textPayload(123)))})
		c.expectClose(4001)
	})

	t.Run("empty close gets an empty close or 1000", func(t *testing.T) {
		t.Parallel()
		c := openWS(t, addr, echoPath)
		c.send(fr{op: opClose})
		c.expectEmptyClose()
	})

	t.Run("close after a message", func(t *testing.T) {
		t.Parallel()
		c := openWS(t, addr, echoPath)
		c.send(fr{op: opText, payload: []byte("first")})
		c.expectMessage(opText, []byte("first"))
		c.send(fr{op: opClose, payload: closeBody(1000, "")})
		c.expectClose(1000)
	})

	t.Run("close inside a fragmented message", func(t *testing.T) {
		t.Parallel()
		c := openWS(t, addr, echoPath)
		c.send(fr{op: opText, payload: []byte("unfinished"), more: true}, fr{op: opClose, payload: closeBody(1000, "")})
		c.expectClose(1000)
	})

	for _, code := range []uint16{0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535} {
		t.Run(fmt.Sprintf("code %d may not be sent: 1002", code), func(t *testing.T) {
			t.Parallel()
			c := openWS(t, addr, echoPath)
			c.send(fr{op: opClose, payload: closeBody(code, "")})
			c.expectClose(1002)
		})
	}

	t.Run("1-byte close payload: 1002", func(t *testing.T) {
		t.Parallel()
		c := openWS(t, addr, echoPath)
		c.send(fr{op: opClose, payload: []byte{0x03}})
		c.expectClose(1002)
	})

	for _, reason := range []string{"\xff", "ok\xce", "\xed\xa0\x80", "\xc0\xaf"} {
		t.Run(fmt.Sprintf("invalid UTF-8 reason %q: 1007", reason), func(t *testing.T) {
			t.Parallel()
			c := openWS(t, addr, echoPath)
			c.send(fr{op: opClose, payload: closeBody(1000, reason)})
			c.expectClose(1007)
		})
	}
}

// ---- §8.1: UTF-8 ---------------------------------------------------------

func TestConformanceUTF8(t *testing.T) {
	addr := startEcho(t, nil)

	invalid := []string{
		"\xff",
		"\x80",
		"hello\xc0\x80world",   // overlong NUL
		"\xe0\x80\xaf",         // overlong /
		"\xed\xa0\x80",         // surrogate U+D800
		"\xf4\x90\x80\x80",     // above U+10FFFF
		"\xf8\x88\x80\x80\x80", // 5-byte form
		"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited", // Autobahn 6.3.1
	}
	for _, s := range invalid {
		t.Run(fmt.Sprintf("single frame %q: 1007", s), func(t *testing.T) {
			t.Parallel()
			c := openWS(t, addr, echoPath)
			c.send(fr{op: opText, payload: []byte(s)})
			c.expectClose(1007)
		})
	}

	// Each piece alone is a valid prefix; the sequence they make is not.
	splitInvalid := [][]string{
		{"\xce", "\x41"},
		{"\xe2\x82", "\x28"},
		{"\xed", "\xa0\x80"},
		{"\xe0", "\x80\xaf"},
		{"\xf0\x9d", "\x84", "\xc0"},
		{"\xf4", "\x90\x80\x80"},
		{"κόσμε\xe2", "\x82", "\xff"},
	}
	for _, parts := range splitInvalid {
		t.Run(fmt.Sprintf("fragments %q: 1007", parts), func(t *testing.T) {
			t.Parallel()
			c := openWS(t, addr, echoPath)
			var frames []fr
			for i, p := range parts {
				f := fr{op: opCont, payload: []byte(p), more: i < len(parts)-1}
				if i == 0 {
					f.op = opText
				}
				frames = append(frames, f)
			}
			c.send(frames...)
			c.expectClose(1007)
		})
	}

	// Fail fast: the close must come before the message is complete; the
	// rest is never sent.
	failFast := []struct {
		name string
		send func(c *rawClient)
	}{
		{"invalid first fragment", func(c *rawClient) {
			c.send(fr{op: opText, payload: []byte("hello\xff"), more: true})
		}},
		{"surrogate in the first fragment", func(c *rawClient) {
			c.send(fr{op: opText, payload: []byte("\xed\xa0\x80"), more: true})
		}},
		{"second fragment breaks a sequence the first began", func(c *rawClient) {
			c.send(fr{op: opText, payload: []byte("ok\xe2\x82"), more: true}, fr{op: opCont, payload: []byte("A"), more: true})
		}},
		{"invalid bytes early in a frame whose payload is not all sent", func(c *rawClient) {
			full := c.encode(fr{op: opText, payload: append([]byte("abc\xffdef"), textPayload(56)...)})
			c.write(full[:2+4+8])
		}},
		{"invalid bytes early in a long frame whose payload is not all sent", func(c *rawClient) {
			full := c.encode(fr{op: opText, payload: append([]byte("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"), textPayload(60000)...)})
			c.write(full[:4+4+20])
		}},
	}
	for _, tc := range failFast {
		t.Run("fail fast: "+tc.name, func(t *testing.T) {
			t.Parallel()
			c := openWS(t, addr, echoPath)
			tc.send(c)
			c.expectClose(1007)
		})
	}

	endsInside := [][]string{
		{"abc\xe2\x82"},
		{"abc", "\xf0\x9d\x84"},
		{"\xe2\x82", ""},
		{"\xc3"},
	}
	for _, parts := range endsInside {
		t.Run(fmt.Sprintf("message ends inside a code point %q: 1007", parts), func(t *testing.T) {
			t.Parallel()
			c := openWS(t, addr, echoPath)
			var frames []fr
			for i, p := range parts {
				f := fr{op: opCont, payload: []byte(p), more: i < len(parts)-1}
				if i == 0 {
					f.op = opText
				}
				frames = append(frames, f)
			}
			c.send(frames...)
			c.expectClose(1007)
		})
	}

	t.Run("valid sequences split inside code points echo intact", func(t *testing.T) {
		t.Parallel()
		c := openWS(t, addr, echoPath)
		for _, seq := range []string{"é", "€", "𝄞", "\U0010FFFF", "\u07FF", "\uFFFD"} {
			msg := "a" + seq + "b"
			// Two fragments, split at every position inside the sequence.
			for i := 1; i < len(seq); i++ {
				cut := 1 + i
				c.send(
					fr{op: opText, payload: []byte(msg[:cut]), more: true},
					fr{op: opCont, payload: []byte(msg[cut:])},
				)
				c.expectMessage(opText, []byte(msg))
			}
			// Three fragments, at every pair of positions inside it.
			for i := 1; i < len(seq); i++ {
				for j := i + 1; j < len(seq); j++ {
					c.send(
						fr{op: opText, payload: []byte(msg[:1+i]), more: true},
						fr{op: opCont, payload: []byte(msg[1+i : 1+j]), more: true},
						fr{op: opCont, payload: []byte(msg[1+j:])},
					)
					c.expectMessage(opText, []byte(msg))
				}
			}
		}
	})

	t.Run("valid text in one-byte fragments echoes intact", func(t *testing.T) {
		t.Parallel()
		c := openWS(t, addr, echoPath)
		msg := []byte("Hello-µ@ßöäüàá-UTF-8!! κόσμε € 𝄞 \U0010FFFF")
		var frames []fr
		for i := range msg {
			f := fr{op: opCont, payload: msg[i : i+1], more: i < len(msg)-1}
			if i == 0 {
				f.op = opText
			}
			frames = append(frames, f)
		}
		c.send(frames...)
		c.expectMessage(opText, msg)
	})

	t.Run("valid text split inside a code point within one frame's payload", func(t *testing.T) {
		t.Parallel()
		c := openWS(t, addr, echoPath)
		msg := []byte("x𝄞y€z")
		frame := c.encode(fr{op: opText, payload: msg})
		for k := 6 + 2; k < len(frame); k++ { // inside the payload
			c.writeSplit(frame, k, time.Millisecond)
			c.expectMessage(opText, msg)
			frame = c.encode(fr{op: opText, payload: msg})
		}
	})
}

// ---- §10.4: message size limit -------------------------------------------

func TestConformanceMessageLimit(t *testing.T) {
	addr := startEcho(t, nil)

	for _, op := range []byte{opText, opBinary} {
		t.Run(fmt.Sprintf("%s of %d bytes echoes", opName(op), smallLimit), func(t *testing.T) {
			t.Parallel()
			c := openWS(t, addr, smallPath)
			p := payloadFor(op, smallLimit)
			c.send(fr{op: op, payload: p})
			c.expectMessage(op, p)
		})

		t.Run(fmt.Sprintf("%s of %d bytes: 1009 on the header alone", opName(op), smallLimit+1), func(t *testing.T) {
			t.Parallel()
			c := openWS(t, addr, smallPath)
			c.write(c.header(true, 0, op, smallLimit+1))
			c.expectClose(1009)
		})

		t.Run(fmt.Sprintf("%s of 16 MiB announced: 1009 on the header alone", opName(op)), func(t *testing.T) {
			t.Parallel()
			c := openWS(t, addr, smallPath)
			c.write(c.header(true, 0, op, 16<<20))
			c.expectClose(1009)
		})

		t.Run(fmt.Sprintf("%s fragments adding up to %d bytes echo", opName(op), smallLimit), func(t *testing.T) {
			t.Parallel()
			c := openWS(t, addr, smallPath)
			p := payloadFor(op, smallLimit)
			c.send(
				fr{op: op, payload: p[:300], more: true},
				fr{op: opCont, payload: p[300:600], more: true},
				fr{op: opCont, payload: p[600:]},
			)
			c.expectMessage(op, p)
		})

		t.Run(fmt.Sprintf("%s fragments adding up to %d bytes: 1009", opName(op), smallLimit+1), func(t *testing.T) {
			t.Parallel()
			c := openWS(t, addr, smallPath)
			p := payloadFor(op, smallLimit+1)
			c.send(
				fr{op: op, payload: p[:512], more: true},
				fr{op: opCont, payload: p[512:1024], more: true},
				fr{op: opCont, payload: p[1024:]},
			)
			c.expectClose(1009)
		})

		t.Run(fmt.Sprintf("%s fragments passing the limit: 1009 before the final fragment", opName(op)), func(t *testing.T) {
			t.Parallel()
			c := openWS(t, addr, smallPath)
			p := payloadFor(op, smallLimit)
			c.send(fr{op: op, payload: p, more: true})
			c.write(c.header(false, 0, opCont, 1))
			c.expectClose(1009)
		})
	}

	t.Run("the limit applies per message", func(t *testing.T) {
		t.Parallel()
		c := openWS(t, addr, smallPath)
		for i := range 5 {
			p := payloadFor(opBinary, smallLimit)
			p[0] = byte(i)
			c.send(fr{op: opBinary, payload: p})
			c.expectMessage(opBinary, p)
		}
	})
}

// ---- RFC 7692: permessage-deflate ----------------------------------------

func TestConformancePerMessageDeflate(t *testing.T) {
	addr := startEcho(t, nil)
	text := []byte(strings.Repeat("WebSocket permessage-deflate conformance. ", 50))

	openPMD := func(t *testing.T, path string) *rawClient {
		t.Helper()
		c := openWS(t, addr, path, offerPMD)
		if !c.deflate {
			t.Fatalf("permessage-deflate offered (%q) but not negotiated", offerPMD)
		}
		return c
	}

	t.Run("offer with client_max_window_bits is accepted", func(t *testing.T) {
		c := dialRaw(t, addr)
		c.write(c.request(echoPath, offerPMD))
		r := c.expectUpgrade()
		if !c.deflate {
			t.Fatalf("101 response: Sec-WebSocket-Extensions: %q, want permessage-deflate", r.header.Values("Sec-WebSocket-Extensions"))
		}
	})

	t.Run("bare offer is accepted", func(t *testing.T) {
		c := openWS(t, addr, echoPath, "Sec-WebSocket-Extensions: permessage-deflate")
		if !c.deflate {
			t.Fatal("permessage-deflate offered but not negotiated")
		}
	})

	for _, op := range []byte{opText, opBinary} {
		t.Run(fmt.Sprintf("compressed %s echoes", opName(op)), func(t *testing.T) {
			t.Parallel()
			c := openPMD(t, echoPath)
			c.send(fr{op: op, payload: compressOnce(t, text), rsv: rsv1})
			c.expectMessage(op, text)
		})
	}

	t.Run("short compressed message echoes", func(t *testing.T) {
		t.Parallel()
		c := openPMD(t, echoPath)
		c.send(fr{op: opText, payload: compressOnce(t, []byte("Hi")), rsv: rsv1})
		c.expectMessage(opText, []byte("Hi"))
	})

	t.Run("uncompressed message on a deflate connection echoes", func(t *testing.T) {
		t.Parallel()
		c := openPMD(t, echoPath)
		c.send(fr{op: opText, payload: text})
		c.expectMessage(opText, text)
	})

	t.Run("compressed message in 3 fragments echoes", func(t *testing.T) {
		t.Parallel()
		c := openPMD(t, echoPath)
		z := compressOnce(t, text)
		if len(z) < 3 {
			t.Fatalf("test bug: %d compressed bytes", len(z))
		}
		c.send(
			fr{op: opText, payload: z[:1], rsv: rsv1, more: true},
			fr{op: opPing, payload: []byte("between")},
			fr{op: opCont, payload: z[1 : len(z)/2], more: true},
			fr{op: opCont, payload: z[len(z)/2:]},
		)
		c.expectPong([]byte("between"))
		c.expectMessage(opText, text)
	})

	t.Run("second message uses the first as LZ77 context", func(t *testing.T) {
		t.Parallel()
		c := openPMD(t, echoPath)
		if c.clientNoContextTakeover {
			t.Fatal("server imposed client_no_context_takeover, which the client did not ask for; this case needs context takeover")
		}
		// Random letters compress poorly alone, so the second copy is small
		// only if it refers back into the first message.
		r := rand.New(rand.NewPCG(1, 2))
		msg := make([]byte, 3000)
		for i := range msg {
			msg[i] = 'a' + byte(r.IntN(26))
		}
		d := newDeflater(t)
		z1 := d.compress(t, msg)
		z2 := d.compress(t, msg)
		alone := compressOnce(t, msg)
		if len(z2)*10 > len(alone) {
			t.Fatalf("test bug: second message is %d bytes with context, %d without: it does not rely on the context", len(z2), len(alone))
		}
		c.send(fr{op: opText, payload: z1, rsv: rsv1})
		c.expectMessage(opText, msg)
		c.send(fr{op: opText, payload: z2, rsv: rsv1})
		c.expectMessage(opText, msg)
		// A third, of the other type, mixing old context and new text.
		third := append(append([]byte{}, msg[1000:2000]...), "tail"...)
		c.send(fr{op: opBinary, payload: d.compress(t, third), rsv: rsv1})
		c.expectMessage(opBinary, third)
	})

	for _, tc := range []struct {
		name    string
		payload []byte
	}{
		{"reserved block type", []byte{0xff, 0xff, 0xff}},
		{"stored block with bad LEN/NLEN", []byte{0x00, 0x05, 0x00, 0x00, 0x00, 'h', 'e', 'l', 'l', 'o'}},
	} {
		t.Run("does not inflate ("+tc.name+"): 1007", func(t *testing.T) {
			t.Parallel()
			c := openPMD(t, echoPath)
			c.send(fr{op: opBinary, payload: tc.payload, rsv: rsv1})
			c.expectClose(1007)
		})
	}

	t.Run("compressed text that inflates to invalid UTF-8: 1007", func(t *testing.T) {
		t.Parallel()
		c := openPMD(t, echoPath)
		c.send(fr{op: opText, payload: compressOnce(t, []byte("valid prefix \xed\xa0\x80 then junk")), rsv: rsv1})
		c.expectClose(1007)
	})

	t.Run("compressed message inflating to the limit echoes", func(t *testing.T) {
		t.Parallel()
		c := openPMD(t, smallPath)
		p := textPayload(smallLimit)
		c.send(fr{op: opText, payload: compressOnce(t, p), rsv: rsv1})
		c.expectMessage(opText, p)
	})

	t.Run("compressed message inflating to the limit plus one: 1009", func(t *testing.T) {
		t.Parallel()
		c := openPMD(t, smallPath)
		c.send(fr{op: opText, payload: compressOnce(t, textPayload(smallLimit+1)), rsv: rsv1})
		c.expectClose(1009)
	})

	t.Run("zip bomb: 1009", func(t *testing.T) {
		t.Parallel()
		c := openPMD(t, smallPath)
		z := compressOnce(t, make([]byte, 256<<10))
		if len(z) > smallLimit {
			t.Fatalf("test bug: the bomb is %d bytes compressed", len(z))
		}
		c.send(fr{op: opBinary, payload: z, rsv: rsv1})
		c.expectClose(1009)
	})

	t.Run("RSV1 on a continuation frame: 1002", func(t *testing.T) {
		t.Parallel()
		c := openPMD(t, echoPath)
		z := compressOnce(t, text)
		c.send(
			fr{op: opText, payload: z[:10], rsv: rsv1, more: true},
			fr{op: opCont, payload: z[10:], rsv: rsv1},
		)
		c.expectClose(1002)
	})

	t.Run("RSV1 on a continuation of an uncompressed message: 1002", func(t *testing.T) {
		t.Parallel()
		c := openPMD(t, echoPath)
		c.send(
			fr{op: opText, payload: []byte("plain"), more: true},
			fr{op: opCont, payload: compressOnce(t, []byte("x")), rsv: rsv1},
		)
		c.expectClose(1002)
	})

	t.Run("RSV1 on a ping: 1002", func(t *testing.T) {
		t.Parallel()
		c := openPMD(t, echoPath)
		c.send(fr{op: opPing, payload: compressOnce(t, []byte("ping")), rsv: rsv1})
		c.expectClose(1002)
	})
}
