package descriptor

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
)

// FuzzParse holds Parse to its contract on any input: it never panics, and
// it returns either a descriptor that respects every default, clamp and
// range rule and reads back the same once written out, or an *Errors whose
// every problem says what and (for element problems) where.
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"testdata/valid", "testdata/invalid"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.xml"))
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	for _, tc := range valueCases {
		f.Add(valueDoc(tc.xml))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseBytes(b)
		if err != nil {
			if d != nil {
				t.Fatal("a descriptor and an error")
			}
			var errs *Errors
			if !errors.As(err, &errs) || len(errs.Errs) == 0 {
				t.Fatalf("got %T %v, want a non-empty *Errors", err, err)
			}
			for _, e := range errs.Errs {
				if e.Msg == "" || e.Path != "" && !strings.HasPrefix(e.Path, "/") || e.Path != "" && e.Line <= 0 {
					t.Fatalf("badly formed problem %#v", e)
				}
			}
			return
		}
		checkInvariants(t, d)
		_ = d.Resolved()

		// Round trip: what Parse resolved, written back, resolves the same.
		out := marshal(d)
		d2, err := ParseBytes(out)
		if err != nil {
			t.Fatalf("re-parse of\n%s\nfailed: %v", out, err)
		}
		a, b2 := exported(d), exported(d2)
		a.Ignored, b2.Ignored = nil, nil
		if !reflect.DeepEqual(a, b2) {
			t.Fatalf("round trip changed\n%s\ninto\n%s\nvia\n%s", dump(a), dump(b2), out)
		}
	})
}

// marshal writes d as a jeus-web-dd.xml with every element set, for the
// round trip. It lives in the test: wsc reads descriptors, it never writes
// them.
func marshal(d *Descriptor) []byte {
	doc := etree.NewDocument()
	root := doc.CreateElement("jeus-web-dd")
	leaf := func(parent *etree.Element, name, value string) {
		parent.CreateElement(name).SetText(value)
	}
	millis := func(v time.Duration) string { return strconv.FormatInt(max(int64(v/time.Millisecond), 0), 10) }
	if d.ContextPath != "" {
		leaf(root, "context-path", d.ContextPath)
	}
	if d.Module != "" {
		leaf(root, "module", d.Module)
	}
	leaf(root.CreateElement("session-config"), "timeout", strconv.FormatInt(max(int64(d.SessionTimeout/time.Minute), 0), 10))
	w := d.WebSocket
	ws := root.CreateElement("websocket")
	leaf(ws, "max-incoming-text-message-buffer-size", strconv.Itoa(w.MaxTextMessageBytes))
	leaf(ws, "max-incoming-binary-message-buffer-size", strconv.Itoa(w.MaxBinaryMessageBytes))
	leaf(ws, "max-session-idle-timeout-in-millis", millis(w.IdleTimeout))
	leaf(ws, "monitoring-period-in-millis", millis(w.MonitoringPeriod))
	leaf(ws, "blocking-send-timeout-in-millis", millis(w.BlockingSendTimeout))
	leaf(ws, "async-send-timeout-in-millis", millis(w.AsyncSendTimeout))
	x := ws.CreateElement("websocket-executor")
	leaf(x, "min", strconv.Itoa(w.Executor.Min))
	leaf(x, "max", strconv.Itoa(w.Executor.Max))
	leaf(x, "keep-alive-time", millis(w.Executor.KeepAlive))
	leaf(x, "queue-size", strconv.Itoa(w.Executor.QueueSize))
	du := ws.CreateElement("distributed-userProperties")
	leaf(du, "enabled", strconv.FormatBool(w.Distributed.Enabled))
	leaf(du, "use-write-through-policy", strconv.FormatBool(w.Distributed.WriteThrough))
	for _, p := range w.InitParams {
		ip := ws.CreateElement("init-param")
		leaf(ip, "name", p.Name)
		leaf(ip, "value", p.Value)
	}
	leaf(ws, "batching-buffer-size", strconv.Itoa(w.BatchingBufferBytes))
	leaf(ws, "websocket-timeout-min-threads", strconv.Itoa(w.TimeoutMinThreads))
	ao := ws.CreateElement("allowed-origins")
	for _, o := range w.AllowedOrigins {
		leaf(ao, "origin", o)
	}
	tp := ws.CreateElement("trusted-proxies")
	for _, p := range w.TrustedProxies {
		leaf(tp, "proxy", p.String())
	}
	leaf(ws, "permessage-deflate", strconv.FormatBool(w.PerMessageDeflate))
	leaf(ws, "max-sessions", strconv.Itoa(w.MaxSessions))
	doc.Indent(2)
	doc.WriteSettings.CanonicalText = true // keeps a \r in a value a \r
	b, err := doc.WriteToBytes()
	if err != nil {
		panic(err)
	}
	return b
}
