package container

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsc-dev/wsc/endpoint"
)

func TestHTTPSessions(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		h := endpoint.GetHTTPSession(r, true)
		h.Attributes().Set("user", r.URL.Query().Get("user"))
		_, _ = io.WriteString(w, h.ID())
	})
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		if h := endpoint.GetHTTPSession(r, false); h != nil {
			_, _ = io.WriteString(w, h.Attributes().String("user"))
			return
		}
		_, _ = io.WriteString(w, "nobody")
	})
	mux.HandleFunc("GET /logout", func(w http.ResponseWriter, r *http.Request) {
		if h := endpoint.GetHTTPSession(r, false); h != nil {
			h.Invalidate()
		}
	})
	seen := make(chan string, 4)
	st := echoSettings()
	st.SessionTimeout = 800 * time.Millisecond
	st.MonitoringPeriod = time.Second
	c := New(Config{Addr: "127.0.0.1:0", ServerName: "jeus7/server2"})
	err := c.Deploy(WebContext{Path: "/t", Settings: st, Handler: mux, Endpoints: []*endpoint.ServerConfig{{
		Path: "/ws",
		New: func() endpoint.Endpoint {
			return openFunc(func(s endpoint.Session) {
				who := "none"
				if h := s.HTTPSession(); h != nil {
					who = h.Attributes().String("user")
				}
				seen <- who
				s.SetRawTextHandler(func(b []byte) { _ = s.Basic().SendTextBytes(b) })
			})
		},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Shutdown(context.Background()) })
	base := "http://" + c.Addr().String() + "/t"

	get := func(path, cookie string) (*http.Response, string) {
		req, _ := http.NewRequest("GET", base+path, nil)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	wsSees := func(cookie string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		d := ws.Dialer{}
		if cookie != "" {
			d.Header = ws.HandshakeHeaderString("Cookie: " + cookie + "\r\n")
		}
		conn, _, _, err := d.Dial(ctx, "ws://"+c.Addr().String()+"/t/ws")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return <-seen
	}

	resp, id := get("/login?user=kim", "")
	setCookie := resp.Header.Get("Set-Cookie")
	// JEUS' format: <id>.<base64 of the server name>, Path = context, HttpOnly.
	re := regexp.MustCompile(`^JSESSIONID=([A-Za-z0-9_-]{43})\.amV1czcvc2VydmVyMg==; Path=/t; HttpOnly$`)
	m := re.FindStringSubmatch(setCookie)
	if m == nil || m[1] != id {
		t.Fatalf("Set-Cookie %q (id %q)", setCookie, id)
	}
	cookie := strings.SplitN(setCookie, ";", 2)[0]
	if _, who := get("/me", cookie); who != "kim" {
		t.Fatalf("/me with the cookie: %q", who)
	}
	if who := wsSees(cookie); who != "kim" {
		t.Fatalf("WebSocket session sees HTTP session user %q", who)
	}
	if who := wsSees("JSESSIONID=forged.route"); who != "none" {
		t.Fatalf("a forged cookie linked a session: %q", who)
	}

	// WebSocket traffic does not extend the HTTP session.
	conn := func() io.ReadWriter {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		d := ws.Dialer{Header: ws.HandshakeHeaderString("Cookie: " + cookie + "\r\n")}
		c, _, _, err := d.Dial(ctx, "ws://"+c.Addr().String()+"/t/ws")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		<-seen
		return c
	}()
	for i := 0; i < 10; i++ {
		_ = wsutil.WriteClientText(conn, []byte("ping"))
		if _, err := wsutil.ReadServerText(conn); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, who := get("/me", cookie); who != "nobody" {
		t.Fatalf("session outlived its timeout thanks to WebSocket traffic: %q", who)
	}

	// Invalidation.
	resp, _ = get("/login?user=lee", "")
	cookie = strings.SplitN(resp.Header.Get("Set-Cookie"), ";", 2)[0]
	get("/logout", cookie)
	if _, who := get("/me", cookie); who != "nobody" {
		t.Fatalf("after logout: %q", who)
	}
}
