package integration

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// startNode runs a wsc cluster node named name on free loopback ports,
// joining join (a cluster address) when not empty. It returns the server
// and its cluster address.
func startNode(tb testing.TB, name, keyFile, join string) (*server, string) {
	tb.Helper()
	var cluster string
	s := startWith(tb, func() []string {
		var err error
		if cluster, err = freeAddr(); err != nil {
			tb.Fatal(err)
		}
		args := []string{"-name", name, "-cluster", cluster, "-cluster-key", keyFile}
		if join != "" {
			args = append(args, "-join", join)
		}
		return args
	})
	return s, cluster
}

// startHAProxy runs HAProxy on a free loopback port in front of the nodes,
// routing by the route after the dot of JSESSIONID (the base64 of the
// node's name) and balancing the rest; a node that is down is skipped.
// It returns the proxy's address.
func startHAProxy(tb testing.TB, nodes map[string]*server) string {
	tb.Helper()
	requireClient(tb, "HAProxy", nil, "haproxy", "-v")
	addr, err := freeAddr()
	if err != nil {
		tb.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `global
  log stderr format raw local0 warning
defaults
  mode http
  log global
  timeout connect 1s
  timeout client 30s
  timeout server 30s
  timeout tunnel 1h
  option redispatch
  retries 3
frontend fe
  bind %s
  default_backend nodes
backend nodes
  balance roundrobin
  http-request set-var(txn.route) req.cook(JSESSIONID),field(2,.)
`, addr)
	for name := range nodes {
		route := base64.StdEncoding.EncodeToString([]byte(name))
		fmt.Fprintf(&b, "  use-server %s if { var(txn.route) -m str %s }\n", name, route)
	}
	for name, s := range nodes {
		fmt.Fprintf(&b, "  server %s %s check inter 100ms fall 1 rise 2\n", name, s.Addr)
	}
	cfg := filepath.Join(tb.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	out := &syncBuffer{}
	cmd := exec.Command("haproxy", "-db", "-f", cfg)
	cmd.Stdout, cmd.Stderr = out, out
	killWithParent(cmd)
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if tb.Failed() {
			tb.Logf("haproxy log:\n%s", out)
		}
	})
	deadline := time.Now().Add(startTimeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			tb.Fatalf("haproxy not listening on %s: %v\n%s", addr, err, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// counterConn is a connection to /samples/counter with a session cookie.
type counterConn struct {
	net.Conn
	setCookie string // the 101's Set-Cookie, if any
}

// dialCounter opens /samples/counter through addr with the cookie.
func dialCounter(tb testing.TB, addr, cookie string) (*counterConn, error) {
	cc := &counterConn{}
	d := ws.Dialer{
		Timeout: 5 * time.Second,
		Header:  ws.HandshakeHeaderHTTP(http.Header{"Cookie": {cookie}}),
		OnHeader: func(key, value []byte) error {
			if strings.EqualFold(string(key), "Set-Cookie") {
				cc.setCookie = string(value)
			}
			return nil
		},
	}
	conn, _, _, err := d.Dial(context.Background(), "ws://"+addr+"/samples/counter")
	if err != nil {
		return nil, err
	}
	tb.Cleanup(func() { _ = conn.Close() })
	cc.Conn = conn
	return cc, nil
}

// ask sends a counter command and returns the answer.
func (c *counterConn) ask(tb testing.TB, cmd string) string {
	tb.Helper()
	_ = c.SetDeadline(time.Now().Add(ioTimeout))
	if err := wsutil.WriteClientText(c, []byte(cmd)); err != nil {
		tb.Fatalf("send %q: %v", cmd, err)
	}
	b, err := wsutil.ReadServerText(c)
	if err != nil {
		tb.Fatalf("answer to %q: %v", cmd, err)
	}
	return string(b)
}

// The failover demo, as a user runs it: two nodes in a cluster behind
// HAProxy, which routes by the JSESSIONID route. The counter's count lives
// in the HTTP session's user properties; when the node that serves it is
// killed (SIGKILL), the client reconnects through the proxy to the other
// node, the count goes on from where it was, and the 101 re-pins the
// cookie to the new node.
func TestFailoverThroughHAProxy(t *testing.T) {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	keyFile := filepath.Join(t.TempDir(), "cluster.key")
	if err := os.WriteFile(keyFile, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n1, c1 := startNode(t, "n1", keyFile, "")
	n2, _ := startNode(t, "n2", keyFile, c1)
	waitLog(t, n1, `msg="cluster: member joined" node=n1 member=n2`)
	proxy := startHAProxy(t, map[string]*server{"n1": n1, "n2": n2})

	// The page creates the HTTP session.
	resp, err := http.Get("http://" + proxy + "/samples/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "JSESSIONID" {
			cookie = c
		}
	}
	if cookie == nil {
		t.Fatalf("GET /samples/ set no JSESSIONID: %v", resp.Header)
	}
	id, route, _ := strings.Cut(cookie.Value, ".")
	nodes := map[string]*server{"n1": n1, "n2": n2}
	serving, other := "n1", "n2"
	if route == base64.StdEncoding.EncodeToString([]byte("n2")) {
		serving, other = "n2", "n1"
	}
	t.Logf("session %s… on %s", id[:8], serving)

	c, err := dialCounter(t, proxy, "JSESSIONID="+cookie.Value)
	if err != nil {
		t.Fatal(err)
	}
	for want := 1; want <= 3; want++ {
		if got := c.ask(t, "incr"); got != fmt.Sprint(want) {
			t.Fatalf("incr: %q, want %d", got, want)
		}
	}
	// Write-behind: a change is on the backup once the flush interval has
	// passed (DESIGN §6); then the serving node dies.
	time.Sleep(time.Second)
	nodes[serving].Kill()

	// The client reconnects, through the proxy, with the same cookie.
	var c2 *counterConn
	deadline := time.Now().Add(15 * time.Second)
	for {
		c2, err = dialCounter(t, proxy, "JSESSIONID="+cookie.Value)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("reconnect after the node died: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := c2.ask(t, "get"); got != "3" {
		t.Fatalf("count after failover: %q, want 3\n%s log:\n%s", got, other, nodes[other].Log())
	}
	if got := c2.ask(t, "incr"); got != "4" {
		t.Fatalf("incr after failover: %q, want 4", got)
	}
	wantRoute := base64.StdEncoding.EncodeToString([]byte(other))
	if !strings.Contains(c2.setCookie, "JSESSIONID="+id+"."+wantRoute) {
		t.Fatalf("the 101 after failover set cookie %q, want the route of %s (%s)", c2.setCookie, other, wantRoute)
	}
	if !strings.Contains(nodes[other].Log(), "HTTP session restored from the cluster") {
		t.Fatalf("%s did not log the restore:\n%s", other, nodes[other].Log())
	}

	// The re-pinned cookie goes straight to the surviving node, which
	// holds the session now: no second restore.
	c3, err := dialCounter(t, proxy, "JSESSIONID="+id+"."+wantRoute)
	if err != nil {
		t.Fatal(err)
	}
	if got := c3.ask(t, "incr"); got != "5" {
		t.Fatalf("incr with the re-pinned cookie: %q, want 5", got)
	}
}

// waitLog waits until s has logged want.
func waitLog(tb testing.TB, s *server, want string) {
	tb.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(s.Log(), want) {
		if time.Now().After(deadline) {
			tb.Fatalf("no %q in the log:\n%s", want, s.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
