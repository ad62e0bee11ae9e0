package container

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/wsc-dev/wsc/endpoint"
)

// handshakeContainer is a container (not started) with an endpoint at
// /app/ws, same-origin policy and permessage-deflate on.
func handshakeContainer(tb testing.TB) *Container {
	tb.Helper()
	c := New(Config{})
	err := c.Deploy(WebContext{
		Path:     "/app",
		Settings: Settings{PerMessageDeflate: true},
		Endpoints: []*endpoint.ServerConfig{{
			Path:         "/ws",
			New:          func() endpoint.Endpoint { return endpoint.Base{} },
			Subprotocols: []string{"chat.v2", "chat.v1"},
		}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

const goodRequest = "GET /app/ws?room=1 HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"

// edit returns goodRequest with a header line replaced (or removed when
// with is "").
func edit(name, with string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(goodRequest, "\r\n") {
		if strings.HasPrefix(line, name+":") {
			if with != "" {
				b.WriteString(with + "\r\n")
			}
			continue
		}
		b.WriteString(line)
	}
	return b.String()
}

func withHeader(h string) string {
	return strings.TrimSuffix(goodRequest, "\r\n") + h + "\r\n\r\n"
}

// handshakeCases are requests and the status they get; the tests, the
// benchmark and the fuzzer's seed corpus share them.
var handshakeCases = []struct {
	label      string
	req        string
	status     int    // 101 on success
	wantHeader string // a header line the response must contain
	subproto   string
	deflate    bool
}{
	{label: "ok", req: goodRequest, status: 101, wantHeader: "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="},
	{label: "not_upgrade", req: "GET /app/ws HTTP/1.1\r\nHost: example.com\r\n\r\n", status: 426, wantHeader: "Upgrade: websocket"},
	{label: "upgrade_h2c", req: edit("Upgrade", "Upgrade: h2c"), status: 426},
	{label: "post", req: strings.Replace(goodRequest, "GET", "POST", 1), status: 400},
	{label: "http10", req: strings.Replace(goodRequest, "HTTP/1.1", "HTTP/1.0", 1), status: 505},
	{label: "no_version", req: edit("Sec-WebSocket-Version", ""), status: 400, wantHeader: "Sec-WebSocket-Version: 13"},
	{label: "version_8", req: edit("Sec-WebSocket-Version", "Sec-WebSocket-Version: 8"), status: 400, wantHeader: "Sec-WebSocket-Version: 13"},
	{label: "no_key", req: edit("Sec-WebSocket-Key", ""), status: 400},
	{label: "key_not_base64", req: edit("Sec-WebSocket-Key", "Sec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!!!"), status: 400},
	{label: "key_short", req: edit("Sec-WebSocket-Key", "Sec-WebSocket-Key: c2hvcnQ="), status: 400},
	{label: "no_host", req: edit("Host", ""), status: 400},
	{label: "no_connection", req: edit("Connection", ""), status: 400},
	{label: "unknown_path", req: strings.Replace(goodRequest, "/app/ws", "/app/nope", 1), status: 404},
	{label: "other_context", req: strings.Replace(goodRequest, "/app/ws", "/other/ws", 1), status: 404},
	{label: "context_prefix_only", req: strings.Replace(goodRequest, "/app/ws", "/applause/ws", 1), status: 404},
	{label: "same_origin", req: withHeader("Origin: http://example.com"), status: 101},
	{label: "cross_origin", req: withHeader("Origin: http://evil.example"), status: 403},
	{label: "subprotocol_client_order", req: withHeader("Sec-WebSocket-Protocol: chat.v1, chat.v2"), status: 101,
		wantHeader: "Sec-WebSocket-Protocol: chat.v1", subproto: "chat.v1"},
	{label: "subprotocol_none_shared", req: withHeader("Sec-WebSocket-Protocol: mqtt"), status: 101},
	{label: "deflate", req: withHeader("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"), status: 101,
		wantHeader: "permessage-deflate", deflate: true},
	{label: "deflate_small_server_window_declined", req: withHeader("Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10"), status: 101},
	{label: "deflate_second_offer", req: withHeader("Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10, permessage-deflate"), status: 101,
		wantHeader: "permessage-deflate", deflate: true},
	{label: "unknown_extension", req: withHeader("Sec-WebSocket-Extensions: x-webkit-deflate-frame"), status: 101},
}

func TestHandshake(t *testing.T) {
	c := handshakeContainer(t)
	for _, tc := range handshakeCases {
		t.Run(tc.label, func(t *testing.T) {
			res, rej := c.handshake([]byte(tc.req), nil)
			if tc.status != http.StatusSwitchingProtocols {
				if rej == nil {
					t.Fatalf("accepted; want %d", tc.status)
				}
				if rej.Status != tc.status {
					t.Fatalf("status %d (%s), want %d", rej.Status, rej.Reason, tc.status)
				}
				if tc.wantHeader != "" && !strings.Contains(rej.Header, tc.wantHeader) {
					t.Fatalf("headers %q lack %q", rej.Header, tc.wantHeader)
				}
				return
			}
			if rej != nil {
				t.Fatalf("rejected: %v", rej)
			}
			if !bytes.HasPrefix(res.response, []byte("HTTP/1.1 101 ")) {
				t.Fatalf("response %q", res.response)
			}
			if tc.wantHeader != "" && !bytes.Contains(res.response, []byte(tc.wantHeader)) {
				t.Fatalf("response %q lacks %q", res.response, tc.wantHeader)
			}
			if res.subprot != tc.subproto {
				t.Fatalf("subprotocol %q, want %q", res.subprot, tc.subproto)
			}
			if (res.deflate != nil) != tc.deflate {
				t.Fatalf("deflate negotiated = %v, want %v", res.deflate != nil, tc.deflate)
			}
			if res.ep == nil || res.ep.fullPath != "/app/ws" || res.uri != "/app/ws?room=1" {
				t.Fatalf("routed to %+v uri %q", res.ep, res.uri)
			}
		})
	}
}

func TestOriginPolicy(t *testing.T) {
	cases := []struct {
		allowed      []string
		origin, host string
		ok           bool
	}{
		{nil, "", "h", true},
		{nil, "http://h", "h", true},
		{nil, "https://h:8443", "h:8443", true},
		{nil, "http://x", "h", false},
		{nil, "null", "h", false},
		{[]string{"*"}, "http://x", "h", true},
		{[]string{"https://a.example"}, "https://a.example", "h", true},
		{[]string{"https://a.example"}, "https://b.example", "h", false},
		{[]string{"https://a.example"}, "http://h", "h", false},
	}
	for _, tc := range cases {
		ctx := &webContext{settings: Settings{AllowedOrigins: tc.allowed}}
		if got := ctx.originAllowed(tc.origin, tc.host); got != tc.ok {
			t.Errorf("allowed=%v origin=%q host=%q: got %v", tc.allowed, tc.origin, tc.host, got)
		}
	}
}

func BenchmarkHandshake(b *testing.B) {
	c := handshakeContainer(b)
	req := []byte(goodRequest)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, rej := c.handshake(req, nil); rej != nil {
			b.Fatal(rej)
		}
	}
}

// FuzzHandshake feeds arbitrary requests to the handshake: it must never
// panic, a rejection must carry a client or server error status, and an
// acceptance must be a 101 for the deployed endpoint.
func FuzzHandshake(f *testing.F) {
	for _, tc := range handshakeCases {
		f.Add([]byte(tc.req))
	}
	c := handshakeContainer(f)
	f.Fuzz(func(t *testing.T, req []byte) {
		res, rej := c.handshake(req, nil)
		if rej != nil {
			if rej.Status < 400 || rej.Status > 599 {
				t.Fatalf("rejection status %d", rej.Status)
			}
			return
		}
		if !bytes.HasPrefix(res.response, []byte("HTTP/1.1 101 ")) || res.ep == nil {
			t.Fatalf("accepted without a 101 or an endpoint: %q", res.response)
		}
	})
}
