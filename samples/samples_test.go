package samples_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsc-dev/wsc/container"
	"github.com/wsc-dev/wsc/deploy"
	"github.com/wsc-dev/wsc/samples"
	"github.com/wsc-dev/wsc/samples/secure"
)

// startSamples serves the bundled samples, deployed as wsc deploys them,
// on 127.0.0.1:0 until the test ends.
func startSamples(t *testing.T) *container.Container {
	t.Helper()
	wc, err := deploy.Bundled(samples.ModuleName)
	if err != nil {
		t.Fatal(err)
	}
	c := container.New(container.Config{Addr: "127.0.0.1:0"})
	if err := c.Deploy(wc); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.Shutdown(ctx)
	})
	return c
}

// TestCounter: GET /samples/ creates the HTTP session; the count lives in
// the user properties bound to it, so it survives a reconnect; another
// HTTP session counts on its own.
func TestCounter(t *testing.T) {
	c := startSamples(t)
	base := "http://" + c.Addr().String() + "/samples/"

	login := func() string {
		jar, _ := cookiejar.New(nil)
		client := &http.Client{Jar: jar, Timeout: 5 * time.Second}
		resp, err := client.Get(base)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(page), "Failover counter") {
			t.Fatalf("GET /samples/: %s", resp.Status)
		}
		cookie := resp.Header.Get("Set-Cookie")
		if !strings.HasPrefix(cookie, "JSESSIONID=") {
			t.Fatalf("no session cookie: %q", cookie)
		}
		return strings.SplitN(cookie, ";", 2)[0]
	}
	send := func(cookie string, cmds ...string) []string {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		d := ws.Dialer{Header: ws.HandshakeHeaderString("Cookie: " + cookie + "\r\n")}
		conn, _, _, err := d.Dial(ctx, "ws://"+c.Addr().String()+"/samples/counter")
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var out []string
		for _, cmd := range cmds {
			_ = wsutil.WriteClientText(conn, []byte(cmd))
			got, err := wsutil.ReadServerText(conn)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, string(got))
		}
		return out
	}
	alice, bob := login(), login()
	if got := send(alice, "incr", "incr", "incr"); strings.Join(got, ",") != "1,2,3" {
		t.Fatalf("alice: %v", got)
	}
	if got := send(alice, "get", "incr"); strings.Join(got, ",") != "3,4" {
		t.Fatalf("alice after reconnecting: %v", got)
	}
	if got := send(bob, "incr"); got[0] != "1" {
		t.Fatalf("bob: %v", got)
	}
	if got := send("", "incr", "incr"); strings.Join(got, ",") != "1,2" {
		t.Fatalf("without a session: %v", got)
	}
	// The descriptor is never served.
	resp, err := http.Get(base + "WEB-INF/jeus-web-dd.xml")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("WEB-INF served: %s", resp.Status)
	}
}

// TestSecure: the token is checked in the handshake; missing or bad → 401
// before any session exists; the member id reaches the session.
func TestSecure(t *testing.T) {
	c := startSamples(t)
	url := "ws://" + c.Addr().String() + "/samples/secure"
	secret := []byte("wsc-sample-secret-change-me") // the samples descriptor's init-param
	good, _ := secure.Sign(secret, 42, time.Minute)
	forged, _ := secure.Sign([]byte("another key"), 42, time.Minute)
	expired, _ := secure.Sign(secret, 42, -time.Minute)
	for _, tc := range []struct{ query, want string }{
		{"", "401"}, {"?token=garbage", "401"}, {"?token=" + forged, "401"}, {"?token=" + expired, "401"},
		{"?token=" + good, "hello member 42"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		conn, br, _, err := ws.Dial(ctx, url+tc.query)
		cancel()
		got := ""
		var se ws.StatusError
		switch {
		case errors.As(err, &se):
			got = strconv.Itoa(int(se))
		case err != nil:
			t.Fatal(err)
		default:
			// The greeting may have come with the 101, into the dialer's reader.
			var r io.Reader = conn
			if br != nil {
				r = io.MultiReader(br, conn)
			}
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			b, err := wsutil.ReadServerText(struct {
				io.Reader
				io.Writer
			}{r, conn})
			if err != nil {
				t.Fatal(err)
			}
			got = string(b)
			conn.Close()
		}
		if got != tc.want {
			t.Errorf("token %q: %s, want %s", tc.query[min(len(tc.query), 7):], got, tc.want)
		}
	}
	if open := c.Stats().Contexts[0].Sessions; open != 1 {
		t.Fatalf("%d sessions were opened, want only the authorized one", open)
	}
}

// TestChat: ENTER and QUIT come from the server, every message carries the
// room's user count, rooms are separate, and POST …/messages publishes.
func TestChat(t *testing.T) {
	c := startSamples(t)
	type msg struct {
		Type, RoomID, Sender, Message string
		UserCount                     int
	}
	join := func(room, name string) (io.ReadWriter, func() msg, func()) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn, br, _, err := ws.Dial(ctx, "ws://"+c.Addr().String()+"/samples/chat/"+room+"?sender="+name)
		if err != nil {
			t.Fatal(err)
		}
		var r io.Reader = conn
		if br != nil {
			r = io.MultiReader(br, conn)
		}
		rw := struct {
			io.Reader
			io.Writer
		}{r, conn}
		next := func() msg {
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			b, err := wsutil.ReadServerText(rw)
			if err != nil {
				t.Fatal(err)
			}
			var m msg
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatalf("%s: %v", b, err)
			}
			return m
		}
		return rw, next, func() { _ = conn.Close() }
	}
	_, aNext, _ := join("lobby", "kim")
	if m := aNext(); m.Type != "ENTER" || m.Sender != "kim" || m.UserCount != 1 || m.RoomID != "lobby" {
		t.Fatalf("kim's own ENTER: %+v", m)
	}
	bConn, bNext, bClose := join("lobby", "lee")
	if m := aNext(); m.Type != "ENTER" || m.Sender != "lee" || m.UserCount != 2 {
		t.Fatalf("kim sees lee enter: %+v", m)
	}
	bNext() // lee's own ENTER
	_, cNext, _ := join("other", "park")
	if m := cNext(); m.UserCount != 1 {
		t.Fatalf("another room: %+v", m)
	}
	_ = wsutil.WriteClientText(bConn, []byte(`{"type":"TALK","sender":"spoofed","message":"안녕"}`))
	for _, next := range []func() msg{aNext, bNext} {
		if m := next(); m.Type != "TALK" || m.Sender != "lee" || m.Message != "안녕" || m.UserCount != 2 {
			t.Fatalf("TALK: %+v", m)
		}
	}
	_ = wsutil.WriteClientText(bConn, []byte(`not json`)) // dropped; the session stays open
	resp, err := http.Post("http://"+c.Addr().String()+"/samples/chat/lobby/messages", "application/json",
		strings.NewReader(`{"sender":"admin","message":"notice"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"delivered":2`) {
		t.Fatalf("POST messages: %s %s", resp.Status, body)
	}
	for _, next := range []func() msg{aNext, bNext} {
		if m := next(); m.Type != "TALK" || m.Sender != "admin" || m.Message != "notice" {
			t.Fatalf("published TALK: %+v", m)
		}
	}
	bClose()
	if m := aNext(); m.Type != "QUIT" || m.Sender != "lee" || m.UserCount != 1 {
		t.Fatalf("kim sees lee quit: %+v", m)
	}
}

// TestBroadcast: a message reaches every session of /samples/broadcast, the
// sender included, with its type; a subscriber that stops reading is
// closed by its send limit while the others receive everything.
func TestBroadcast(t *testing.T) {
	c := startSamples(t)
	type sub struct {
		conn net.Conn
		rw   io.ReadWriter
	}
	dial := func() sub {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn, br, _, err := ws.Dial(ctx, "ws://"+c.Addr().String()+"/samples/broadcast")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		var r io.Reader = conn
		if br != nil {
			r = io.MultiReader(br, conn)
		}
		return sub{conn, struct {
			io.Reader
			io.Writer
		}{bufio.NewReaderSize(r, 64<<10), conn}}
	}
	subs := []sub{dial(), dial(), dial()}
	slow := dial() // never reads
	waitOpen := func(n int) {
		deadline := time.Now().Add(5 * time.Second)
		for c.Stats().Contexts[0].OpenSessions < n {
			if time.Now().After(deadline) {
				t.Fatalf("%d sessions open, want %d", c.Stats().Contexts[0].OpenSessions, n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitOpen(4)
	_ = slow

	if err := wsutil.WriteClientText(subs[1].rw, []byte("안녕")); err != nil {
		t.Fatal(err)
	}
	for i, s := range subs {
		_ = s.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, op, err := wsutil.ReadServerData(s.rw)
		if err != nil || op != ws.OpText || string(b) != "안녕" {
			t.Fatalf("subscriber %d: %q %v %v", i, b, op, err)
		}
	}

	// 64 MiB in 64 KiB messages: far more than the slow subscriber's send
	// limit and socket buffers hold. The publisher waits for its own copy
	// of each message before the next, so that it does not outrun the
	// endpoint (past the inbound bound that is 1013, by design).
	const n, size = 1024, 64 << 10
	payload := make([]byte, size)
	read := func(i int, s sub, want int) bool {
		_ = s.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		b, op, err := wsutil.ReadServerData(s.rw)
		if err != nil || op != ws.OpBinary || len(b) != size || binary.BigEndian.Uint32(b) != uint32(want) {
			t.Errorf("subscriber %d, message %d: %d bytes, %v, %v", i, want, len(b), op, err)
			return false
		}
		return true
	}
	var wg sync.WaitGroup
	for i, s := range subs[1:] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for want := range n {
				if !read(i+1, s, want) {
					return
				}
			}
		}()
	}
	for i := range n {
		binary.BigEndian.PutUint32(payload, uint32(i))
		if err := wsutil.WriteClientBinary(subs[0].rw, payload); err != nil {
			t.Fatal(err)
		}
		if !read(0, subs[0], i) {
			break
		}
	}
	wg.Wait()
	// The slow subscriber was closed: after what the socket held, its
	// stream ends.
	_ = slow.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, slow.conn); err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("slow subscriber: %v, want its connection closed", err)
	}
	if open := c.Stats().Contexts[0].OpenSessions; open != 3 {
		t.Fatalf("%d sessions open, want the 3 readers", open)
	}
}

// TestEchoInline: /samples/echo-inline echoes text and binary whole, like
// /samples/echo, from the event loop.
func TestEchoInline(t *testing.T) {
	c := startSamples(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, br, _, err := ws.Dial(ctx, "ws://"+c.Addr().String()+"/samples/echo-inline")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var r io.Reader = conn
	if br != nil {
		r = io.MultiReader(br, conn)
	}
	rw := struct {
		io.Reader
		io.Writer
	}{r, conn}
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(i)
	}
	for _, m := range []struct {
		op ws.OpCode
		b  []byte
	}{{ws.OpText, []byte("안녕")}, {ws.OpBinary, big}} {
		if err := wsutil.WriteClientMessage(rw, m.op, m.b); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		got, op, err := wsutil.ReadServerData(rw)
		if err != nil || op != m.op || string(got) != string(m.b) {
			t.Fatalf("echo of %d bytes: got %d bytes, %v, %v", len(m.b), len(got), op, err)
		}
	}
}
