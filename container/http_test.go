package container

import (
	"bufio"
	"context"
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

// httpServer runs a context /t with an HTTP handler and the echo endpoint.
func httpServer(tb testing.TB) string {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s from %s", r.URL.Query().Get("name"), r.URL.Path)
	})
	mux.HandleFunc("POST /postecho", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = io.Copy(w, r.Body)
	})
	mux.HandleFunc("GET /big", func(w http.ResponseWriter, r *http.Request) {
		chunk := strings.Repeat("0123456789abcdef", 4096) // 64 KiB
		for i := 0; i < 16; i++ {
			_, _ = io.WriteString(w, chunk)
		}
	})
	mux.HandleFunc("GET /panic", func(http.ResponseWriter, *http.Request) { panic("handler bug") })
	mux.HandleFunc("GET /nocontent", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	st := echoSettings()
	st.MaxRequestBodyBytes = 1000
	c := New(Config{Addr: "127.0.0.1:0", HandshakeTimeout: 2 * time.Second})
	if err := c.Deploy(WebContext{Path: "/t", Settings: st, Endpoints: []*endpoint.ServerConfig{echo.Config()}, Handler: mux}); err != nil {
		tb.Fatal(err)
	}
	if err := c.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.Shutdown(ctx)
	})
	return c.Addr().String()
}

func TestHTTP(t *testing.T) {
	addr := httpServer(t)
	client := &http.Client{Timeout: 5 * time.Second}
	cases := []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"GET", "/t/hello?name=wsc", "", 200, "hello wsc from /hello"},
		{"POST", "/t/postecho", "payload", 200, "payload"},
		{"POST", "/t/postecho", strings.Repeat("x", 1001), 413, ""},
		{"GET", "/t/missing", "", 404, ""},
		{"GET", "/nowhere", "", 404, ""},
		{"GET", "/t/echo", "", 426, ""}, // a WebSocket endpoint, not a page
		{"GET", "/t/panic", "", 500, "internal server error\n"},
		{"GET", "/t/nocontent", "", 204, ""},
		{"HEAD", "/t/hello", "", 200, ""},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest(tc.method, "http://"+addr+tc.path, strings.NewReader(tc.body))
		if tc.body == "" {
			req.Body = nil
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || (tc.want != "" && string(b) != tc.want) {
			t.Errorf("%s %s: %d %q, want %d %q", tc.method, tc.path, resp.StatusCode, b, tc.status, tc.want)
		}
	}
	// 1 MiB streamed with chunked encoding.
	resp, err := client.Get("http://" + addr + "/t/big")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if len(b) != 1<<20 || len(resp.TransferEncoding) == 0 {
		t.Fatalf("big: %d bytes, transfer encoding %v", len(b), resp.TransferEncoding)
	}
}

// TestHTTPKeepAliveThenUpgrade: pipelined requests on one connection are
// answered in order, and the connection can then upgrade.
func TestHTTPKeepAliveThenUpgrade(t *testing.T) {
	addr := httpServer(t)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.WriteString(conn, "GET /t/hello?name=a HTTP/1.1\r\nHost: x\r\n\r\n"+
		"POST /t/postecho HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"+
		"GET /t/hello?name=b HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(conn)
	for _, want := range []string{"hello a from /hello", "abc", "hello b from /hello"} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != want || resp.Close {
			t.Fatalf("got %q (close %v), want %q", b, resp.Close, want)
		}
	}
	_, _ = io.WriteString(conn, "GET /t/echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	rw := struct {
		io.Reader
		io.Writer
	}{br, conn}
	_ = wsutil.WriteClientText(rw, []byte("after http"))
	if got, err := wsutil.ReadServerText(rw); err != nil || string(got) != "after http" {
		t.Fatalf("echo after upgrade: %q %v", got, err)
	}
	_ = ws.WriteFrame(conn, ws.MaskFrame(ws.NewCloseFrame(nil)))
}

// TestHTTPConnectionClose: "Connection: close" and HTTP/1.0 end the
// connection after the response.
func TestHTTPConnectionClose(t *testing.T) {
	addr := httpServer(t)
	for _, req := range []string{
		"GET /t/hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		"GET /t/hello HTTP/1.0\r\n\r\n",
	} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.WriteString(conn, req)
		all, err := io.ReadAll(conn)
		conn.Close()
		if err != nil || !strings.Contains(string(all), "200 OK") || !strings.HasSuffix(string(all), "hello  from /hello") {
			t.Fatalf("%q: %q %v", req, all, err)
		}
	}
}
