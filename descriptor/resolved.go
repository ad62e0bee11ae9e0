package descriptor

import (
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Setting is one row of [Descriptor.Resolved]: an element and the value the
// container will use.
type Setting struct {
	// Element is the element's path below the root, such as
	// "websocket/websocket-executor/max".
	Element string
	// Value is the resolved value with its unit, such as "8192 bytes",
	// "1000 ms (1s)" or "disabled".
	Value string
	// Note says where the value came from: "default" when the element is
	// absent, "999 → 1000 (clamped)" or "-5 → disabled" when a rule changed
	// what was written, "ignored" for an element wsc does not use, and ""
	// when the value is as written.
	Note string
}

// Resolved lists every setting of the descriptor with its resolved value,
// in the order of the seed's example followed by our extensions, then the
// ignored elements. Notes reflect the file that Parse read; for a
// Descriptor changed afterwards they may be stale.
func (d *Descriptor) Resolved() []Setting {
	r := resolver{d: d}
	w := &d.WebSocket
	def := DefaultWebSocket()

	r.text("context-path", d.ContextPath)
	r.text("module", d.Module)
	r.timeout("session-config/timeout", d.SessionTimeout, 30*time.Minute, time.Minute, "never expires")

	r.size("websocket/max-incoming-binary-message-buffer-size", w.MaxBinaryMessageBytes, def.MaxBinaryMessageBytes)
	r.size("websocket/max-incoming-text-message-buffer-size", w.MaxTextMessageBytes, def.MaxTextMessageBytes)
	r.timeout("websocket/max-session-idle-timeout-in-millis", w.IdleTimeout, def.IdleTimeout, time.Millisecond, "disabled")
	r.timeout("websocket/monitoring-period-in-millis", w.MonitoringPeriod, def.MonitoringPeriod, time.Millisecond, "")
	r.timeout("websocket/blocking-send-timeout-in-millis", w.BlockingSendTimeout, def.BlockingSendTimeout, time.Millisecond, "")
	r.timeout("websocket/async-send-timeout-in-millis", w.AsyncSendTimeout, def.AsyncSendTimeout, time.Millisecond, "")
	if _, ok := d.written["websocket/websocket-executor/min"]; !ok && w.Executor.Min != def.Executor.Min && w.Executor.Min == w.Executor.Max {
		r.add("websocket/websocket-executor/min", strconv.Itoa(w.Executor.Min),
			"default "+strconv.Itoa(def.Executor.Min)+" → "+strconv.Itoa(w.Executor.Min)+" (follows max)")
	} else {
		r.count("websocket/websocket-executor/min", w.Executor.Min, def.Executor.Min, "")
	}
	r.count("websocket/websocket-executor/max", w.Executor.Max, def.Executor.Max, "")
	r.timeout("websocket/websocket-executor/keep-alive-time", w.Executor.KeepAlive, def.Executor.KeepAlive, time.Millisecond, "")
	r.count("websocket/websocket-executor/queue-size", w.Executor.QueueSize, def.Executor.QueueSize, "")
	r.boolean("websocket/distributed-userProperties/enabled", w.Distributed.Enabled, def.Distributed.Enabled)
	r.boolean("websocket/distributed-userProperties/use-write-through-policy", w.Distributed.WriteThrough, def.Distributed.WriteThrough)
	if len(w.InitParams) == 0 {
		r.add("websocket/init-param", "(none)", "default")
	}
	for _, prm := range w.InitParams {
		r.add("websocket/init-param", prm.Name+" = "+strconv.Quote(prm.Value), "")
	}
	r.size("websocket/batching-buffer-size", w.BatchingBufferBytes, def.BatchingBufferBytes)
	r.count("websocket/websocket-timeout-min-threads", w.TimeoutMinThreads, def.TimeoutMinThreads, "")

	origins := "same-origin"
	if len(w.AllowedOrigins) > 0 {
		origins = strings.Join(w.AllowedOrigins, ", ")
	}
	r.list("websocket/allowed-origins", origins, len(w.AllowedOrigins) == 0)
	proxies := make([]string, len(w.TrustedProxies))
	for i, p := range w.TrustedProxies {
		proxies[i] = p.String()
	}
	value := strings.Join(proxies, ", ")
	if len(proxies) == 0 {
		value = "none"
	}
	r.list("websocket/trusted-proxies", value, value == "127.0.0.0/8, ::1/128")
	r.boolean("websocket/permessage-deflate", w.PerMessageDeflate, def.PerMessageDeflate)
	r.count("websocket/max-sessions", w.MaxSessions, def.MaxSessions, "unlimited")

	for _, path := range d.Ignored {
		r.add(strings.TrimPrefix(path, "/"+rootName+"/"), "-", "ignored: not used by wsc")
	}
	return r.rows
}

// WriteResolved writes Resolved as a table in three aligned columns,
// ELEMENT, VALUE and NOTE, with a header line.
func (d *Descriptor) WriteResolved(w io.Writer) error {
	rows := append([]Setting{{"ELEMENT", "VALUE", "NOTE"}}, d.Resolved()...)
	var we, wv int
	for _, s := range rows {
		we = max(we, utf8.RuneCountInString(s.Element))
		wv = max(wv, utf8.RuneCountInString(s.Value))
	}
	var b strings.Builder
	for _, s := range rows {
		line := pad(s.Element, we+2) + pad(s.Value, wv+2) + s.Note
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func pad(s string, width int) string {
	return s + strings.Repeat(" ", max(width-utf8.RuneCountInString(s), 0))
}

type resolver struct {
	d    *Descriptor
	rows []Setting
}

func (r *resolver) add(elem, value, note string) {
	r.rows = append(r.rows, Setting{Element: elem, Value: value, Note: note})
}

// note returns the note of a value whose canonical written form would be
// got, given the default's.
func (r *resolver) note(key, got string, isDefault bool) string {
	w, ok := r.d.written[key]
	switch {
	case !ok && isDefault:
		return "default"
	case !ok:
		return ""
	case w != got:
		return w + " → " + got + " (clamped)"
	}
	return ""
}

func (r *resolver) text(key, v string) {
	if v == "" {
		r.add(key, "(not set)", "default")
		return
	}
	r.add(key, v, "")
}

func (r *resolver) size(key string, v, def int) {
	r.add(key, strconv.Itoa(v)+" bytes", r.note(key, strconv.Itoa(v), v == def))
}

func (r *resolver) count(key string, v, def int, zero string) {
	value := strconv.Itoa(v)
	if v == 0 && zero != "" {
		value += " (" + zero + ")"
	}
	r.add(key, value, r.note(key, strconv.Itoa(v), v == def))
}

func (r *resolver) boolean(key string, v, def bool) {
	r.add(key, strconv.FormatBool(v), r.note(key, strconv.FormatBool(v), v == def))
}

func (r *resolver) list(key, value string, isDefault bool) {
	note := ""
	if _, ok := r.d.written[key]; !ok && isDefault {
		note = "default"
	}
	r.add(key, value, note)
}

// timeout adds a time written in unit (ms or minutes); disabled names the
// meaning of Disabled, or is "" when the element cannot be disabled.
func (r *resolver) timeout(key string, v, def, unit time.Duration, disabled string) {
	name := " ms"
	if unit == time.Minute {
		name = " min"
	}
	if v < 0 && disabled != "" {
		note := r.note(key, "", v == def)
		if w, ok := r.d.written[key]; ok {
			note = w + " → " + disabled
		}
		r.add(key, disabled, note)
		return
	}
	n := strconv.FormatInt(int64(v/unit), 10)
	value := n + name
	if unit == time.Millisecond && v >= time.Second {
		value += " (" + v.String() + ")"
	}
	r.add(key, value, r.note(key, n, v == def))
}
