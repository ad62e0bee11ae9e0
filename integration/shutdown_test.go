package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// serverCloseTimeout is how long the server waits for a close reply
// (container.DefaultConfig().CloseTimeout).
const serverCloseTimeout = 5 * time.Second

// echoOnce checks that c's session is open: a text message comes back.
func echoOnce(tb testing.TB, c *wsConn, text string) {
	tb.Helper()
	if err := c.writeMessage(ws.OpText, []byte(text)); err != nil {
		tb.Fatalf("write: %v", err)
	}
	op, p, err := c.readMessage()
	if err != nil || op != ws.OpText || string(p) != text {
		tb.Fatalf("echo of %q: got %v %q, err %v", text, op, p, err)
	}
}

// TestShutdownClosesWith1001 sends SIGTERM to a server with connected
// clients that answer the close: each receives close code 1001, the server
// closes TCP after the reply, and the process exits 0 without waiting for
// its close timeout.
func TestShutdownClosesWith1001(t *testing.T) {
	srv := startServer(t)
	var clients []*wsConn
	for i := 0; i < 3; i++ {
		c := dial(t, srv.URL)
		echoOnce(t, c, fmt.Sprintf("client %d before shutdown", i))
		clients = append(clients, c)
	}

	start := time.Now()
	srv.Terminate(t)
	for i, c := range clients {
		code, reason := c.readClose(t)
		if code != ws.StatusGoingAway {
			t.Errorf("client %d: close code %d (%q), want %d", i, code, reason, ws.StatusGoingAway)
		}
		if reason != "server shutting down" {
			t.Errorf("client %d: close reason %q, want %q", i, reason, "server shutting down")
		}
		// Answer with the same code (RFC 6455 §5.5.1); the server then
		// closes the TCP connection.
		if err := c.writeFrame(ws.OpClose, true, ws.NewCloseFrameBody(code, "")); err != nil {
			t.Errorf("client %d: close reply: %v", i, err)
		}
		c.expectEOF(t)
	}
	srv.Stop(t)
	if d := time.Since(start); d >= serverCloseTimeout {
		t.Errorf("wsc took %v to exit after SIGTERM although every client answered the close: it should not wait for the %v close timeout",
			d.Round(time.Millisecond), serverCloseTimeout)
	} else {
		t.Logf("wsc exited %v after SIGTERM", d.Round(time.Millisecond))
	}
}

// TestShutdownUnansweredClose sends SIGTERM to a server whose client never
// answers the close frame: the server gives up after its close timeout and
// still exits 0, and the client finds a 1001 close frame then EOF.
func TestShutdownUnansweredClose(t *testing.T) {
	srv := startServer(t)
	c := dial(t, srv.URL)
	echoOnce(t, c, "before shutdown")

	srv.Terminate(t)
	srv.Stop(t)
	code, reason := c.readClose(t)
	if code != ws.StatusGoingAway {
		t.Errorf("close code %d (%q), want %d", code, reason, ws.StatusGoingAway)
	}
	c.expectEOF(t)
}
