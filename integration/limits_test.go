package integration

import (
	"bytes"
	"crypto/rand"
	"testing"

	"github.com/gobwas/ws"
)

// maxMessage is the echo endpoint's message limit (echo.MaxMessageBytes).
const maxMessage = 16 << 20

// fragment is one frame of a message sent by a test.
type fragment struct {
	op      ws.OpCode
	fin     bool
	payload []byte
}

// split cuts a message into frames of the given sizes (the last one takes
// the rest).
func split(op ws.OpCode, msg []byte, sizes ...int) []fragment {
	var out []fragment
	for _, n := range sizes {
		out = append(out, fragment{op: op, payload: msg[:n]})
		msg = msg[n:]
		op = ws.OpContinuation
	}
	return append(out, fragment{op: op, fin: true, payload: msg})
}

func randomBytes(tb testing.TB, n int) []byte {
	tb.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return b
}

// asciiText returns n bytes of printable ASCII, random.
func asciiText(tb testing.TB, n int) []byte {
	b := randomBytes(tb, n)
	for i := range b {
		b[i] = ' ' + b[i]%95
	}
	return b
}

// TestMessageTooBig sends messages one byte over the 16 MiB limit, whole or
// fragmented: the server answers with close code 1009 and closes the TCP
// connection, and keeps serving other clients.
func TestMessageTooBig(t *testing.T) {
	srv := startServer(t)
	over := asciiText(t, maxMessage+1)
	cases := []struct {
		name   string
		frames []fragment
	}{
		{"binary", split(ws.OpBinary, over)},
		{"text", split(ws.OpText, over)},
		{"fragmented binary", split(ws.OpBinary, over, 8<<20)},
		{"fragmented text", split(ws.OpText, over, 1<<20, 8<<20)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, srv.URL)
			// The server may close while the frames are still being
			// written: write concurrently and ignore the write error.
			written := make(chan error, 1)
			go func() {
				for _, f := range tc.frames {
					if err := c.writeFrame(f.op, f.fin, f.payload); err != nil {
						written <- err
						return
					}
				}
				written <- nil
			}()
			code, reason := c.readClose(t)
			if code != ws.StatusMessageTooBig {
				t.Errorf("close code %d (%q), want %d", code, reason, ws.StatusMessageTooBig)
			}
			t.Logf("close %d %q", code, reason)
			c.expectEOF(t)
			if err := <-written; err != nil {
				t.Logf("write ended with %v", err)
			}
		})
	}

	// The server is still up and echoing.
	c := dial(t, srv.URL)
	if err := c.writeMessage(ws.OpText, []byte("still there?")); err != nil {
		t.Fatal(err)
	}
	if op, p, err := c.readMessage(); err != nil || op != ws.OpText || string(p) != "still there?" {
		t.Fatalf("echo after the 1009 closes: %v %q %v", op, p, err)
	}
}

// TestMessageAtLimit sends messages of exactly 16 MiB, whole and
// fragmented: they are echoed whole.
func TestMessageAtLimit(t *testing.T) {
	srv := startServer(t)
	c := dial(t, srv.URL)
	cases := []struct {
		name   string
		op     ws.OpCode
		frames []fragment
	}{
		{"binary", ws.OpBinary, split(ws.OpBinary, randomBytes(t, maxMessage))},
		{"fragmented text", ws.OpText, split(ws.OpText, asciiText(t, maxMessage), 4<<20, 4<<20, 4<<20)},
	}
	for _, tc := range cases {
		var want []byte
		for _, f := range tc.frames {
			want = append(want, f.payload...)
			if err := c.writeFrame(f.op, f.fin, f.payload); err != nil {
				t.Fatalf("%s: write: %v", tc.name, err)
			}
		}
		op, got, err := c.readMessage()
		switch {
		case err != nil:
			t.Fatalf("%s: read the echo: %v", tc.name, err)
		case op != tc.op:
			t.Errorf("%s: echo is %v, want %v", tc.name, op, tc.op)
		case !bytes.Equal(got, want):
			t.Errorf("%s: echo of %d bytes differs from the %d bytes sent", tc.name, len(got), len(want))
		}
	}
}
