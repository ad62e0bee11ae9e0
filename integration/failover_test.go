package integration

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// startNode runs a wsc cluster node named name on free loopback ports,
// joining join (a cluster address) when not empty, with the extra flags. It returns the server
// and its cluster address.
func startNode(tb testing.TB, name, keyFile, join string, extra ...string) (*server, string) {
	tb.Helper()
	var cluster string
	s := startWith(tb, func() []string {
		var err error
		if cluster, err = freeAddr(); err != nil {
			tb.Fatal(err)
		}
		args := append([]string{"-name", name, "-cluster", cluster, "-cluster-key", keyFile}, extra...)
		if join != "" {
			args = append(args, "-join", join)
		}
		return args
	})
	return s, cluster
}

// proxyNode is a node behind the proxy: its name, route and address.
type proxyNode struct{ name, route, addr string }

// sessionProxy is a session-routing proxy from Debian, configured to send
// a request whose JSESSIONID ends in ".<route>" to that node, the others
// to any node, and to skip a node that is down.
type sessionProxy struct {
	name    string
	probe   []string                                           // checks that it is installed
	config  func(listen, dir string, nodes []proxyNode) string // its configuration file
	command func(cfg, dir string) []string                     // runs it in the foreground
}

var sessionProxies = []sessionProxy{
	{
		name:  "haproxy",
		probe: []string{"haproxy", "-v"},
		config: func(listen, _ string, nodes []proxyNode) string {
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
`, listen)
			for _, n := range nodes {
				fmt.Fprintf(&b, "  use-server %s if { var(txn.route) -m str %s }\n", n.name, n.route)
			}
			for _, n := range nodes {
				fmt.Fprintf(&b, "  server %s %s check inter 100ms fall 1 rise 2\n", n.name, n.addr)
			}
			return b.String()
		},
		command: func(cfg, _ string) []string { return []string{"haproxy", "-db", "-f", cfg} },
	},
	{
		// Open-source nginx has no sticky directive: a map picks the
		// upstream from the cookie's route, and each node's upstream has
		// the others as backups.
		name:  "nginx",
		probe: []string{"nginx", "-v"},
		config: func(listen, dir string, nodes []proxyNode) string {
			var b strings.Builder
			fmt.Fprintf(&b, `daemon off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log stderr warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
  map $cookie_JSESSIONID $ws_route { "~^[^.]+\.(?<r>[A-Za-z0-9+/=_-]+)$" $r; default ""; }
  map $ws_route $ws_backend {
    default all;
`, dir)
			for _, n := range nodes {
				fmt.Fprintf(&b, "    %q %s;\n", n.route, n.name)
			}
			b.WriteString("  }\n  upstream all {\n")
			for _, n := range nodes {
				fmt.Fprintf(&b, "    server %s max_fails=1 fail_timeout=2s;\n", n.addr)
			}
			b.WriteString("  }\n")
			for _, n := range nodes {
				fmt.Fprintf(&b, "  upstream %s {\n    server %s max_fails=1 fail_timeout=2s;\n", n.name, n.addr)
				for _, o := range nodes {
					if o != n {
						fmt.Fprintf(&b, "    server %s backup;\n", o.addr)
					}
				}
				b.WriteString("  }\n")
			}
			fmt.Fprintf(&b, `  server {
    listen %s;
    location / {
      proxy_pass http://$ws_backend;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $host;
      proxy_connect_timeout 1s;
      proxy_read_timeout 1h;
      proxy_next_upstream error timeout;
    }
  }
}
`, listen)
			return b.String()
		},
		command: func(cfg, dir string) []string { return []string{"nginx", "-e", "stderr", "-p", dir, "-c", cfg} },
	},
	{
		// Apache's balancer routes on the part of the sticky cookie after
		// the dot, as Tomcat's jvmRoute, and fails over to another member
		// when the routed one is in error.
		name:  "apache",
		probe: []string{"apache2", "-v"},
		config: func(listen, dir string, nodes []proxyNode) string {
			var b strings.Builder
			fmt.Fprintf(&b, `ServerName localhost
Listen %s
PidFile %[2]s/httpd.pid
DefaultRuntimeDir %[2]s
Mutex file:%[2]s default
ErrorLog /dev/stderr
LogLevel warn
`, listen, dir)
			if os.Geteuid() == 0 {
				b.WriteString("User www-data\nGroup www-data\n")
			}
			for _, m := range []string{"mpm_event", "authz_core", "slotmem_shm", "proxy", "proxy_http", "proxy_wstunnel", "proxy_balancer", "lbmethod_byrequests"} {
				fmt.Fprintf(&b, "LoadModule %s_module /usr/lib/apache2/modules/mod_%s.so\n", m, m)
			}
			b.WriteString("<Proxy balancer://nodes>\n")
			for _, n := range nodes {
				fmt.Fprintf(&b, "  BalancerMember http://%s route=%s retry=1 connectiontimeout=1 upgrade=websocket\n", n.addr, n.route)
			}
			b.WriteString("</Proxy>\nProxyPass / balancer://nodes/ stickysession=JSESSIONID|jsessionid\n")
			return b.String()
		},
		command: func(cfg, _ string) []string { return []string{"apache2", "-f", cfg, "-DFOREGROUND"} },
	},
}

// start runs the proxy on a free loopback port in front of nodes and
// returns its address. It is killed when the test ends.
func (p sessionProxy) start(tb testing.TB, nodes []proxyNode) string {
	tb.Helper()
	requireClient(tb, p.name, nil, p.probe[0], p.probe[1:]...)
	addr, err := freeAddr()
	if err != nil {
		tb.Fatal(err)
	}
	dir := tb.TempDir()
	cfg := filepath.Join(dir, p.name+".conf")
	if err := os.WriteFile(cfg, []byte(p.config(addr, dir, nodes)), 0o644); err != nil {
		tb.Fatal(err)
	}
	out := &syncBuffer{}
	argv := p.command(cfg, dir)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 5 * time.Second
	kill := killGroup(cmd)
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		kill()
		_ = cmd.Wait()
		if tb.Failed() {
			tb.Logf("%s log:\n%s", p.name, out)
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
			tb.Fatalf("%s not listening on %s: %v\n%s", p.name, addr, err, out)
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

// The failover demo, as a user runs it: two nodes in a cluster behind a
// proxy (HAProxy, nginx, Apache) that routes by the JSESSIONID route. The
// counter's count lives in the HTTP session's user properties; when the
// node that serves it is killed (SIGKILL), the client reconnects through
// the proxy to the other node, the count goes on from where it was, and
// the 101 re-pins the cookie to the new node.
func TestFailoverThroughProxies(t *testing.T) {
	for _, p := range sessionProxies {
		t.Run(p.name, func(t *testing.T) { failoverThrough(t, p) })
	}
}

func failoverThrough(t *testing.T, p sessionProxy) {
	keyFile := writeKey(t)
	n1, c1 := startNode(t, "n1", keyFile, "")
	n2, _ := startNode(t, "n2", keyFile, c1)
	waitLog(t, n1, `msg="cluster: member joined" node=n1 member=n2`)
	proxy := p.start(t, []proxyNode{
		{"n1", base64.StdEncoding.EncodeToString([]byte("n1")), n1.Addr},
		{"n2", base64.StdEncoding.EncodeToString([]byte("n2")), n2.Addr},
	})

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

	// Its metrics tell the restore and the cluster's size.
	metrics := scrape(t, nodes[other])
	for _, want := range []string{`wsc_cluster_restores_total{result="found"} 1`, `wsc_cluster_sessions_served 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("%s's metrics lack %s:\n%s", other, want, grepLines(metrics, "wsc_cluster"))
		}
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

// scrape returns s's /metrics, from the admin address it logged.
func scrape(tb testing.TB, s *server) string {
	tb.Helper()
	log := s.Log()
	const mark = `msg="admin serving" addr=`
	i := strings.Index(log, mark)
	if i < 0 {
		tb.Fatalf("no admin address in the log:\n%s", log)
	}
	addr, _, _ := strings.Cut(log[i+len(mark):], " ")
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// grepLines returns the lines of text that contain sub.
func grepLines(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// writeKey writes a fresh cluster key file and returns its path.
func writeKey(tb testing.TB) string {
	tb.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	keyFile := filepath.Join(tb.TempDir(), "cluster.key")
	if err := os.WriteFile(keyFile, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	return keyFile
}

// A node killed and started again under the same name and addresses
// comes back with empty memory and joins the other node; a client that
// still has the old cookie (it never reconnected during the outage) finds
// its count there, restored from the other node's copy.
func TestFailoverNodeRestart(t *testing.T) {
	keyFile := writeKey(t)
	n1, c1 := startNode(t, "n1", keyFile, "")
	_, cl2 := startNode(t, "n2", keyFile, c1)
	waitLog(t, n1, `msg="cluster: member joined" node=n1 member=n2`)

	resp, err := http.Get("http://" + n1.Addr + "/samples/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var cookie string
	for _, c := range resp.Cookies() {
		if c.Name == "JSESSIONID" {
			cookie = "JSESSIONID=" + c.Value
		}
	}
	c, err := dialCounter(t, n1.Addr, cookie)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		c.ask(t, "incr")
	}
	time.Sleep(time.Second) // write-behind
	n1.Kill()

	// The same node on the same addresses, started as an operator does,
	// with the other node to join. (Restarted this fast, n2 never saw it
	// fail: the new process answers the pings for n1.)
	again, err := launch(wscBinary(t), n1.Addr, "-name", "n1", "-cluster", c1, "-cluster-key", keyFile, "-join", cl2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { again.Stop(t) })
	waitLog(t, again, `msg="cluster: member joined" node=n1 member=n2`)
	c2, err := dialCounter(t, again.Addr, cookie)
	if err != nil {
		t.Fatal(err)
	}
	if got := c2.ask(t, "get"); got != "3" {
		t.Fatalf("count on the restarted node: %q, want 3\n%s", got, again.Log())
	}
	if got := c2.ask(t, "incr"); got != "4" {
		t.Fatalf("incr on the restarted node: %q, want 4", got)
	}
}

// The failover counter page in Debian's headless Chromium, behind
// HAProxy: the page counts to 3, the node that serves it is killed, the
// page reconnects and finds 3, and the browser now holds the cookie
// re-pinned to the other node (a Set-Cookie on a 101 is honoured).
func TestFailoverInChromium(t *testing.T) {
	dir := browserDir(t)
	keyFile := writeKey(t)
	n1, c1 := startNode(t, "n1", keyFile, "")
	n2, _ := startNode(t, "n2", keyFile, c1)
	waitLog(t, n1, `msg="cluster: member joined" node=n1 member=n2`)
	nodes := map[string]*server{"n1": n1, "n2": n2}
	proxy := sessionProxies[0].start(t, []proxyNode{
		{"n1", base64.StdEncoding.EncodeToString([]byte("n1")), n1.Addr},
		{"n2", base64.StdEncoding.EncodeToString([]byte("n2")), n2.Addr},
	})

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join(dir, "counter.js"), "http://"+proxy+"/samples/")
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	killWithParent(cmd)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cookieLine := func(n int) string {
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			var got []string
			for _, l := range strings.Split(out.String(), "\n") {
				if v, ok := strings.CutPrefix(l, "cookie "); ok {
					got = append(got, v)
				}
			}
			if len(got) >= n {
				return got[n-1]
			}
			if strings.Contains(out.String(), "FAIL") {
				break
			}
		}
		t.Fatalf("no cookie line %d from the page:\n%s", n, out)
		return ""
	}
	first := cookieLine(1)
	id, route, _ := strings.Cut(first, ".")
	serving, other := "n1", "n2"
	if route == base64.StdEncoding.EncodeToString([]byte("n2")) {
		serving, other = "n2", "n1"
	}
	time.Sleep(time.Second) // write-behind
	nodes[serving].Kill()
	_, _ = io.WriteString(stdin, "go\n")
	last := cookieLine(2)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("counter page in Chromium: %v\n%s", err, out)
	}
	t.Logf("%s", out)
	if want := id + "." + base64.StdEncoding.EncodeToString([]byte(other)); last != want {
		t.Fatalf("the browser's cookie after failover: %q, want %q (re-pinned to %s)", last, want, other)
	}
}

// browserDir returns testdata/browser, where playwright-core is
// installed (`npm ci`), and checks Chromium; it skips the test without
// them, or fails it under CI=true.
func browserDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("testdata", "browser"))
	if err != nil {
		t.Fatal(err)
	}
	requireClient(t, "Chromium", nil, chromium, "--version")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "playwright-core")); err != nil {
		msg := "playwright-core is not installed: run `npm ci` in integration/testdata/browser"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return dir
}

// Failover under load: 40 clients count through HAProxy, each in an HTTP
// session of its own, against the samples (write-through on, through a
// -webapps descriptor, or the default write-behind); the node that serves
// about half of them is killed, and its clients come back all at once.
// Each finds its session, at most one ahead of the count it was last
// answered (an incr whose answer the crash swallowed); with
// write-through, at least that count (every answer follows a Set the
// backup acknowledged), where write-behind may lose the last changes.
func TestFailoverUnderLoad(t *testing.T) {
	for _, writeThrough := range []bool{true, false} {
		t.Run(fmt.Sprintf("write-through=%v", writeThrough), func(t *testing.T) { failoverUnderLoad(t, writeThrough) })
	}
}

func failoverUnderLoad(t *testing.T, writeThrough bool) {
	dd, err := os.ReadFile(filepath.Join(moduleRoot(t), "samples", "webapp", "WEB-INF", "jeus-web-dd.xml"))
	if err != nil {
		t.Fatal(err)
	}
	wt := string(dd)
	if writeThrough {
		wt = strings.Replace(wt, "<use-write-through-policy>false</use-write-through-policy>", "<use-write-through-policy>true</use-write-through-policy>", 1)
		if wt == string(dd) {
			t.Fatal("the samples descriptor has no use-write-through-policy false to turn on")
		}
	}
	webapps := t.TempDir()
	if err := os.MkdirAll(filepath.Join(webapps, "samples", "WEB-INF"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(webapps, "samples", "WEB-INF", "jeus-web-dd.xml"), []byte(wt), 0o644); err != nil {
		t.Fatal(err)
	}
	keyFile := writeKey(t)
	n1, c1 := startNode(t, "n1", keyFile, "", "-webapps", webapps)
	n2, _ := startNode(t, "n2", keyFile, c1, "-webapps", webapps)
	_ = n2.Log // stopped (SIGTERM, exit 0 checked) by its cleanup
	waitLog(t, n1, `msg="cluster: member joined" node=n1 member=n2`)
	proxy := sessionProxies[0].start(t, []proxyNode{
		{"n1", base64.StdEncoding.EncodeToString([]byte("n1")), n1.Addr},
		{"n2", base64.StdEncoding.EncodeToString([]byte("n2")), n2.Addr},
	})
	route1 := base64.StdEncoding.EncodeToString([]byte("n1"))

	const clients = 40
	type result struct {
		onN1      bool
		last, got int
		err       error
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	results := make([]result, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &results[i]
			resp, err := http.Get("http://" + proxy + "/samples/")
			if err != nil {
				r.err = err
				return
			}
			resp.Body.Close()
			var cookie string
			for _, c := range resp.Cookies() {
				if c.Name == "JSESSIONID" {
					cookie = "JSESSIONID=" + c.Value
					r.onN1 = strings.HasSuffix(c.Value, "."+route1)
				}
			}
			conn, err := dialCounter(t, proxy, cookie)
			if err != nil {
				r.err = err
				return
			}
			for !stop.Load() {
				_ = conn.SetDeadline(time.Now().Add(ioTimeout))
				if err := wsutil.WriteClientText(conn, []byte("incr")); err != nil {
					break
				}
				b, err := wsutil.ReadServerText(conn)
				if err != nil {
					break // its node died
				}
				r.last, _ = strconv.Atoi(string(b))
			}
			if stop.Load() && !r.onN1 {
				return
			}
			// Reconnect, as a client of a dead node does.
			deadline := time.Now().Add(20 * time.Second)
			for {
				if conn, err = dialCounter(t, proxy, cookie); err == nil {
					_ = conn.SetDeadline(time.Now().Add(ioTimeout))
					if err = wsutil.WriteClientText(conn, []byte("get")); err == nil {
						var b []byte
						if b, err = wsutil.ReadServerText(conn); err == nil {
							r.got, err = strconv.Atoi(string(b))
							break
						}
					}
				}
				if time.Now().After(deadline) {
					r.err = fmt.Errorf("reconnect: %w", err)
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		}()
	}
	time.Sleep(2 * time.Second)
	n1.Kill()
	time.Sleep(time.Second)
	stop.Store(true)
	wg.Wait()
	onN1, counted, behind := 0, 0, 0
	for i, r := range results {
		if r.err != nil {
			t.Errorf("client %d: %v", i, r.err)
			continue
		}
		counted += r.last
		if !r.onN1 {
			continue
		}
		onN1++
		if r.got < r.last {
			behind++
		}
		switch {
		case r.got > r.last+1:
			t.Errorf("client %d: after the crash the count is %d, last answered %d: ahead", i, r.got, r.last)
		case writeThrough && r.got < r.last:
			t.Errorf("client %d: after the crash the count is %d, last answered %d: an acknowledged Set was lost", i, r.got, r.last)
		case r.last > 0 && r.got == 0:
			t.Errorf("client %d: after the crash its session was not found (last answered %d)", i, r.last)
		}
	}
	t.Logf("%d clients, %d on the killed node (%d of them found fewer than they were answered), %d increments answered", clients, onN1, behind, counted)
	if onN1 == 0 || onN1 == clients {
		t.Fatalf("%d of %d clients on n1: the proxy did not spread them", onN1, clients)
	}
}
