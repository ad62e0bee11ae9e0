package integration

import (
	"bytes"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// TestFrameSplitAcrossReads sends a frame in two writes 100 ms apart, cut
// inside the header or between a control frame's header and its payload,
// so that the server's first read holds only the start of the frame. TCP
// may cut a stream anywhere, and gobwas' own ws.WriteFrame writes header
// and payload separately, so the server must reassemble the frame.
//
// This caught a server bug at e7e007d, fixed in cb86073: readFrames ended
// with c.Discard(off), and when nothing had been consumed off was 0, which
// gnet's Conn.Discard takes as "discard everything": the partial frame was
// thrown away and the stream went out of step (the close was never
// answered, the ping never ponged).
func TestFrameSplitAcrossReads(t *testing.T) {
	srv := startServer(t)
	const pause = 100 * time.Millisecond
	// send writes frame in two parts, cut at cut.
	send := func(t *testing.T, c *wsConn, frame []byte, cut int) {
		t.Helper()
		if _, err := c.Write(frame[:cut]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(pause)
		if _, err := c.Write(frame[cut:]); err != nil {
			t.Fatal(err)
		}
	}
	const hdr = 6 // 2 bytes, no extended length, 4 bytes of mask

	t.Run("ping payload in a later read", func(t *testing.T) {
		c := dial(t, srv.URL)
		send(t, c, encodeFrame(ws.OpPing, true, []byte("split")), hdr)
		f, err := c.readFrameWithin(5 * time.Second)
		if err != nil || f.OpCode != ws.OpPong || string(f.Payload) != "split" {
			t.Fatalf("want a pong \"split\", got %v %q, err %v", f.OpCode, f.Payload, err)
		}
	})
	t.Run("close payload in a later read", func(t *testing.T) {
		c := dial(t, srv.URL)
		send(t, c, encodeFrame(ws.OpClose, true, ws.NewCloseFrameBody(ws.StatusNormalClosure, "bye")), hdr)
		f, err := c.readFrameWithin(5 * time.Second)
		if err != nil || f.OpCode != ws.OpClose {
			t.Fatalf("want the close reply, got %v %q, err %v", f.OpCode, f.Payload, err)
		}
		if code, _ := ws.ParseCloseFrameData(f.Payload); code != ws.StatusNormalClosure {
			t.Errorf("close reply code %d, want 1000", code)
		}
	})
	t.Run("text header cut after one byte", func(t *testing.T) {
		c := dial(t, srv.URL)
		send(t, c, encodeFrame(ws.OpText, true, []byte("split header")), 1)
		f, err := c.readFrameWithin(5 * time.Second)
		if err != nil || f.OpCode != ws.OpText || !bytes.Equal(f.Payload, []byte("split header")) {
			t.Fatalf("want the echo \"split header\", got %v %q, err %v", f.OpCode, f.Payload, err)
		}
	})
}
