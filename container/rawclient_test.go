package container_test

// A deliberately tiny WebSocket client for the conformance tests: it writes
// the HTTP upgrade request and hand-built frames as raw bytes and parses the
// server's bytes itself, so that every byte on the wire is under the test's
// control. Every read runs under a deadline: a server that does not answer
// fails the test instead of hanging it.

import (
	"bufio"
	"bytes"
	"compress/flate"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"
)

// Opcodes (RFC 6455 §5.2).
const (
	opCont   byte = 0x0
	opText   byte = 0x1
	opBinary byte = 0x2
	opClose  byte = 0x8
	opPing   byte = 0x9
	opPong   byte = 0xA
)

// RSV bits, as the value of bits 6..4 of the first header byte.
const (
	rsv1 byte = 0x4
	rsv2 byte = 0x2
	rsv3 byte = 0x1
)

const (
	// ioTimeout bounds every read and write of the raw client.
	ioTimeout = 5 * time.Second
	// wsGUID is the magic string of RFC 6455 §1.3.
	wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
	// maxReadFrame guards the client against a bogus length.
	maxReadFrame = 32 << 20
)

// inflateTail is appended to a compressed message before inflating it: the
// 00 00 ff ff that RFC 7692 §7.2.2 has the sender strip, then an empty final
// stored block so that the reader ends with io.EOF.
var inflateTail = []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

var clientSeq atomic.Uint64

// rawClient is one TCP connection to the server under test.
type rawClient struct {
	tb   testing.TB
	conn net.Conn
	br   *bufio.Reader
	rng  *rand.Rand

	// The handshake the client sent.
	key     string
	offered bool // the request offered permessage-deflate

	// What the server's 101 negotiated (RFC 7692).
	deflate                 bool
	serverNoContextTakeover bool
	clientNoContextTakeover bool
	window                  []byte // the server's LZ77 context, when it keeps one

	partial *wsMessage // a fragmented server message in progress
}

// dialRaw connects to addr; the connection is closed when the test ends.
func dialRaw(tb testing.TB, addr string) *rawClient {
	tb.Helper()
	conn, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		tb.Fatalf("dial %s: %v", addr, err)
	}
	tb.Cleanup(func() { _ = conn.Close() })
	seed := clientSeq.Add(1)
	return &rawClient{
		tb:   tb,
		conn: conn,
		br:   bufio.NewReaderSize(conn, 64<<10),
		rng:  rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)),
	}
}

// openWS connects to addr and completes a WebSocket handshake for path,
// with extra request header lines ("Name: value").
func openWS(tb testing.TB, addr, path string, extra ...string) *rawClient {
	tb.Helper()
	c := dialRaw(tb, addr)
	c.write(c.request(path, extra...))
	c.expectUpgrade()
	return c
}

func (c *rawClient) close() { _ = c.conn.Close() }

// ---- Handshake ----------------------------------------------------------

// newKey returns a fresh Sec-WebSocket-Key: the base64 of 16 random bytes.
func (c *rawClient) newKey() string {
	var b [16]byte
	for i := range b {
		b[i] = byte(c.rng.Uint32())
	}
	return base64.StdEncoding.EncodeToString(b[:])
}

// acceptFor is the Sec-WebSocket-Accept a server must answer key with.
func acceptFor(key string) string {
	h := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// handshakeRequest formats an HTTP request from its parts.
func handshakeRequest(method, path string, headers ...string) string {
	var b strings.Builder
	b.WriteString(method + " " + path + " HTTP/1.1\r\n")
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

// upgradeHeaders are the header lines of a valid upgrade request.
func upgradeHeaders(host, key string) []string {
	return []string{
		"Host: " + host,
		"Upgrade: websocket",
		"Connection: Upgrade",
		"Sec-WebSocket-Key: " + key,
		"Sec-WebSocket-Version: 13",
	}
}

// request builds a valid upgrade request for path with a fresh key, which
// expectUpgrade later checks the accept value against.
func (c *rawClient) request(path string, extra ...string) []byte {
	c.key = c.newKey()
	c.offered = false
	for _, h := range extra {
		if strings.Contains(strings.ToLower(h), "permessage-deflate") {
			c.offered = true
		}
	}
	return []byte(handshakeRequest("GET", path, append(upgradeHeaders(c.conn.RemoteAddr().String(), c.key), extra...)...))
}

// httpResponse is a parsed HTTP response.
type httpResponse struct {
	proto  string
	status int
	header textproto.MIMEHeader
	body   []byte
}

// readResponse reads an HTTP response: status line, headers and, when it
// has a Content-Length, its body.
func (c *rawClient) readResponse() httpResponse {
	c.tb.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(ioTimeout))
	tp := textproto.NewReader(c.br)
	line, err := tp.ReadLine()
	if err != nil {
		c.tb.Fatalf("reading the HTTP status line: %v", err)
	}
	proto, rest, _ := strings.Cut(line, " ")
	code, _, _ := strings.Cut(rest, " ")
	status, err := strconv.Atoi(code)
	if err != nil || !strings.HasPrefix(proto, "HTTP/1.") {
		c.tb.Fatalf("malformed HTTP status line %q", line)
	}
	hdr, err := tp.ReadMIMEHeader()
	if err != nil {
		c.tb.Fatalf("reading the HTTP response headers after %q: %v", line, err)
	}
	r := httpResponse{proto: proto, status: status, header: hdr}
	if cl := hdr.Get("Content-Length"); cl != "" {
		n, err := strconv.Atoi(cl)
		if err != nil || n < 0 || n > 1<<20 {
			c.tb.Fatalf("bad Content-Length %q", cl)
		}
		r.body = make([]byte, n)
		if _, err := io.ReadFull(c.br, r.body); err != nil {
			c.tb.Fatalf("reading the %d-byte response body: %v", n, err)
		}
	}
	return r
}

// hasToken reports whether a comma-separated header value holds token.
func hasToken(values []string, token string) bool {
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// expectUpgrade reads the server's answer to c.request and checks that it
// is a valid 101 (RFC 6455 §4.2.2), recording the negotiated extension.
func (c *rawClient) expectUpgrade() httpResponse {
	c.tb.Helper()
	r := c.readResponse()
	if r.status != 101 {
		c.tb.Fatalf("handshake: got status %d (%q), want 101", r.status, r.body)
	}
	if got := r.header.Get("Upgrade"); !strings.EqualFold(got, "websocket") {
		c.tb.Errorf("101 response: Upgrade: %q, want websocket", got)
	}
	if !hasToken(r.header.Values("Connection"), "upgrade") {
		c.tb.Errorf("101 response: Connection: %q, want the upgrade token", r.header.Values("Connection"))
	}
	if got, want := r.header.Get("Sec-WebSocket-Accept"), acceptFor(c.key); got != want {
		c.tb.Errorf("101 response: Sec-WebSocket-Accept: %q, want %q", got, want)
	}
	c.parseExtensions(r.header.Values("Sec-WebSocket-Extensions"))
	return r
}

// parseExtensions applies the server's Sec-WebSocket-Extensions (RFC 7692
// §5, §7.1): only permessage-deflate, only if offered, only once, and only
// parameters the client can honour.
func (c *rawClient) parseExtensions(values []string) {
	c.tb.Helper()
	for _, v := range values {
		for _, ext := range strings.Split(v, ",") {
			parts := strings.Split(ext, ";")
			name := strings.TrimSpace(parts[0])
			if name == "" {
				continue
			}
			if name != "permessage-deflate" || !c.offered {
				c.tb.Fatalf("101 response accepts extension %q, which the client did not offer", name)
			}
			if c.deflate {
				c.tb.Fatalf("101 response accepts permessage-deflate twice: %q", values)
			}
			c.deflate = true
			for _, p := range parts[1:] {
				k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
				k, val = strings.TrimSpace(k), strings.Trim(strings.TrimSpace(val), `"`)
				switch k {
				case "server_no_context_takeover":
					c.serverNoContextTakeover = true
				case "client_no_context_takeover":
					c.clientNoContextTakeover = true
				case "server_max_window_bits":
					if n, err := strconv.Atoi(val); err != nil || n < 8 || n > 15 {
						c.tb.Errorf("101 response: bad server_max_window_bits=%q", val)
					}
				case "client_max_window_bits":
					// Go's compressor always uses a 2^15 window.
					if n, err := strconv.Atoi(val); err != nil || n != 15 {
						c.tb.Fatalf("101 response: client_max_window_bits=%q, which this client (window 2^15) cannot honour", val)
					}
				default:
					c.tb.Errorf("101 response: unknown permessage-deflate parameter %q (RFC 7692 §7.1)", p)
				}
			}
		}
	}
	if c.offered && c.deflate && c.clientNoContextTakeover {
		c.tb.Logf("server requires client_no_context_takeover")
	}
}

// ---- Writing ------------------------------------------------------------

// write writes b in one call under the write deadline.
func (c *rawClient) write(b []byte) {
	c.tb.Helper()
	_ = c.conn.SetWriteDeadline(time.Now().Add(ioTimeout))
	if _, err := c.conn.Write(b); err != nil {
		c.tb.Fatalf("write of %d bytes: %v", len(b), err)
	}
}

// writeSplit writes b in two calls, split at k, pausing in between so that
// the server is likely to see the first part alone.
func (c *rawClient) writeSplit(b []byte, k int, pause time.Duration) {
	c.tb.Helper()
	c.write(b[:k])
	time.Sleep(pause)
	c.write(b[k:])
}

// writeBytewise writes b one byte per write call, pausing after each byte
// when pause > 0.
func (c *rawClient) writeBytewise(b []byte, pause time.Duration) {
	c.tb.Helper()
	_ = c.conn.SetWriteDeadline(time.Now().Add(4 * ioTimeout))
	for i := range b {
		if _, err := c.conn.Write(b[i : i+1]); err != nil {
			c.tb.Fatalf("write of byte %d of %d: %v", i, len(b), err)
		}
		if pause > 0 {
			time.Sleep(pause)
		}
	}
}

// fr describes a client frame to encode. By default it is final and masked.
type fr struct {
	op       byte
	payload  []byte
	more     bool // FIN = 0
	rsv      byte // rsv1|rsv2|rsv3
	unmasked bool
}

// maskKey returns a non-zero masking key (a zero key would hide a server
// that forgets to unmask).
func (c *rawClient) maskKey() [4]byte {
	var k [4]byte
	for k == [4]byte{} {
		binary.LittleEndian.PutUint32(k[:], c.rng.Uint32())
	}
	return k
}

// encodeHeader encodes a frame header with the minimal length encoding.
func encodeHeader(fin bool, rsv, op byte, length uint64, mask *[4]byte) []byte {
	b0 := rsv<<4 | op&0x0f
	if fin {
		b0 |= 0x80
	}
	var b1 byte
	if mask != nil {
		b1 = 0x80
	}
	var h []byte
	switch {
	case length < 126:
		h = []byte{b0, b1 | byte(length)}
	case length <= 0xffff:
		h = []byte{b0, b1 | 126, byte(length >> 8), byte(length)}
	default:
		h = binary.BigEndian.AppendUint64([]byte{b0, b1 | 127}, length)
	}
	if mask != nil {
		h = append(h, mask[:]...)
	}
	return h
}

// encode returns the wire bytes of the frames, concatenated.
func (c *rawClient) encode(frames ...fr) []byte {
	var out []byte
	for _, f := range frames {
		var mask *[4]byte
		if !f.unmasked {
			k := c.maskKey()
			mask = &k
		}
		out = append(out, encodeHeader(!f.more, f.rsv, f.op, uint64(len(f.payload)), mask)...)
		start := len(out)
		out = append(out, f.payload...)
		if mask != nil {
			for i := range f.payload {
				out[start+i] ^= mask[i%4]
			}
		}
	}
	return out
}

// header returns only a masked frame header announcing length bytes.
func (c *rawClient) header(fin bool, rsv, op byte, length uint64) []byte {
	k := c.maskKey()
	return encodeHeader(fin, rsv, op, length, &k)
}

// send writes the frames in one write call.
func (c *rawClient) send(frames ...fr) {
	c.tb.Helper()
	c.write(c.encode(frames...))
}

// closeBody is a close frame payload: the code, then the reason.
func closeBody(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

// ---- Reading ------------------------------------------------------------

// wsFrame is a frame read from the server.
type wsFrame struct {
	fin      bool
	rsv      byte
	op       byte
	masked   bool
	lenField byte // the 7-bit length field: the length, or 126 or 127
	payload  []byte
}

// readFrame reads one server frame under the read deadline and checks the
// rules every server frame must follow (RFC 6455 §5.1–§5.5); a frame that
// breaks one is reported with Errorf and still returned.
func (c *rawClient) readFrame() (wsFrame, error) {
	c.tb.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(ioTimeout))
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		return wsFrame{}, err
	}
	f := wsFrame{
		fin:      h[0]&0x80 != 0,
		rsv:      h[0] >> 4 & 7,
		op:       h[0] & 0x0f,
		masked:   h[1]&0x80 != 0,
		lenField: h[1] & 0x7f,
	}
	length := uint64(f.lenField)
	switch f.lenField {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			return f, err
		}
		length = uint64(binary.BigEndian.Uint16(b[:]))
		if length < 126 {
			c.tb.Errorf("server frame: length %d in the 16-bit form; RFC 6455 §5.2 requires the minimal encoding", length)
		}
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			return f, err
		}
		length = binary.BigEndian.Uint64(b[:])
		if length>>63 != 0 {
			return f, fmt.Errorf("server frame: 64-bit length % x has its most significant bit set", b)
		}
		if length <= 0xffff {
			c.tb.Errorf("server frame: length %d in the 64-bit form; RFC 6455 §5.2 requires the minimal encoding", length)
		}
	}
	var mask [4]byte
	if f.masked {
		c.tb.Errorf("server frame is masked; RFC 6455 §5.1 forbids it")
		if _, err := io.ReadFull(c.br, mask[:]); err != nil {
			return f, err
		}
	}
	if length > maxReadFrame {
		return f, fmt.Errorf("server frame: length %d is beyond the test client's %d", length, maxReadFrame)
	}
	f.payload = make([]byte, length)
	if _, err := io.ReadFull(c.br, f.payload); err != nil {
		return f, fmt.Errorf("reading a %d-byte payload (opcode %#x): %w", length, f.op, err)
	}
	if f.masked {
		for i := range f.payload {
			f.payload[i] ^= mask[i%4]
		}
	}
	switch {
	case f.op >= 3 && f.op <= 7 || f.op >= 0xB:
		c.tb.Errorf("server frame uses reserved opcode %#x", f.op)
	case f.op >= 8 && !f.fin:
		c.tb.Errorf("server control frame (opcode %#x) is fragmented", f.op)
	case f.op >= 8 && length > 125:
		c.tb.Errorf("server control frame (opcode %#x) has %d bytes of payload, more than 125", f.op, length)
	}
	if f.rsv&(rsv2|rsv3) != 0 {
		c.tb.Errorf("server frame (opcode %#x) sets RSV2/RSV3 (%03b) although no extension defines them", f.op, f.rsv)
	}
	if f.rsv&rsv1 != 0 && (!c.deflate || f.op == opCont || f.op >= 8) {
		c.tb.Errorf("server frame (opcode %#x) sets RSV1 without a permessage-deflate message start (deflate negotiated: %v)", f.op, c.deflate)
	}
	return f, nil
}

// wsMessage is a whole server message, or a control frame.
type wsMessage struct {
	op         byte
	payload    []byte
	frames     int
	compressed bool
	lenFields  []byte
}

// readMessage returns the next control frame or whole data message,
// assembling fragments and inflating compressed messages.
func (c *rawClient) readMessage() (wsMessage, error) {
	c.tb.Helper()
	for {
		f, err := c.readFrame()
		if err != nil {
			return wsMessage{}, err
		}
		if f.op >= 8 {
			return wsMessage{op: f.op, payload: f.payload, frames: 1, lenFields: []byte{f.lenField}}, nil
		}
		if c.partial == nil {
			if f.op == opCont {
				c.tb.Errorf("server sent a continuation frame with no message to continue")
				continue
			}
			c.partial = &wsMessage{op: f.op, compressed: f.rsv&rsv1 != 0}
		} else if f.op != opCont {
			c.tb.Errorf("server started a message (opcode %#x) inside a fragmented one", f.op)
		}
		m := c.partial
		m.payload = append(m.payload, f.payload...)
		m.frames++
		m.lenFields = append(m.lenFields, f.lenField)
		if !f.fin {
			continue
		}
		c.partial = nil
		if m.compressed {
			out, err := c.inflate(m.payload)
			if err != nil {
				c.tb.Errorf("server's compressed message (%d bytes) does not inflate: %v", len(m.payload), err)
			}
			m.payload = out
		}
		if m.op == opText && !utf8.Valid(m.payload) {
			c.tb.Errorf("server sent a text message that is not valid UTF-8: %s", show(m.payload))
		}
		return *m, nil
	}
}

// inflate decompresses a server message (RFC 7692 §7.2.2), with the
// server's previous output as LZ77 context unless it declared
// server_no_context_takeover.
func (c *rawClient) inflate(p []byte) ([]byte, error) {
	var dict []byte
	if !c.serverNoContextTakeover {
		dict = c.window
	}
	r := flate.NewReaderDict(io.MultiReader(bytes.NewReader(p), bytes.NewReader(inflateTail)), dict)
	out, err := io.ReadAll(io.LimitReader(r, maxReadFrame))
	if err != nil {
		return nil, err
	}
	if !c.serverNoContextTakeover {
		c.window = append(c.window, out...)
		if n := len(c.window); n > 32<<10 {
			c.window = append([]byte(nil), c.window[n-32<<10:]...)
		}
	}
	return out, nil
}

// ---- Expectations -------------------------------------------------------

var opNames = map[byte]string{opCont: "continuation", opText: "text", opBinary: "binary", opClose: "close", opPing: "ping", opPong: "pong"}

func opName(op byte) string {
	if n, ok := opNames[op]; ok {
		return n
	}
	return fmt.Sprintf("opcode %#x", op)
}

// show formats a payload for a failure message.
func show(p []byte) string {
	if len(p) <= 48 {
		return fmt.Sprintf("%q", p)
	}
	return fmt.Sprintf("%d bytes %q…", len(p), p[:32])
}

// describeMessage formats what was received for a failure message.
func describeMessage(m wsMessage) string {
	if m.op == opClose {
		if len(m.payload) >= 2 {
			return fmt.Sprintf("close frame with code %d and reason %q", binary.BigEndian.Uint16(m.payload), m.payload[2:])
		}
		return fmt.Sprintf("close frame with payload %q", m.payload)
	}
	return fmt.Sprintf("%s message %s", opName(m.op), show(m.payload))
}

// diff describes how got differs from want.
func diff(got, want []byte) string {
	if len(got) != len(want) {
		return fmt.Sprintf("got %d bytes, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			return fmt.Sprintf("first difference at byte %d: got %#02x, want %#02x", i, got[i], want[i])
		}
	}
	return "equal"
}

// readErr explains a read error in a failure message.
func readErr(err error) string {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Sprintf("nothing within %v (%v)", ioTimeout, err)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the server closed TCP (EOF)"
	case errors.Is(err, syscall.ECONNRESET):
		return "the server reset TCP (RST)"
	}
	return err.Error()
}

// expectMessage reads the next message and checks its type and payload.
func (c *rawClient) expectMessage(op byte, want []byte) wsMessage {
	c.tb.Helper()
	m, err := c.readMessage()
	if err != nil {
		c.tb.Fatalf("waiting for the %s message %s: %s", opName(op), show(want), readErr(err))
	}
	if m.op != op || !bytes.Equal(m.payload, want) {
		c.tb.Fatalf("got %s, want %s message %s (%s)", describeMessage(m), opName(op), show(want), diff(m.payload, want))
	}
	return m
}

// expectPong reads the next frame and checks that it is a pong with payload.
func (c *rawClient) expectPong(want []byte) {
	c.tb.Helper()
	c.expectMessage(opPong, want)
}

// expectClose reads the next frame, checks that it is a close frame with
// code, and then that the server closes TCP.
func (c *rawClient) expectClose(code uint16) {
	c.tb.Helper()
	m, err := c.readMessage()
	if err != nil {
		c.tb.Fatalf("waiting for a close frame with code %d: %s", code, readErr(err))
	}
	if m.op != opClose {
		c.tb.Fatalf("got %s, want a close frame with code %d", describeMessage(m), code)
	}
	if len(m.payload) < 2 {
		c.tb.Fatalf("got a close frame with payload %q, want code %d", m.payload, code)
	}
	if got := binary.BigEndian.Uint16(m.payload); got != code {
		c.tb.Fatalf("got close code %d (reason %q), want %d", got, m.payload[2:], code)
	}
	if !utf8.Valid(m.payload[2:]) {
		c.tb.Errorf("server's close reason is not valid UTF-8: %q", m.payload[2:])
	}
	c.expectTCPClosed()
}

// expectEmptyClose reads the next frame, checks that it is a close frame
// with no payload or with code 1000, then that the server closes TCP.
func (c *rawClient) expectEmptyClose() {
	c.tb.Helper()
	m, err := c.readMessage()
	if err != nil {
		c.tb.Fatalf("waiting for a close frame: %s", readErr(err))
	}
	if m.op != opClose {
		c.tb.Fatalf("got %s, want a close frame", describeMessage(m))
	}
	if len(m.payload) != 0 && (len(m.payload) < 2 || binary.BigEndian.Uint16(m.payload) != 1000) {
		c.tb.Fatalf("got %s, want an empty close frame or code 1000", describeMessage(m))
	}
	c.expectTCPClosed()
}

// expectTCPClosed checks that the server closes the connection (EOF, or a
// reset) without sending anything more.
func (c *rawClient) expectTCPClosed() {
	c.tb.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(ioTimeout))
	var buf [256]byte
	n, err := c.br.Read(buf[:])
	if n > 0 {
		c.tb.Fatalf("expected the server to close TCP, but it sent %d more bytes: % x", n, buf[:n])
	}
	var ne net.Error
	switch {
	case isClosed(err):
	case errors.As(err, &ne) && ne.Timeout():
		c.tb.Fatalf("the server did not close TCP within %v", ioTimeout)
	default:
		c.tb.Fatalf("expected the server to close TCP, read failed with %v", err)
	}
}

// isClosed reports whether a read error means the peer closed TCP: EOF, or
// a reset (the server may close with unread bytes of ours in its buffer).
func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
}

// ---- permessage-deflate (client side) -----------------------------------

// deflater compresses client messages with one LZ77 context across
// messages (RFC 7692 §7.2.1).
type deflater struct {
	buf bytes.Buffer
	w   *flate.Writer
}

func newDeflater(tb testing.TB) *deflater {
	tb.Helper()
	d := &deflater{}
	w, err := flate.NewWriter(&d.buf, flate.BestCompression)
	if err != nil {
		tb.Fatal(err)
	}
	d.w = w
	return d
}

// compress returns the compressed payload of one message: the deflate
// output up to a sync flush, without its trailing 00 00 ff ff.
func (d *deflater) compress(tb testing.TB, p []byte) []byte {
	tb.Helper()
	d.buf.Reset()
	if _, err := d.w.Write(p); err != nil {
		tb.Fatal(err)
	}
	if err := d.w.Flush(); err != nil {
		tb.Fatal(err)
	}
	b := d.buf.Bytes()
	if !bytes.HasSuffix(b, []byte{0, 0, 0xff, 0xff}) {
		tb.Fatalf("flate sync flush does not end in 00 00 ff ff: % x", b)
	}
	return bytes.Clone(b[:len(b)-4])
}

// compressOnce compresses p as a message with a fresh context.
func compressOnce(tb testing.TB, p []byte) []byte {
	tb.Helper()
	return newDeflater(tb).compress(tb, p)
}
