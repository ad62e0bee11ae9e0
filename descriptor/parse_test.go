package descriptor

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/valid/*.resolved from the parser's output")

// validCases pairs each testdata/valid file with its golden Descriptor.
// TestParse_valid and BenchmarkParse share it.
var validCases = []struct {
	file string
	want func() *Descriptor
}{
	{"seed.xml", func() *Descriptor {
		d := Default()
		d.WebSocket.InitParams = []InitParam{{Name: "name", Value: "value"}}
		d.WebSocket.BatchingBufferBytes = 655536 // as written in the seed
		return d
	}},
	{"empty.xml", Default},
	{"failover.xml", func() *Descriptor {
		d := Default()
		d.ContextPath = "/samples"
		d.WebSocket.Distributed.Enabled = true
		return d
	}},
	{"full.xml", func() *Descriptor {
		return &Descriptor{
			ContextPath:    "/chat",
			Module:         "chat",
			SessionTimeout: 45 * time.Minute,
			WebSocket: WebSocket{
				MaxTextMessageBytes:   65536,
				MaxBinaryMessageBytes: 1 << 20,
				IdleTimeout:           10 * time.Minute,
				MonitoringPeriod:      15 * time.Second,
				BlockingSendTimeout:   5 * time.Second,
				AsyncSendTimeout:      20 * time.Second,
				Executor:              Executor{Min: 0, Max: 64, KeepAlive: 0, QueueSize: 1000},
				Distributed:           DistributedUserProperties{Enabled: true, WriteThrough: true},
				InitParams: []InitParam{
					{Name: "room.max-users", Value: "100"},
					{Name: "welcome", Value: ""},
					{Name: "motd", Value: "Hello,  world"},
				},
				BatchingBufferBytes: 32768,
				TimeoutMinThreads:   2,
				AllowedOrigins:      []string{"https://chat.example.com", "http://localhost:8080", "http://[::1]:8080"},
				TrustedProxies: []netip.Prefix{
					netip.MustParsePrefix("10.0.0.0/8"),
					netip.MustParsePrefix("192.168.1.10/32"),
					netip.MustParsePrefix("fd00::/8"),
					netip.MustParsePrefix("::1/128"),
				},
				PerMessageDeflate: true,
				MaxSessions:       10000,
			},
			Ignored: []string{
				"/jeus-web-dd/docbase",
				"/jeus-web-dd/auto-reload",
				"/jeus-web-dd/session-config/tracking-mode",
			},
		}
	}},
	{"clamps.xml", func() *Descriptor {
		d := Default()
		d.SessionTimeout = Disabled
		d.WebSocket.IdleTimeout = time.Second
		d.WebSocket.MonitoringPeriod = time.Second
		d.WebSocket.Executor.Max = 4
		d.WebSocket.Executor.Min = 4 // the default 10 follows max down
		return d
	}},
	{"disabled.xml", func() *Descriptor {
		d := Default()
		d.WebSocket.IdleTimeout = Disabled
		d.WebSocket.MonitoringPeriod = time.Second
		d.WebSocket.TrustedProxies = nil
		return d
	}},
	{"prefixed.xml", func() *Descriptor {
		d := Default()
		d.ContextPath = "/"
		d.WebSocket.AllowedOrigins = []string{"*"}
		return d
	}},
}

func TestParse_valid(t *testing.T) {
	files, _ := filepath.Glob("testdata/valid/*.xml")
	if len(files) != len(validCases) {
		t.Errorf("%d files in testdata/valid, %d cases: give every file a golden struct", len(files), len(validCases))
	}
	for _, tc := range validCases {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join("testdata/valid", tc.file)
			got, err := ParseFile(path)
			if err != nil {
				t.Fatal(err)
			}
			checkInvariants(t, got)
			want := tc.want()
			if g := exported(got); !reflect.DeepEqual(g, want) {
				t.Errorf("got\n%s\nwant\n%s", dump(g), dump(want))
			}

			var table bytes.Buffer
			if err := got.WriteResolved(&table); err != nil {
				t.Fatal(err)
			}
			golden := strings.TrimSuffix(path, ".xml") + ".resolved"
			if *update {
				if err := os.WriteFile(golden, table.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			wantTable, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if table.String() != string(wantTable) {
				t.Errorf("Resolved table differs from %s (go test -update rewrites it):\n%s", golden, table.String())
			}
		})
	}
}

// want is one `<!-- want: PATH: substring -->` line of an invalid file;
// PATH "-" stands for a problem with the file as a whole.
type want struct{ path, substr string }

var wantRE = regexp.MustCompile(`<!--\s*want:\s*(\S+): (.*?)\s*-->`)

func readWants(tb testing.TB, b []byte) []want {
	var wants []want
	for _, m := range wantRE.FindAllSubmatch(b, -1) {
		w := want{path: string(m[1]), substr: string(m[2])}
		if w.path == "-" {
			w.path = ""
		}
		wants = append(wants, w)
	}
	if len(wants) == 0 {
		tb.Fatal("no <!-- want: PATH: substring --> comment")
	}
	return wants
}

func invalidFiles(tb testing.TB) []string {
	files, err := filepath.Glob("testdata/invalid/*.xml")
	if err != nil || len(files) == 0 {
		tb.Fatalf("no testdata/invalid files: %v", err)
	}
	return files
}

// TestParse_invalid checks that each file in testdata/invalid yields exactly
// the problems its want comments name, in order, each located.
func TestParse_invalid(t *testing.T) {
	for _, path := range invalidFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			wants := readWants(t, b)
			d, err := ParseFile(path)
			if d != nil {
				t.Errorf("got a descriptor with the error %v", err)
			}
			var errs *Errors
			if !errors.As(err, &errs) {
				t.Fatalf("got %T %v, want *Errors", err, err)
			}
			if len(errs.Errs) != len(wants) {
				t.Errorf("got %d problems, want %d:\n%v", len(errs.Errs), len(wants), err)
			}
			for i, w := range wants {
				if i >= len(errs.Errs) {
					break
				}
				e := errs.Errs[i]
				if e.Path != w.path || !strings.Contains(e.Msg, w.substr) {
					t.Errorf("problem %d:\n got %s: %s\nwant %s: …%s…", i+1, e.Path, e.Msg, w.path, w.substr)
				}
				if e.File != path {
					t.Errorf("problem %d: File = %q, want %q", i+1, e.File, path)
				}
				if e.Path != "" && e.Line == 0 {
					t.Errorf("problem %d (%s) has no line", i+1, e.Path)
				}
				if !strings.HasPrefix(e.Error(), "descriptor: "+path) {
					t.Errorf("problem %d: Error() = %q, want the package prefix and file", i+1, e.Error())
				}
			}
			if n := strings.Count(err.Error(), "\n") + 1; n != len(errs.Errs) {
				t.Errorf("Error() has %d lines for %d problems", n, len(errs.Errs))
			}
		})
	}
}

func TestParse_lines(t *testing.T) {
	const doc = `<jeus-web-dd>
  <websocket>
    <init-param><name>a</name><value>1</value></init-param>
    <init-param>
      <name>a</name>
      <value>2</value>
    </init-param>
    <websocket-executor
        bogus="1">
      <max>x</max>
    </websocket-executor>
  </websocket>
</jeus-web-dd>`
	_, err := ParseBytes([]byte(doc))
	var errs *Errors
	if !errors.As(err, &errs) {
		t.Fatalf("got %v, want *Errors", err)
	}
	var got []string
	for _, e := range errs.Errs {
		got = append(got, fmt.Sprintf("%d %s", e.Line, e.Path))
	}
	want := []string{
		"5 /jeus-web-dd/websocket/init-param[2]/name",
		"8 /jeus-web-dd/websocket/websocket-executor",
		"10 /jeus-web-dd/websocket/websocket-executor/max",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if s := errs.Errs[0].Error(); !strings.HasPrefix(s, "descriptor: line 5: /jeus-web-dd/websocket/init-param[2]/name: ") {
		t.Errorf("Error() = %q", s)
	}
}

func TestParse_malformed(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		line      int
		substr    string
	}{
		{"mismatched", "<jeus-web-dd>\n<websocket>\n</jeus-web-dd>", 3, "closed by"},
		{"unclosed", "<jeus-web-dd>\n<websocket>\n", 3, "unexpected EOF"},
		{"bad entity", "<jeus-web-dd>\n<module>&nope;</module></jeus-web-dd>", 2, "entity"},
		{"too deep", "<jeus-web-dd>\n" + strings.Repeat("<a>", 100) + strings.Repeat("</a>", 100) + "</jeus-web-dd>", 2, "nested more than 64 deep"},
		{"invalid UTF-8", "<jeus-web-dd><module>\xff</module></jeus-web-dd>", 1, "invalid UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseBytes([]byte(tc.doc))
			var errs *Errors
			if !errors.As(err, &errs) || len(errs.Errs) != 1 {
				t.Fatalf("got %v, want one problem", err)
			}
			e := errs.Errs[0]
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("%v does not wrap ErrMalformed", err)
			}
			if e.Line != tc.line || !strings.Contains(e.Msg, tc.substr) {
				t.Errorf("got line %d %q, want line %d …%s…", e.Line, e.Msg, tc.line, tc.substr)
			}
		})
	}
}

func TestParse_tooLarge(t *testing.T) {
	b := []byte("<jeus-web-dd>" + strings.Repeat(" ", MaxFileBytes) + "</jeus-web-dd>")
	_, err := Parse(bytes.NewReader(b))
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
}

func TestParseFile_missing(t *testing.T) {
	_, err := ParseFile("testdata/nope.xml")
	var errs *Errors
	if !errors.Is(err, os.ErrNotExist) || errors.As(err, &errs) || !strings.HasPrefix(err.Error(), "descriptor: ") {
		t.Fatalf("got %v, want a wrapped os.ErrNotExist", err)
	}
}

// valueCases are single <websocket> children and the value they resolve to.
// TestParse_values and BenchmarkParse share them.
var valueCases = []struct {
	name string
	xml  string // inside <websocket>
	get  func(*WebSocket) any
	want any
}{
	{"idle 1 counts as 1000", "<max-session-idle-timeout-in-millis>1</max-session-idle-timeout-in-millis>", idle, time.Second},
	{"idle 999 counts as 1000", "<max-session-idle-timeout-in-millis>999</max-session-idle-timeout-in-millis>", idle, time.Second},
	{"idle 1000", "<max-session-idle-timeout-in-millis>1000</max-session-idle-timeout-in-millis>", idle, time.Second},
	{"idle 1001", "<max-session-idle-timeout-in-millis>1001</max-session-idle-timeout-in-millis>", idle, 1001 * time.Millisecond},
	{"idle 0 disables", "<max-session-idle-timeout-in-millis>0</max-session-idle-timeout-in-millis>", idle, Disabled},
	{"idle -1 disables", "<max-session-idle-timeout-in-millis>-1</max-session-idle-timeout-in-millis>", idle, Disabled},
	{"idle -9223372036854775808 disables", "<max-session-idle-timeout-in-millis>-9223372036854775808</max-session-idle-timeout-in-millis>", idle, Disabled},
	{"monitoring -1 counts as 1000", "<monitoring-period-in-millis>-1</monitoring-period-in-millis>", monitoring, time.Second},
	{"monitoring 0 counts as 1000", "<monitoring-period-in-millis>0</monitoring-period-in-millis>", monitoring, time.Second},
	{"monitoring 999 counts as 1000", "<monitoring-period-in-millis>999</monitoring-period-in-millis>", monitoring, time.Second},
	{"monitoring 1500", "<monitoring-period-in-millis>1500</monitoring-period-in-millis>", monitoring, 1500 * time.Millisecond},
	{"send timeout 1", "<blocking-send-timeout-in-millis>1</blocking-send-timeout-in-millis>", func(w *WebSocket) any { return w.BlockingSendTimeout }, time.Millisecond},
	{"boolean true", "<permessage-deflate>true</permessage-deflate>", deflate, true},
	{"boolean 1", "<permessage-deflate>1</permessage-deflate>", deflate, true},
	{"boolean false", "<permessage-deflate>false</permessage-deflate>", deflate, false},
	{"boolean 0", "<permessage-deflate> 0 </permessage-deflate>", deflate, false},
	{"leading plus and zeros", "<max-incoming-text-message-buffer-size>+0010</max-incoming-text-message-buffer-size>", func(w *WebSocket) any { return w.MaxTextMessageBytes }, 10},
	{"largest size", "<batching-buffer-size>2147483647</batching-buffer-size>", func(w *WebSocket) any { return w.BatchingBufferBytes }, MaxInt},
	{"value in CDATA", "<max-sessions><![CDATA[ 5 ]]></max-sessions>", func(w *WebSocket) any { return w.MaxSessions }, 5},
	{"min equal to max", "<websocket-executor><min>7</min><max>7</max></websocket-executor>", func(w *WebSocket) any { return [2]int{w.Executor.Min, w.Executor.Max} }, [2]int{7, 7}},
	{"default min follows max", "<websocket-executor><max>1</max></websocket-executor>", func(w *WebSocket) any { return [2]int{w.Executor.Min, w.Executor.Max} }, [2]int{1, 1}},
	{"min 0", "<websocket-executor><min>0</min></websocket-executor>", func(w *WebSocket) any { return w.Executor.Min }, 0},
	{"origin lower-cased", "<allowed-origins><origin>HTTPS://EXAMPLE.com:8443</origin></allowed-origins>", func(w *WebSocket) any { return w.AllowedOrigins }, []string{"https://example.com:8443"}},
	{"IPv4-mapped proxy is IPv4", "<trusted-proxies><proxy>::ffff:10.0.0.1</proxy><proxy>::ffff:192.168.0.0/112</proxy></trusted-proxies>", func(w *WebSocket) any { return w.TrustedProxies }, []netip.Prefix{netip.MustParsePrefix("10.0.0.1/32"), netip.MustParsePrefix("192.168.0.0/16")}},
	{"init-param value with CR", "<init-param><name>x</name><value>a&#xD;b</value></init-param>", func(w *WebSocket) any { v, _ := w.InitParam("x"); return v }, "a\rb"},
	{"IPv6 proxy", "<trusted-proxies><proxy>2001:db8::1</proxy></trusted-proxies>", func(w *WebSocket) any { return w.TrustedProxies }, []netip.Prefix{netip.MustParsePrefix("2001:db8::1/128")}},
	{"init-param order kept", "<init-param><name>b</name><value>2</value></init-param><init-param><name>a</name><value>1</value></init-param>", func(w *WebSocket) any { return w.InitParams }, []InitParam{{"b", "2"}, {"a", "1"}}},
	{"init-param value with markup", "<init-param><name>x</name><value>a &lt; b &amp; c</value></init-param>", func(w *WebSocket) any { v, _ := w.InitParam("x"); return v }, "a < b & c"},
}

func idle(w *WebSocket) any       { return w.IdleTimeout }
func monitoring(w *WebSocket) any { return w.MonitoringPeriod }
func deflate(w *WebSocket) any    { return w.PerMessageDeflate }

func valueDoc(inner string) []byte {
	return []byte("<jeus-web-dd><websocket>" + inner + "</websocket></jeus-web-dd>")
}

func TestParse_values(t *testing.T) {
	for _, tc := range valueCases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := ParseBytes(valueDoc(tc.xml))
			if err != nil {
				t.Fatal(err)
			}
			checkInvariants(t, d)
			if got := tc.get(&d.WebSocket); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestDefaults pins every default: change one here only on purpose, and
// update doc.go and DESIGN.md §4 with it.
func TestDefaults(t *testing.T) {
	want := &Descriptor{
		ContextPath:    "",
		Module:         "",
		SessionTimeout: 30 * time.Minute,
		WebSocket: WebSocket{
			MaxTextMessageBytes:   8192,
			MaxBinaryMessageBytes: 8192,
			IdleTimeout:           1800000 * time.Millisecond,
			MonitoringPeriod:      300000 * time.Millisecond,
			BlockingSendTimeout:   10000 * time.Millisecond,
			AsyncSendTimeout:      30000 * time.Millisecond,
			Executor:              Executor{Min: 10, Max: 30, KeepAlive: 60000 * time.Millisecond, QueueSize: 4096},
			Distributed:           DistributedUserProperties{Enabled: false, WriteThrough: false},
			InitParams:            nil,
			BatchingBufferBytes:   65536,
			TimeoutMinThreads:     1,
			AllowedOrigins:        nil,
			TrustedProxies:        []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
			PerMessageDeflate:     false,
			MaxSessions:           0,
		},
	}
	if got := Default(); !reflect.DeepEqual(got, want) {
		t.Errorf("Default() =\n%s\nwant\n%s", dump(got), dump(want))
	}
	if got := DefaultWebSocket(); !reflect.DeepEqual(got, want.WebSocket) {
		t.Errorf("DefaultWebSocket() = %+v", got)
	}
	// Each call gets its own slices.
	a, b := Default(), Default()
	a.WebSocket.TrustedProxies[0] = netip.Prefix{}
	if b.WebSocket.TrustedProxies[0] != want.WebSocket.TrustedProxies[0] {
		t.Error("Default() shares TrustedProxies between calls")
	}
	// Absent <websocket> and an empty one both mean the defaults.
	for _, doc := range []string{"<jeus-web-dd/>", "<jeus-web-dd><websocket/></jeus-web-dd>", "<jeus-web-dd><websocket> </websocket></jeus-web-dd>"} {
		d, err := ParseBytes([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		if got := exported(d); !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n%s", doc, dump(got))
		}
	}
}

func TestSuggest(t *testing.T) {
	for _, tc := range []struct {
		name   string
		known  []string
		strict bool
		want   string
	}{
		{"websockets", rootGroup.names(), false, "websocket"},
		{"WebSocket", rootGroup.names(), false, "websocket"},
		{"docbase", rootGroup.names(), false, ""},
		{"auto-reload", rootGroup.names(), false, ""},
		{"session-cookie", rootGroup.names(), false, ""},
		{"max-incoming-txt-msg-buffer-size", websocketGroup.names(), true, ""},
		{"max-incoming-text-message-buffersize", websocketGroup.names(), true, "max-incoming-text-message-buffer-size"},
		{"param-name", initParamGroup.names(), true, "name"},
		{"mix", executorGroup.names(), true, "min"},
	} {
		if got := suggest(tc.name, tc.known, tc.strict); got != tc.want {
			t.Errorf("suggest(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// exported returns d without its unexported bookkeeping, for comparison
// with a golden struct.
func exported(d *Descriptor) *Descriptor {
	c := *d
	c.written = nil
	return &c
}

func dump(d *Descriptor) string {
	return fmt.Sprintf("%+v", *d)
}

// checkInvariants fails t unless d respects every default, clamp and range
// rule of the package.
func checkInvariants(tb testing.TB, d *Descriptor) {
	tb.Helper()
	w := d.WebSocket
	x := w.Executor
	check := func(ok bool, format string, args ...any) {
		tb.Helper()
		if !ok {
			tb.Errorf("invariant broken: "+format, args...)
		}
	}
	inInt := func(name string, v, lo int) {
		tb.Helper()
		check(v >= lo && v <= MaxInt, "%s = %d, want %d…%d", name, v, lo, MaxInt)
	}
	inInt("MaxTextMessageBytes", w.MaxTextMessageBytes, 1)
	inInt("MaxBinaryMessageBytes", w.MaxBinaryMessageBytes, 1)
	inInt("BatchingBufferBytes", w.BatchingBufferBytes, 1)
	inInt("TimeoutMinThreads", w.TimeoutMinThreads, 1)
	inInt("MaxSessions", w.MaxSessions, 0)
	inInt("Executor.Max", x.Max, 1)
	inInt("Executor.QueueSize", x.QueueSize, 1)
	check(x.Min >= 0 && x.Min <= x.Max, "Executor.Min = %d, Max = %d", x.Min, x.Max)
	check(x.KeepAlive >= 0 && x.KeepAlive%time.Millisecond == 0, "Executor.KeepAlive = %v", x.KeepAlive)
	check(w.IdleTimeout == Disabled || w.IdleTimeout >= MinTimeout && w.IdleTimeout%time.Millisecond == 0, "IdleTimeout = %v", w.IdleTimeout)
	check(w.MonitoringPeriod >= MinTimeout && w.MonitoringPeriod%time.Millisecond == 0, "MonitoringPeriod = %v", w.MonitoringPeriod)
	check(w.BlockingSendTimeout >= time.Millisecond && w.BlockingSendTimeout%time.Millisecond == 0, "BlockingSendTimeout = %v", w.BlockingSendTimeout)
	check(w.AsyncSendTimeout >= time.Millisecond && w.AsyncSendTimeout%time.Millisecond == 0, "AsyncSendTimeout = %v", w.AsyncSendTimeout)
	check(d.SessionTimeout == Disabled || d.SessionTimeout >= time.Minute && d.SessionTimeout%time.Minute == 0, "SessionTimeout = %v", d.SessionTimeout)
	check(d.ContextPath == "" || checkContextPath(d.ContextPath) == "", "ContextPath = %q", d.ContextPath)
	check(!strings.ContainsFunc(d.Module, func(r rune) bool { return r <= ' ' }), "Module = %q", d.Module)
	names := make(map[string]bool)
	for _, p := range w.InitParams {
		check(p.Name != "" && !names[p.Name], "init-param name %q empty or repeated", p.Name)
		check(p.Name == trim(p.Name) && p.Value == trim(p.Value), "init-param %q not trimmed", p.Name)
		names[p.Name] = true
	}
	origins := make(map[string]bool)
	for _, o := range w.AllowedOrigins {
		canon, msg := parseOrigin(o)
		check(msg == "" && canon == o && !origins[o], "origin %q", o)
		origins[o] = true
	}
	proxies := make(map[netip.Prefix]bool)
	for _, p := range w.TrustedProxies {
		check(p.IsValid() && p == p.Masked() && !p.Addr().Is4In6() && !proxies[p], "proxy %v", p)
		proxies[p] = true
	}
	check(len(w.AllowedOrigins) > 0 || w.AllowedOrigins == nil, "empty non-nil AllowedOrigins")
	check(len(w.TrustedProxies) > 0 || w.TrustedProxies == nil, "empty non-nil TrustedProxies")
}

// BenchmarkParse parses every test file and value case.
func BenchmarkParse(b *testing.B) {
	type input struct {
		name string
		doc  []byte
	}
	var inputs []input
	for _, tc := range validCases {
		doc, err := os.ReadFile(filepath.Join("testdata/valid", tc.file))
		if err != nil {
			b.Fatal(err)
		}
		inputs = append(inputs, input{"valid/" + tc.file, doc})
	}
	for _, path := range invalidFiles(b) {
		doc, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		inputs = append(inputs, input{"invalid/" + filepath.Base(path), doc})
	}
	for _, tc := range valueCases {
		inputs = append(inputs, input{"value/" + tc.name, valueDoc(tc.xml)})
	}
	for _, in := range inputs {
		b.Run(in.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in.doc)))
			for b.Loop() {
				_, _ = ParseBytes(in.doc)
			}
		})
	}
}
