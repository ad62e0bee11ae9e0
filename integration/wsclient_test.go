package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// ioTimeout bounds each read or write of the Go client.
const ioTimeout = 30 * time.Second

// wsConn is a client WebSocket connection made with gobwas/ws. It works at
// the frame level, so that tests can send what well-behaved clients do not
// and see exactly what the server sends back.
type wsConn struct {
	net.Conn
	r io.Reader // the handshake's leftover bytes, then the connection
}

// dial opens a WebSocket connection to url (no extensions offered). The
// connection is closed when the test ends.
func dial(tb testing.TB, url string) *wsConn {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, br, _, err := ws.Dial(ctx, url)
	if err != nil {
		tb.Fatalf("dial %s: %v", url, err)
	}
	tb.Cleanup(func() { _ = conn.Close() })
	c := &wsConn{Conn: conn, r: conn}
	if br != nil {
		c.r = io.MultiReader(br, conn)
	}
	return c
}

// encodeFrame returns a masked client frame: header and payload in one
// buffer.
func encodeFrame(op ws.OpCode, fin bool, payload []byte) []byte {
	h := ws.Header{Fin: fin, OpCode: op, Length: int64(len(payload)), Masked: true, Mask: ws.NewMask()}
	b := bytes.NewBuffer(make([]byte, 0, ws.HeaderSize(h)+len(payload)))
	_ = ws.WriteHeader(b, h) // a bytes.Buffer does not fail
	start := b.Len()
	b.Write(payload)
	ws.Cipher(b.Bytes()[start:], h.Mask, 0)
	return b.Bytes()
}

// writeFrame sends one masked frame with a single write, so that the server
// normally receives it in one read. (gobwas' ws.WriteFrame writes the
// header and the payload separately.)
func (c *wsConn) writeFrame(op ws.OpCode, fin bool, payload []byte) error {
	_ = c.SetWriteDeadline(time.Now().Add(ioTimeout))
	_, err := c.Write(encodeFrame(op, fin, payload))
	return err
}

// writeMessage sends a whole message as one frame.
func (c *wsConn) writeMessage(op ws.OpCode, payload []byte) error {
	return c.writeFrame(op, true, payload)
}

// frame is a frame the server sent.
type frame struct {
	ws.Header
	Payload []byte
}

// readFrame reads the next frame within ioTimeout.
func (c *wsConn) readFrame() (frame, error) { return c.readFrameWithin(ioTimeout) }

// readFrameWithin reads the next frame within d.
func (c *wsConn) readFrameWithin(d time.Duration) (frame, error) {
	_ = c.SetReadDeadline(time.Now().Add(d))
	h, err := ws.ReadHeader(c.r)
	if err != nil {
		return frame{}, err
	}
	if h.Masked {
		return frame{}, errors.New("server frame is masked")
	}
	p := make([]byte, h.Length)
	if _, err := io.ReadFull(c.r, p); err != nil {
		return frame{}, fmt.Errorf("%v frame of %d bytes: %w", h.OpCode, h.Length, err)
	}
	return frame{Header: h, Payload: p}, nil
}

// closedError is a close frame received while a data message was expected.
type closedError struct {
	code   ws.StatusCode
	reason string
}

func (e *closedError) Error() string {
	return fmt.Sprintf("server closed with %d %q", e.code, e.reason)
}

// readMessage reads the next data message, of one or more frames, skipping
// pongs and answering pings. A close frame ends it with a *closedError.
func (c *wsConn) readMessage() (ws.OpCode, []byte, error) {
	var op ws.OpCode
	var msg []byte
	for {
		f, err := c.readFrame()
		if err != nil {
			return 0, nil, err
		}
		switch f.OpCode {
		case ws.OpPing:
			if err := c.writeFrame(ws.OpPong, true, f.Payload); err != nil {
				return 0, nil, err
			}
			continue
		case ws.OpPong:
			continue
		case ws.OpClose:
			code, reason := ws.ParseCloseFrameData(f.Payload)
			return 0, nil, &closedError{code, reason}
		case ws.OpContinuation:
			if op == 0 {
				return 0, nil, errors.New("continuation frame without a message")
			}
		default:
			if op != 0 {
				return 0, nil, fmt.Errorf("%v frame inside a fragmented message", f.OpCode)
			}
			op = f.OpCode
		}
		msg = append(msg, f.Payload...)
		if f.Fin {
			return op, msg, nil
		}
	}
}

// readClose reads frames until a close frame and returns its code and
// reason. Data frames before it are skipped; failing to get a close frame
// fails the test.
func (c *wsConn) readClose(tb testing.TB) (ws.StatusCode, string) {
	tb.Helper()
	for {
		f, err := c.readFrame()
		if err != nil {
			tb.Fatalf("reading until a close frame: %v", err)
		}
		if f.OpCode == ws.OpClose {
			if len(f.Payload) < 2 {
				tb.Fatalf("close frame without a status code: % x", f.Payload)
			}
			return ws.ParseCloseFrameData(f.Payload)
		}
		tb.Logf("skipping %v frame of %d bytes before the close frame", f.OpCode, len(f.Payload))
	}
}

// expectEOF checks that the server closes the TCP connection: the next read
// ends with EOF (or a reset) rather than more bytes or a timeout.
func (c *wsConn) expectEOF(tb testing.TB) {
	tb.Helper()
	_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
	var b [1]byte
	n, err := c.r.Read(b[:])
	switch {
	case n > 0:
		tb.Errorf("unexpected byte %#x after the close frame", b[0])
	case errors.Is(err, io.EOF), isReset(err):
	default:
		tb.Errorf("server did not close the connection after the close frame: %v", err)
	}
}

// isReset reports whether err is a connection reset or broken pipe.
func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
