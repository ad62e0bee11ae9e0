package deploy_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsc-dev/wsc/container"
	"github.com/wsc-dev/wsc/deploy"
	"github.com/wsc-dev/wsc/endpoint"
	_ "github.com/wsc-dev/wsc/samples" // registers "samples"
)

// greeter says its init-param "greeting" to every new session and echoes.
func init() {
	endpoint.RegisterModule("greeter", endpoint.ModuleFunc(func(p endpoint.InitParams) (*endpoint.Application, error) {
		greeting := p.Get("greeting", "hello")
		return &endpoint.Application{
			Endpoints: []*endpoint.ServerConfig{{
				Path: "/ws",
				New: func() endpoint.Endpoint {
					return openFunc(func(s endpoint.Session) {
						_ = s.Basic().SendText(greeting)
						s.SetRawTextHandler(func(b []byte) { _ = s.Basic().SendTextBytes(b) })
					})
				},
			}},
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, "module page "+r.URL.Path)
			}),
		}, nil
	}))
	endpoint.RegisterModule("failing", endpoint.ModuleFunc(func(endpoint.InitParams) (*endpoint.Application, error) {
		return nil, errors.New("cannot start")
	}))
}

type openFunc func(s endpoint.Session)

func (f openFunc) OnOpen(s endpoint.Session, _ *endpoint.ServerConfig) { f(s) }

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// webapps lays out a webapps folder: greeter (module by folder name, with
// a descriptor), site (static only, context path from its descriptor),
// broken (bad descriptor), nomodule (names a module that does not exist),
// failing (module error).
func webapps(t *testing.T) string {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "greeter", "WEB-INF", "jeus-web-dd.xml"), `<jeus-web-dd><websocket>
		<max-incoming-text-message-buffer-size>16</max-incoming-text-message-buffer-size>
		<init-param><name>greeting</name><value>안녕</value></init-param>
		<allowed-origins><origin>https://good.example</origin></allowed-origins>
		<max-sessions>1</max-sessions>
	</websocket></jeus-web-dd>`)
	write(t, filepath.Join(dir, "greeter", "index.html"), "<h1>greeter</h1>")
	write(t, filepath.Join(dir, "site", "WEB-INF", "jeus-web-dd.xml"), `<jeus-web-dd><context-path>/www</context-path></jeus-web-dd>`)
	write(t, filepath.Join(dir, "site", "a.txt"), "static a")
	write(t, filepath.Join(dir, "broken", "WEB-INF", "jeus-web-dd.xml"), `<jeus-web-dd><websocket><max-sessions>-1</max-sessions></websocket></jeus-web-dd>`)
	write(t, filepath.Join(dir, "nomodule", "WEB-INF", "jeus-web-dd.xml"), `<jeus-web-dd><module>nope</module></jeus-web-dd>`)
	write(t, filepath.Join(dir, "failing", "index.html"), "x")
	return dir
}

func TestWebapps(t *testing.T) {
	contexts, errs := deploy.Webapps(webapps(t))
	var msgs []string
	for _, err := range errs {
		msgs = append(msgs, err.Error())
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{"broken:", "max-sessions", "nomodule:", `"nope"`, "failing:", "cannot start"} {
		if !strings.Contains(all, want) {
			t.Errorf("errors lack %q:\n%s", want, all)
		}
	}
	if len(contexts) != 2 || contexts[0].Path != "/greeter" || contexts[1].Path != "/www" {
		t.Fatalf("deployed %+v", contexts)
	}

	c := container.New(container.Config{Addr: "127.0.0.1:0"})
	for _, wc := range contexts {
		if err := c.Deploy(wc); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.Shutdown(ctx)
	})
	base := "http://" + c.Addr().String()

	// Static files, the module's handler, WEB-INF hidden.
	for path, want := range map[string]string{
		"/greeter/index.html":              "<h1>greeter</h1>",
		"/greeter/other":                   "module page /other",
		"/greeter/WEB-INF/jeus-web-dd.xml": "404",
		"/www/a.txt":                       "static a",
		"/www/missing":                     "404",
		"/site/a.txt":                      "404",
	} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got := string(b)
		if resp.StatusCode == 404 {
			got = "404"
		}
		if got != want {
			t.Errorf("GET %s: %q, want %q", path, got, want)
		}
	}

	// The descriptor governs the greeter's sessions.
	wsURL := "ws://" + c.Addr().String() + "/greeter/ws"
	dial := func(origin string) (ws.Handshake, io.ReadWriter, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		d := ws.Dialer{Header: ws.HandshakeHeaderString("Origin: " + origin + "\r\n")}
		conn, br, hs, err := d.Dial(ctx, wsURL)
		if err != nil {
			return hs, nil, err
		}
		t.Cleanup(func() { conn.Close() })
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		var r io.Reader = conn
		if br != nil {
			r = io.MultiReader(br, conn)
		}
		return hs, struct {
			io.Reader
			io.Writer
		}{r, conn}, nil
	}
	var rej ws.StatusError
	if _, _, err := dial("https://evil.example"); !errors.As(err, &rej) || rej != 403 {
		t.Fatalf("origin not allowed: %v, want 403", err)
	}
	_, conn, err := dial("https://good.example")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := wsutil.ReadServerText(conn); err != nil || string(got) != "안녕" {
		t.Fatalf("init-param greeting: %q %v", got, err)
	}
	if _, _, err := dial("https://good.example"); !errors.As(err, &rej) || rej != 503 {
		t.Fatalf("second session with max-sessions 1: %v, want 503", err)
	}
	_ = wsutil.WriteClientText(conn, []byte(strings.Repeat("x", 16)))
	if got, err := wsutil.ReadServerText(conn); err != nil || len(got) != 16 {
		t.Fatalf("message at the limit: %q %v", got, err)
	}
	_ = wsutil.WriteClientText(conn, []byte(strings.Repeat("x", 17)))
	h, err := ws.ReadHeader(conn)
	if err != nil || h.OpCode != ws.OpClose || h.Length < 2 {
		t.Fatalf("message over the limit: %+v %v, want a close frame", h, err)
	}
	p := make([]byte, h.Length)
	_, _ = io.ReadFull(conn, p)
	if code, _ := ws.ParseCloseFrameData(p); code != ws.StatusMessageTooBig {
		t.Fatalf("message over the limit: close %d, want 1009", code)
	}
}

func TestBundledSamples(t *testing.T) {
	wc, err := deploy.Bundled("samples")
	if err != nil {
		t.Fatal(err)
	}
	if wc.Path != "/samples" || wc.Settings.MaxTextMessageBytes != 16<<20 || !wc.Settings.PerMessageDeflate ||
		len(wc.Settings.AllowedOrigins) != 1 || wc.Settings.AllowedOrigins[0] != "*" {
		t.Fatalf("bundled samples context %+v", wc)
	}
	if _, err := deploy.Bundled("nope"); err == nil {
		t.Fatal("an unregistered module deployed")
	}
}

// TestWebappsGovernSamples: a samples folder with its own descriptor
// governs the bundled samples' limits instead of their embedded one.
func TestWebappsGovernSamples(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "samples", "WEB-INF", "jeus-web-dd.xml"), `<jeus-web-dd><websocket>
		<max-incoming-binary-message-buffer-size>1024</max-incoming-binary-message-buffer-size>
	</websocket></jeus-web-dd>`)
	contexts, errs := deploy.Webapps(dir)
	if len(errs) > 0 || len(contexts) != 1 {
		t.Fatalf("%v %v", contexts, errs)
	}
	c := container.New(container.Config{Addr: "127.0.0.1:0"})
	if err := c.Deploy(contexts[0]); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Shutdown(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, _, err := ws.Dial(ctx, "ws://"+c.Addr().String()+"/samples/echo")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	_ = wsutil.WriteClientBinary(conn, make([]byte, 1024))
	if got, err := wsutil.ReadServerBinary(conn); err != nil || len(got) != 1024 {
		t.Fatalf("at the limit: %d %v", len(got), err)
	}
	_ = wsutil.WriteClientBinary(conn, make([]byte, 1025))
	h, err := ws.ReadHeader(conn)
	if err != nil || h.OpCode != ws.OpClose {
		t.Fatalf("over the limit: %+v %v", h, err)
	}
	p := make([]byte, h.Length)
	_, _ = io.ReadFull(conn, p)
	if code, _ := ws.ParseCloseFrameData(p); code != ws.StatusMessageTooBig {
		t.Fatalf("close %d, want 1009", code)
	}
}
