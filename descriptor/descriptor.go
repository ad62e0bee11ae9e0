package descriptor

import (
	"net/netip"
	"time"
)

// Disabled is the value of a timeout that never fires: an idle timeout of
// zero or less in the file, or an HTTP session timeout of zero or less.
// Parse normalises every such value to exactly Disabled, so callers test
// d < 0 or d == Disabled.
const Disabled time.Duration = -1

// Limits of the values Parse accepts.
const (
	// MaxFileBytes is the largest descriptor Parse reads: 1 MiB, far more
	// than any jeus-web-dd.xml needs, so that pointing `wsc check` at the
	// wrong file fails fast.
	MaxFileBytes = 1 << 20
	// MaxInt is the largest size or count an element accepts, the largest
	// Java int as in JEUS.
	MaxInt = 1<<31 - 1
	// MinTimeout is the clamp of the seed: a max-session-idle-timeout-in-millis
	// with 0 < v < 1000, and any monitoring-period-in-millis below 1000,
	// counts as 1000 ms.
	MinTimeout = time.Second
)

// Descriptor is one web context's jeus-web-dd.xml, resolved: every field
// holds the value the container should use, defaults filled in and clamps
// applied. Get one from [Parse], [ParseBytes], [ParseFile] or [Default];
// a zero Descriptor is not meaningful (its WebSocket has zero buffer sizes).
type Descriptor struct {
	// ContextPath is <context-path>, the URL prefix of the web context,
	// such as "/chat" or "/". It starts with "/" and does not end with one
	// (except "/" itself). Default: "" (not set: the deployer decides, for
	// example from the folder name).
	ContextPath string
	// Module is <module> (our extension): the name of the registered Go
	// module whose endpoints and handlers this context serves. Default: ""
	// (not set: the deployer decides).
	Module string
	// SessionTimeout is <session-config><timeout>, given in minutes as in
	// Java web descriptors: how long an HTTP session (and with it the
	// replicated user properties of §6) lives without a request. A value of
	// zero or less in the file means sessions never expire: Disabled.
	// It is independent of WebSocket.IdleTimeout (seed). Default: 30 min.
	SessionTimeout time.Duration
	// WebSocket is the <websocket> element. Absent, it is DefaultWebSocket().
	WebSocket WebSocket
	// Ignored lists the paths of elements that are valid in a JEUS
	// jeus-web-dd.xml but mean nothing to wsc (such as
	// /jeus-web-dd/docbase or /jeus-web-dd/session-config/tracking-mode),
	// in document order. They are not errors; `wsc check` shows them.
	Ignored []string

	// written maps an element's path below the root (no index, e.g.
	// "websocket/monitoring-period-in-millis") to its value as written,
	// canonicalised ("+0999" → "999"); Resolved uses it to tell defaults
	// and clamps apart. Repeated elements are not recorded.
	written map[string]string
}

// WebSocket holds the <websocket> element of jeus-web-dd.xml: the settings
// of the context's WebSocket container. Each field names its element; sizes
// are in bytes and times are time.Durations (the file gives milliseconds).
type WebSocket struct {
	// MaxTextMessageBytes is <max-incoming-text-message-buffer-size>: the
	// largest incoming text message; a bigger one closes the session with
	// 1009 unless the endpoint takes partial messages. 1 to MaxInt.
	// Default: 8192.
	MaxTextMessageBytes int
	// MaxBinaryMessageBytes is <max-incoming-binary-message-buffer-size>,
	// the same for binary messages. Default: 8192.
	MaxBinaryMessageBytes int
	// IdleTimeout is <max-session-idle-timeout-in-millis>: a session with
	// no traffic for this long is closed (1001 to the peer, 1006 to
	// OnClose). A value in the file with 0 < v < 1000 counts as 1000 ms
	// (seed); v ≤ 0 disables the timeout, which is Disabled here.
	// Default: 30 min (1800000).
	IdleTimeout time.Duration
	// MonitoringPeriod is <monitoring-period-in-millis>: how often the
	// context looks for idle sessions, so an idle session closes within
	// IdleTimeout + MonitoringPeriod. A value below 1000 ms, zero and
	// negative ones included, counts as 1000 ms (seed).
	// Default: 5 min (300000).
	MonitoringPeriod time.Duration
	// BlockingSendTimeout is <blocking-send-timeout-in-millis>: how long a
	// Basic (synchronous) send may take before it fails and the session
	// closes. Must be positive. Default: 10 s (10000).
	BlockingSendTimeout time.Duration
	// AsyncSendTimeout is <async-send-timeout-in-millis>: how long an
	// Async send may stay unwritten before its result fails and the
	// session closes. Must be positive. Default: 30 s (30000).
	AsyncSendTimeout time.Duration
	// Executor is <websocket-executor>, the context's worker pool.
	Executor Executor
	// Distributed is <distributed-userProperties>: failover of the
	// sessions' user properties (DESIGN.md §6). Default: off.
	Distributed DistributedUserProperties
	// InitParams are the <init-param> elements in file order, handed to the
	// context's module. Names are unique and not empty. Default: none.
	InitParams []InitParam
	// BatchingBufferBytes is <batching-buffer-size>: batched sends flush
	// when this many bytes are waiting. 1 to MaxInt; the seed's example
	// 655536 is accepted as written. Default: 65536.
	BatchingBufferBytes int
	// TimeoutMinThreads is <websocket-timeout-min-threads>: the goroutines
	// that run send-timeout and idle checks. 1 to MaxInt. Default: 1.
	TimeoutMinThreads int

	// Extensions of ours, for what JEUS leaves out.

	// AllowedOrigins is <allowed-origins>, one <origin> child per value:
	// the Origin header values accepted at the handshake, each
	// "scheme://host[:port]" in lower case, or "*" for any. Nil means
	// same-origin: no Origin header, or one whose host is the request's
	// Host. A rejected origin gets 403. Default: nil (same-origin).
	AllowedOrigins []string
	// TrustedProxies is <trusted-proxies>, one <proxy> child per IP
	// address or CIDR prefix: Forwarded and X-Forwarded-For are believed
	// only when the direct peer is in one of these prefixes. A single
	// address becomes a /32 or /128; an IPv4-mapped IPv6 one
	// (::ffff:10.0.0.1) becomes IPv4, so compare with the peer's
	// netip.Addr.Unmap(). An empty <trusted-proxies/> trusts
	// no one (nil). Default: loopback, 127.0.0.0/8 and ::1/128.
	TrustedProxies []netip.Prefix
	// PerMessageDeflate is <permessage-deflate>: negotiate RFC 7692
	// compression when the client offers it. Default: false.
	PerMessageDeflate bool
	// MaxSessions is <max-sessions>: the most WebSocket sessions the
	// context holds at once; a handshake beyond it is refused with 503
	// (Service Unavailable). 0 means unlimited. Default: 0.
	MaxSessions int
}

// Executor is <websocket-executor>: the worker pool that runs a context's
// callbacks (DESIGN.md §1). Its values are child elements, as in the seed.
type Executor struct {
	// Min is <min>: workers kept alive while idle. 0 to Max. Default: 10.
	Min int
	// Max is <max>: the most workers, and so the most callbacks running
	// at once. 1 to MaxInt. Default: 30.
	Max int
	// KeepAlive is <keep-alive-time>, in milliseconds in the file: how
	// long a worker above Min stays idle before it exits. Zero or more.
	// Default: 60 s (60000).
	KeepAlive time.Duration
	// QueueSize is <queue-size>: how many sessions with work may wait for
	// a worker; past it a session is closed with 1013. 1 to MaxInt.
	// Default: 4096.
	QueueSize int
}

// DistributedUserProperties is <distributed-userProperties>.
type DistributedUserProperties struct {
	// Enabled is <enabled>: replicate the user properties of sessions
	// whose handshake carries the cookie of a live HTTP session.
	// Default: false.
	Enabled bool
	// WriteThrough is <use-write-through-policy>: a put returns after the
	// backups acknowledged it (true) or is flushed behind (false).
	// Default: false.
	WriteThrough bool
}

// InitParam is one <init-param>: a <name> and a <value> child, both
// trimmed. The name is not empty; the value may be.
type InitParam struct {
	Name  string
	Value string
}

// InitParam returns the value of the init-param called name, and whether
// there is one.
func (w *WebSocket) InitParam(name string) (string, bool) {
	for _, p := range w.InitParams {
		if p.Name == name {
			return p.Value, true
		}
	}
	return "", false
}

// DefaultWebSocket returns the settings of an absent <websocket> element:
// those of JEUS where the seed gives them, ours where it is silent.
func DefaultWebSocket() WebSocket {
	return WebSocket{
		MaxTextMessageBytes:   8192, // JEUS's example, Tomcat's default
		MaxBinaryMessageBytes: 8192,
		IdleTimeout:           30 * time.Minute, // seed
		MonitoringPeriod:      5 * time.Minute,  // seed
		BlockingSendTimeout:   10 * time.Second, // seed
		AsyncSendTimeout:      30 * time.Second, // the seed's example
		Executor: Executor{
			Min:       10, // the seed's example, as are the three below
			Max:       30,
			KeepAlive: 60 * time.Second,
			QueueSize: 4096,
		},
		BatchingBufferBytes: 65536, // the seed's 655536 read as a typo
		TimeoutMinThreads:   1,     // the seed's example
		TrustedProxies:      loopback(),
	}
}

// Default returns the descriptor of a context whose jeus-web-dd.xml is
// empty or absent. Each call returns new slices.
func Default() *Descriptor {
	return &Descriptor{
		SessionTimeout: 30 * time.Minute, // as Java web servers
		WebSocket:      DefaultWebSocket(),
	}
}

func loopback() []netip.Prefix {
	return []netip.Prefix{
		netip.MustParsePrefix("127.0.0.0/8"),
		netip.MustParsePrefix("::1/128"),
	}
}
