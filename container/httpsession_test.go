package container

import (
	"context"
	"io"
	"net"
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
	c, _ := startContext(t, Config{ServerName: "jeus7/server2"}, WebContext{Path: "/t", Settings: st, Handler: mux, Endpoints: []*endpoint.ServerConfig{{
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

// userName is a Principal.
type userName string

func (u userName) Name() string { return string(u) }

// loginConfigurator authenticates a handshake whose HTTP session has a
// user: the WebSocket session gets it as its Principal.
type loginConfigurator struct{}

func (loginConfigurator) ModifyHandshake(req *endpoint.HandshakeRequest, _ *endpoint.HandshakeResponse) error {
	if req.HTTPSession != nil {
		if u := req.HTTPSession.Attributes().String("user"); u != "" {
			req.Principal = userName(u)
		}
	}
	return nil
}

// TestAuthenticatedHTTPSessionEnds1008: a WebSocket session opened with a
// Principal in an HTTP session closes with 1008 when that HTTP session is
// invalidated or expires; one opened in the same HTTP session without a
// Principal stays open, and OnClose reports the 1008.
func TestAuthenticatedHTTPSessionEnds1008(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		endpoint.GetHTTPSession(r, true).Attributes().Set("user", "kim")
	})
	mux.HandleFunc("GET /logout", func(w http.ResponseWriter, r *http.Request) {
		if h := endpoint.GetHTTPSession(r, false); h != nil {
			h.Invalidate()
		}
	})
	closed := make(chan endpoint.CloseReason, 4)
	echoWith := func(s endpoint.Session) {
		s.SetRawTextHandler(func(b []byte) { _ = s.Basic().SendTextBytes(b) })
	}
	st := echoSettings()
	st.SessionTimeout = 2 * time.Second
	st.MonitoringPeriod = time.Second
	c, _ := startContext(t, Config{}, WebContext{Path: "/t", Settings: st, Handler: mux, Endpoints: []*endpoint.ServerConfig{
		{Path: "/secure", Configurator: loginConfigurator{}, New: func() endpoint.Endpoint {
			return &closeSignal{open: echoWith, closed: closed}
		}},
		{Path: "/plain", New: func() endpoint.Endpoint { return openFunc(echoWith) }},
	}})
	base := "http://" + c.Addr().String() + "/t"
	login := func() string {
		resp, err := http.Get(base + "/login")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return strings.SplitN(resp.Header.Get("Set-Cookie"), ";", 2)[0]
	}
	dialWith := func(path, cookie string) net.Conn {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		d := ws.Dialer{Header: ws.HandshakeHeaderString("Cookie: " + cookie + "\r\n")}
		conn, br, _, err := d.Dial(ctx, "ws://"+c.Addr().String()+"/t"+path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return withBuffered(conn, br)
	}
	echoes := func(conn net.Conn) error {
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		if err := wsutil.WriteClientText(conn, []byte("hi")); err != nil {
			return err
		}
		_, err := wsutil.ReadServerText(conn)
		return err
	}
	wantClose := func(conn net.Conn, within time.Duration, how string) {
		t.Helper()
		_ = conn.SetDeadline(time.Now().Add(within))
		for {
			f, err := ws.ReadFrame(conn)
			if err != nil {
				t.Fatalf("%s: no close frame: %v", how, err)
			}
			if f.Header.OpCode != ws.OpClose {
				continue
			}
			code, reason := ws.ParseCloseFrameData(f.Payload)
			if code != 1008 {
				t.Fatalf("%s: close %d %q, want 1008", how, code, reason)
			}
			break
		}
		select {
		case r := <-closed:
			if r.Code != endpoint.CloseViolatedPolicy {
				t.Fatalf("%s: OnClose got %v, want 1008", how, r)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: OnClose not called", how)
		}
	}

	// Invalidation (logout).
	cookie := login()
	secure, plain := dialWith("/secure", cookie), dialWith("/plain", cookie)
	if err := echoes(secure); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(base + "/logout?x") // without the cookie: nothing happens
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := echoes(secure); err != nil {
		t.Fatalf("a request without the cookie ended the session: %v", err)
	}
	req, _ := http.NewRequest("GET", base+"/logout", nil)
	req.Header.Set("Cookie", cookie)
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	wantClose(secure, 5*time.Second, "after logout")
	if err := echoes(plain); err != nil {
		t.Fatalf("a session without a Principal was closed by the logout: %v", err)
	}
	// A handshake with the ended session's cookie is not authenticated.
	if err := echoes(dialWith("/secure", cookie)); err != nil {
		t.Fatalf("a handshake after the logout: %v", err)
	}

	// Expiry: the monitor finds it, within timeout + period (+ slack).
	secure = dialWith("/secure", login())
	if err := echoes(secure); err != nil {
		t.Fatal(err)
	}
	wantClose(secure, 10*time.Second, "after expiry")
}
