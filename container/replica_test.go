package container

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsc-dev/wsc/endpoint"
	"github.com/wsc-dev/wsc/failover"
)

// clusterPair starts two joined failover nodes, a and b, and a container
// on each serving /app with distributed user properties: GET /app/
// creates the HTTP session, /app/count counts "incr" in the user
// property "n" (an int), and "get" reads it.
func clusterPair(t *testing.T, writeThrough bool) (c1, c2 *Container) {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, b := twoNodes(t, nil)
	nodes := []*failover.Node{a, b}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, endpoint.GetHTTPSession(r, true).ID())
	})
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		if err := endpoint.GetHTTPSession(r, true).Attributes().Set("user", r.URL.Query().Get("user")); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		if h := endpoint.GetHTTPSession(r, false); h != nil {
			_, _ = io.WriteString(w, h.Attributes().String("user"))
		}
	})
	mux.HandleFunc("GET /logout", func(w http.ResponseWriter, r *http.Request) {
		if h := endpoint.GetHTTPSession(r, false); h != nil {
			h.Invalidate()
		}
	})
	counter := &endpoint.ServerConfig{Path: "/count", New: func() endpoint.Endpoint {
		return openFunc(func(s endpoint.Session) {
			s.SetTextHandler(func(cmd string) {
				p := s.UserProperties()
				n, _ := p.Get("n")
				count, _ := n.(int)
				if cmd == "incr" {
					count++
					if err := p.Set("n", count); err != nil {
						_ = s.Basic().SendText("error: " + err.Error())
						return
					}
				}
				_ = s.Basic().SendText(strconv.Itoa(count))
			})
		})
	}}
	var cs []*Container
	for _, n := range nodes {
		st := echoSettings()
		st.DistributedUserProperties, st.WriteThrough = true, writeThrough
		c, _ := startContext(t, Config{ServerName: n.Name(), Cluster: n, Logger: quiet},
			WebContext{Path: "/app", Settings: st, Handler: mux, Endpoints: []*endpoint.ServerConfig{counter}})
		cs = append(cs, c)
	}
	return cs[0], cs[1]
}

// countConn dials /app/count on c with cookie and returns the connection
// and the 101's Set-Cookie.
func countConn(t *testing.T, c *Container, cookie string) (net.Conn, string) {
	t.Helper()
	var setCookie string
	d := ws.Dialer{
		Header: ws.HandshakeHeaderString("Cookie: " + cookie + "\r\n"),
		OnHeader: func(k, v []byte) error {
			if strings.EqualFold(string(k), "Set-Cookie") {
				setCookie = string(v)
			}
			return nil
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, _, err := d.Dial(ctx, "ws://"+c.Addr().String()+"/app/count")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn, setCookie
}

func askCount(t *testing.T, conn net.Conn, cmd string) string {
	t.Helper()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if err := wsutil.WriteClientText(conn, []byte(cmd)); err != nil {
		t.Fatal(err)
	}
	b, err := wsutil.ReadServerText(conn)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// newHTTPSession creates an HTTP session on c and returns its cookie
// ("JSESSIONID=<id>.<route>").
func newHTTPSession(t *testing.T, c *Container) string {
	t.Helper()
	resp, err := http.Get("http://" + c.Addr().String() + "/app/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, ck := range resp.Cookies() {
		if ck.Name == CookieName {
			return ck.Name + "=" + ck.Value
		}
	}
	t.Fatalf("no session cookie: %v", resp.Header)
	return ""
}

// A session's user properties follow it to the node it reconnects to,
// with the types they had; the handshake there re-pins the cookie; the
// first node stops holding it.
func TestFailoverUserProperties(t *testing.T) {
	for _, wt := range []bool{false, true} {
		t.Run(fmt.Sprintf("write-through=%v", wt), func(t *testing.T) {
			c1, c2 := clusterPair(t, wt)
			cookie := newHTTPSession(t, c1)
			conn, _ := countConn(t, c1, cookie)
			for want := 1; want <= 3; want++ {
				if got := askCount(t, conn, "incr"); got != strconv.Itoa(want) {
					t.Fatalf("incr on a: %q", got)
				}
			}
			if !wt {
				time.Sleep(300 * time.Millisecond) // the write-behind flush
			}
			conn2, setCookie := countConn(t, c2, cookie)
			if got := askCount(t, conn2, "get"); got != "3" {
				t.Fatalf("count on b: %q, want 3", got)
			}
			id := strings.TrimPrefix(cookie, CookieName+"=")
			id, _, _ = strings.Cut(id, ".")
			want := CookieName + "=" + id + "." + base64.StdEncoding.EncodeToString([]byte("b"))
			if !strings.HasPrefix(setCookie, want+";") {
				t.Fatalf("the 101 on b set %q, want %s…", setCookie, want)
			}
			if got := askCount(t, conn2, "incr"); got != "4" {
				t.Fatalf("incr on b: %q", got)
			}
			// b claimed the session: a forgets its copy, so a new
			// handshake on a restores it back, with b's count.
			if !wt {
				time.Sleep(300 * time.Millisecond)
			}
			waitForgotten(t, c1, id)
			conn3, _ := countConn(t, c1, cookie)
			if got := askCount(t, conn3, "get"); got != "4" {
				t.Fatalf("count back on a: %q, want 4", got)
			}
		})
	}
}

// An HTTP request with the cookie of a session another node served
// restores it and re-pins the cookie; after a logout no node restores it.
func TestFailoverHTTPRequestAndLogout(t *testing.T) {
	c1, c2 := clusterPair(t, true)
	cookie := newHTTPSession(t, c1)
	conn, _ := countConn(t, c1, cookie)
	askCount(t, conn, "incr")

	req, _ := http.NewRequest("GET", "http://"+c2.Addr().String()+"/app/", nil)
	req.Header.Set("Cookie", cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	id, _, _ := strings.Cut(strings.TrimPrefix(cookie, CookieName+"="), ".")
	if string(body) != id {
		t.Fatalf("b served session %q, want the restored %q", body, id)
	}
	if sc := resp.Header.Get("Set-Cookie"); !strings.Contains(sc, id+"."+base64.StdEncoding.EncodeToString([]byte("b"))) {
		t.Fatalf("b's response set cookie %q, want it re-pinned to b", sc)
	}

	req, _ = http.NewRequest("GET", "http://"+c2.Addr().String()+"/app/logout", nil)
	req.Header.Set("Cookie", cookie)
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	time.Sleep(300 * time.Millisecond) // the tombstone's flush
	waitForgotten(t, c1, id)
	conn3, _ := countConn(t, c1, cookie)
	if got := askCount(t, conn3, "get"); got != "0" {
		t.Fatalf("after logout, a restored the session: count %q", got)
	}
}

// waitForgotten waits until c no longer holds HTTP session id.
func waitForgotten(t *testing.T, c *Container, id string) {
	t.Helper()
	var st *sessionStore
	for _, x := range c.contexts {
		if x.path == "/app" {
			st = x.sessions
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		st.mu.Lock()
		_, ok := st.m[id]
		st.mu.Unlock()
		if !ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the node that lost the session still holds it")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// An Inline endpoint in a context whose user properties are replicated
// write-through keeps them per session (its Set would wait on the event
// loop); with write-behind it shares the HTTP session's.
func TestInlineWriteThroughLocalProperties(t *testing.T) {
	for _, wt := range []bool{true, false} {
		t.Run(fmt.Sprintf("write-through=%v", wt), func(t *testing.T) {
			a, _ := twoNodes(t, nil)
			shared := make(chan bool, 1)
			st := echoSettings()
			st.DistributedUserProperties, st.WriteThrough = true, wt
			mux := http.NewServeMux()
			mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { endpoint.GetHTTPSession(r, true) })
			c, _ := startContext(t, Config{ServerName: "a", Cluster: a, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))},
				WebContext{Path: "/app", Settings: st, Handler: mux, Endpoints: []*endpoint.ServerConfig{{
					Path: "/fast", Inline: true, New: func() endpoint.Endpoint {
						return openFunc(func(s endpoint.Session) {
							shared <- s.UserProperties() == s.HTTPSession().(*httpSession).UserPropertiesForTest()
						})
					},
				}}})
			cookie := newHTTPSession(t, c)
			d := ws.Dialer{Header: ws.HandshakeHeaderString("Cookie: " + cookie + "\r\n")}
			conn, _, _, err := d.Dial(context.Background(), "ws://"+c.Addr().String()+"/app/fast")
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if got := <-shared; got == wt {
				t.Fatalf("the Inline endpoint shares the HTTP session's properties: %v, want %v", got, !wt)
			}
		})
	}
}
