package container

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsc-dev/wsc/endpoint"
	"github.com/wsc-dev/wsc/samples/echo"
)

type user string

func (u user) Name() string { return string(u) }

// tokenAuth accepts "Authorization: Bearer good" only. A handshake with
// "X-Hold: yes" blocks in ModifyHandshake until release is closed (as a
// slow identity provider would), after saying so on entered.
type tokenAuth struct {
	instance endpoint.Endpoint
	entered  chan struct{}
	release  chan struct{}
}

func (a *tokenAuth) ModifyHandshake(req *endpoint.HandshakeRequest, resp *endpoint.HandshakeResponse) error {
	if req.Request.Header.Get("X-Hold") == "yes" {
		close(a.entered)
		<-a.release
	}
	if req.Request.Header.Get("Authorization") != "Bearer good" {
		return &endpoint.HandshakeError{Status: http.StatusUnauthorized, Reason: "token required",
			Header: http.Header{"Www-Authenticate": {`Bearer realm="wsc"`}}}
	}
	req.Principal = user("kim")
	req.UserProperties.Set("room", req.PathParameters["room"])
	resp.Header.Set("X-Auth", "ok")
	return nil
}
func (a *tokenAuth) CheckOrigin(origin string) bool { return origin != "https://evil.example" }
func (a *tokenAuth) NegotiateSubprotocol(supported, requested []string) string {
	return "v" + fmt.Sprint(len(requested)) // not in the list: the negotiator decides
}
func (a *tokenAuth) EndpointInstance(*endpoint.HandshakeRequest) (endpoint.Endpoint, error) {
	return a.instance, nil
}

func TestConfigurator(t *testing.T) {
	seen := make(chan string, 8)
	singleton := openFunc(func(s endpoint.Session) {
		seen <- fmt.Sprintf("%v %s %s", s.UserPrincipal(), s.UserProperties().String("room"), s.NegotiatedSubprotocol())
		s.SetRawTextHandler(func(b []byte) { _ = s.Basic().SendTextBytes(b) })
	})
	auth := &tokenAuth{instance: singleton, entered: make(chan struct{}), release: make(chan struct{})}
	_, addr := startServer(t, echoSettings(),
		&endpoint.ServerConfig{Path: "/secure/{room}", New: func() endpoint.Endpoint { panic("InstanceProvider not used") },
			Configurator: auth},
		echo.Config())

	handshake := func(header string) (*http.Response, net.Conn, *bufio.Reader) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.WriteString(conn, "GET /t/secure/lobby HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"+
			"Sec-WebSocket-Protocol: a, b\r\n"+header+"\r\n")
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		return resp, conn, br
	}

	// While a Configurator blocks, the event loops keep serving: another
	// connection's echo completes before the Configurator is released.
	refused := make(chan *http.Response, 1)
	go func() {
		resp, _, _ := handshake("X-Hold: yes\r\n")
		refused <- resp
	}()
	<-auth.entered
	echoConn := dial(t, addr, "/t/echo")
	_ = wsutil.WriteClientText(echoConn, []byte("x"))
	if _, err := wsutil.ReadServerText(echoConn); err != nil {
		t.Fatalf("echo while a Configurator blocks: %v", err)
	}
	close(auth.release)
	resp := <-refused
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != `Bearer realm="wsc"` {
		t.Fatalf("no token: %s %v", resp.Status, resp.Header)
	}
	resp, _, _ = handshake("Authorization: Bearer good\r\nOrigin: https://evil.example\r\n")
	if resp.StatusCode != 403 {
		t.Fatalf("origin refused by the checker: %s", resp.Status)
	}

	// A frame pipelined right behind the handshake waits for the decision.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	req := "GET /t/secure/lobby HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Protocol: a, b\r\nAuthorization: Bearer good\r\n\r\n"
	_, _ = conn.Write(append([]byte(req), maskedFrame(ws.OpText, []byte("early"))...))
	br := bufio.NewReader(conn)
	resp, err = http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 || resp.Header.Get("X-Auth") != "ok" || resp.Header.Get("Sec-WebSocket-Protocol") != "v2" {
		t.Fatalf("authorized handshake: %v %v %v", resp.Status, resp.Header, err)
	}
	if got := <-seen; got != "kim lobby v2" {
		t.Fatalf("endpoint saw %q", got)
	}
	rw := struct {
		io.Reader
		io.Writer
	}{br, conn}
	if got, err := wsutil.ReadServerText(rw); err != nil || string(got) != "early" {
		t.Fatalf("early frame: %q %v", got, err)
	}
	if !strings.Contains(resp.Header.Get("Sec-WebSocket-Accept"), "=") {
		t.Fatal("no accept key")
	}
}

// noDeflate refuses every extension.
type noDeflate struct{}

func (noDeflate) ModifyHandshake(*endpoint.HandshakeRequest, *endpoint.HandshakeResponse) error {
	return nil
}
func (noDeflate) NegotiateExtensions(installed, requested []string) []string {
	if len(installed) != 1 || installed[0] != "permessage-deflate" || len(requested) == 0 || requested[0] != "permessage-deflate" {
		panic(fmt.Sprint("unexpected lists ", installed, requested))
	}
	return nil
}

// TestExtensionNegotiator: a Configurator can turn permessage-deflate off
// for its endpoint although the context installs it.
func TestExtensionNegotiator(t *testing.T) {
	st := echoSettings()
	st.PerMessageDeflate = true
	_, addr := startServer(t, st,
		&endpoint.ServerConfig{Path: "/plain", New: echo.Config().New, Configurator: noDeflate{}},
		echo.Config())
	for path, want := range map[string]bool{"/t/plain": false, "/t/echo": true} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.WriteString(conn, "GET "+path+" HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"+
			"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		conn.Close()
		if err != nil || resp.StatusCode != 101 {
			t.Fatalf("%s: %v %v", path, resp, err)
		}
		if got := strings.Contains(resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate"); got != want {
			t.Errorf("%s: deflate negotiated %v, want %v", path, got, want)
		}
	}
}
