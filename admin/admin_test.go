package admin_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsc-dev/wsc/admin"
	"github.com/wsc-dev/wsc/container"
	"github.com/wsc-dev/wsc/samples"
)

func TestMetricsAndHealth(t *testing.T) {
	c := container.New(container.Config{Addr: "127.0.0.1:0"})
	if err := c.Deploy(container.WebContext{Path: samples.ContextPath, Endpoints: samples.Endpoints([]byte("test-secret"))}); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(admin.Handler(c))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, _, err := ws.Dial(ctx, "ws://"+c.Addr().String()+"/samples/echo")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		_ = wsutil.WriteClientText(conn, []byte("hello"))
		if _, err := wsutil.ReadServerText(conn); err != nil {
			t.Fatal(err)
		}
	}
	// A rejected handshake counts too.
	if resp, err := http.Get("http://" + c.Addr().String() + "/samples/echo"); err == nil {
		resp.Body.Close()
	}
	wants := []string{
		`wsc_sessions_open{context="/samples"} 1`,
		`wsc_messages_received_total{context="/samples"} 3`,
		`wsc_messages_sent_total{context="/samples"} 3`,
		`wsc_message_bytes_received_total{context="/samples"} 15`,
		`wsc_handshakes_total{status="101"} 1`,
		`wsc_handshakes_total{status="426"} 1`,
		`wsc_connections_open 1`,
		`go_goroutines`,
	}
	// The rejected connection closes on its own schedule: scrape until
	// everything shows, for a while.
	var body string
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		body = get(t, srv.URL+"/metrics", 200)
		missing := 0
		for _, want := range wants {
			if !strings.Contains(body, want) {
				missing++
			}
		}
		if missing == 0 || time.Now().After(deadline) {
			break
		}
	}
	for _, want := range wants {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	get(t, srv.URL+"/healthz", 200)
	get(t, srv.URL+"/debug/pprof/", 200)

	_ = ws.WriteFrame(conn, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))))
	_, _ = io.Copy(io.Discard, conn)
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	if err := c.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	get(t, srv.URL+"/healthz", 503)
	if body := get(t, srv.URL+"/metrics", 200); !strings.Contains(body, `wsc_sessions_closed_total{code="1000",context="/samples"} 1`) {
		t.Errorf("close not counted:\n%s", grep(body, "wsc_sessions_closed"))
	}
}

func get(t *testing.T, url string, status int) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("GET %s: %d, want %d", url, resp.StatusCode, status)
	}
	return string(b)
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
