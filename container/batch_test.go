package container

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsc-dev/wsc/endpoint"
)

// TestBatching: batched messages stay in the batch until BatchingBufferBytes
// are gathered, FlushBatch is called or the session closes; order holds.
func TestBatching(t *testing.T) {
	st := echoSettings()
	st.BatchingBufferBytes = 1000
	_, addr := startServer(t, st, &endpoint.ServerConfig{Path: "/batch", New: func() endpoint.Endpoint {
		return openFunc(func(s endpoint.Session) {
			s.SetTextHandler(func(cmd string) {
				switch cmd {
				case "small": // 5 × 100 bytes: below the buffer size
					_ = s.Basic().SetBatchingAllowed(true)
					for i := 0; i < 5; i++ {
						_ = s.Basic().SendText(fmt.Sprintf("%03d%097d", i, 0))
					}
				case "fill": // 6 more: at the 10th (10 × 102 bytes) the batch passes 1000 bytes and goes out; the 11th stays
					for i := 5; i < 11; i++ {
						s.Async().SendText(fmt.Sprintf("%03d%097d", i, 0), nil)
					}
				case "flush":
					_ = s.Basic().SendText("011")
					_ = s.Basic().FlushBatch()
				case "close":
					_ = s.Basic().SendText("012")
					_ = s.Close(endpoint.CloseReason{Code: endpoint.CloseNormalClosure})
				}
			})
		})
	}})
	conn := dial(t, addr, "/t/batch")
	expectNothing := func(what string) {
		_ = conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if _, _, err := wsutil.ReadServerData(conn); err == nil {
			t.Fatalf("%s: a message arrived before the batch was flushed", what)
		} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
			t.Fatalf("%s: %v", what, err)
		}
	}
	expect := func(from, to int) {
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		for i := from; i < to; i++ {
			got, _, err := wsutil.ReadServerData(conn)
			if err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
			if want := fmt.Sprintf("%03d", i); string(got[:3]) != want {
				t.Fatalf("got message %s, want %s", got[:3], want)
			}
		}
	}
	_ = wsutil.WriteClientText(conn, []byte("small"))
	expectNothing("500 bytes batched")
	_ = wsutil.WriteClientText(conn, []byte("fill"))
	expect(0, 10)
	expectNothing("the 11th message batched")
	_ = wsutil.WriteClientText(conn, []byte("flush"))
	expect(10, 12)
	_ = wsutil.WriteClientText(conn, []byte("close"))
	expect(12, 13)
	if code := readClose(t, conn); code != ws.StatusNormalClosure {
		t.Fatalf("close %d", code)
	}
}
