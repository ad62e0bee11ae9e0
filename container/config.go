package container

import (
	"github.com/wsc-dev/wsc/failover"
	"log/slog"
	"math"
	"net/netip"
	"os"
	"time"
)

// Config holds the container-wide settings: the listener and the limits of
// the HTTP handshake. The zero value works: every zero field means its
// default from [DefaultConfig].
type Config struct {
	// Addr is the TCP address to listen on. Default: "127.0.0.1:8080".
	// Port 0 picks a free port; [Container.Addr] tells which.
	Addr string
	// EventLoops is the number of gnet event loops. Default: GOMAXPROCS.
	EventLoops int
	// MaxHandshakeBytes bounds the request line and headers of a handshake;
	// a bigger request gets 431. Default: 8192.
	MaxHandshakeBytes int
	// HandshakeTimeout closes a connection whose handshake has not
	// completed in this time. Default: 10s.
	HandshakeTimeout time.Duration
	// CloseTimeout is how long the server waits for the peer's close frame
	// after sending its own before it closes the TCP connection.
	// Default: 5s.
	CloseTimeout time.Duration
	// Logger receives the container's logs. Default: slog.Default().
	Logger *slog.Logger
	// ServerName names this node. Default: the host name.
	ServerName string
	// Route is the node's route, after the last dot of the JSESSIONID
	// cookie, for session-routing proxies. Default: the base64 of
	// ServerName, as JEUS writes it.
	Route string
	// LoopReads keeps open sessions on gnet's event loops, which then read
	// every socket and hand the messages to the executors, instead of
	// handing each session to a poller whose executor turns read their own
	// sockets (see poller.go). For comparison; the hand-off is faster.
	LoopReads bool
	// Cluster replicates the HTTP sessions and user properties of the
	// contexts with DistributedUserProperties to the other nodes (see
	// replica.go). Its node name should be ServerName. Nil: they stay on
	// this node. The container does not close it.
	Cluster *failover.Node
}

// DefaultConfig returns the default container settings.
func DefaultConfig() Config {
	return Config{
		Addr:              "127.0.0.1:8080",
		MaxHandshakeBytes: 8 << 10, // as Tomcat's and nginx's default header buffer
		HandshakeTimeout:  10 * time.Second,
		CloseTimeout:      5 * time.Second,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Addr == "" {
		c.Addr = d.Addr
	}
	if c.MaxHandshakeBytes <= 0 {
		c.MaxHandshakeBytes = d.MaxHandshakeBytes
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = d.HandshakeTimeout
	}
	if c.CloseTimeout <= 0 {
		c.CloseTimeout = d.CloseTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.ServerName == "" {
		c.ServerName, _ = os.Hostname()
		if c.ServerName == "" {
			c.ServerName = "wsc"
		}
	}
	if c.Route == "" {
		c.Route = defaultRoute(c.ServerName)
	}
	return c
}

// Settings are the WebSocket settings of one web context (the <websocket>
// element of its descriptor). The zero value works: every zero field means
// its default from [DefaultSettings].
type Settings struct {
	// MaxTextMessageBytes is the largest text message a session accepts;
	// a bigger one closes the session with 1009. Default: 8192; at most
	// 2³¹-1.
	MaxTextMessageBytes int
	// MaxBinaryMessageBytes is the largest binary message a session
	// accepts; a bigger one closes the session with 1009. Default: 8192;
	// at most 2³¹-1.
	MaxBinaryMessageBytes int
	// BlockingSendTimeout bounds a Basic send: one that cannot be written
	// in this time returns endpoint.ErrSendTimeout and the session closes.
	// Default: 10s.
	BlockingSendTimeout time.Duration
	// AsyncSendTimeout bounds an Async send in the same way. Default: 30s.
	AsyncSendTimeout time.Duration
	// MaxPendingOutboundBytes bounds the bytes a session may have queued
	// for writing but not yet written to the socket. A send that would pass
	// it waits (Basic) or queues (Async) within its timeout; a message
	// bigger than the bound is still sent when nothing else is queued.
	// Default: 1 MiB.
	MaxPendingOutboundBytes int
	// MaxPendingInboundBytes bounds the bytes of received messages waiting
	// for the endpoint. Past it the container stops decoding the session's
	// frames until the endpoint catches up, and stops reading its socket,
	// so TCP holds the client back and nothing is lost. (A session kept on
	// gnet's loop, see Config.LoopReads, is read regardless: a client that
	// still sends more than this plus one maximum message is closed with
	// 1013.)
	// Default: 1 MiB; at most 1 GiB.
	MaxPendingInboundBytes int
	// SessionTimeout ends an HTTP session this long after its last HTTP
	// request (WebSocket traffic does not count). Zero means the default;
	// a negative value keeps sessions until invalidated. Default: 30m.
	SessionTimeout time.Duration
	// IdleTimeout closes a session when no frame has been received or sent
	// for this long: 1001 goes to the peer and OnClose reports 1006. Zero
	// means the default; a negative value disables it; values under 1s
	// count as 1s. A session can change its own with SetMaxIdleTimeout.
	// Default: 30m.
	IdleTimeout time.Duration
	// MonitoringPeriod is how often the context looks for idle sessions,
	// so a session closes within IdleTimeout + MonitoringPeriod. Values
	// under 1s count as 1s. Default: 5m.
	MonitoringPeriod time.Duration
	// TimeoutThreads is how many goroutines share each idle sweep of the
	// context's sessions (<websocket-timeout-min-threads>). Send timeouts
	// run on Go timers and need none. Default: 1.
	TimeoutThreads int
	// Executor sizes the worker pool that runs the context's callbacks.
	Executor ExecutorSettings
	// AllowedOrigins lists the Origin header values accepted at the
	// handshake ("https://example.com"); "*" accepts any. Empty means
	// same-origin: no Origin header, or one whose host is the Host header.
	// A rejected origin gets 403.
	AllowedOrigins []string
	// DistributedUserProperties binds a WebSocket session's user
	// properties to the HTTP session its handshake's cookie names: every
	// session under the same HTTP session shares them, and they outlive
	// reconnects (the <distributed-userProperties> element). With
	// Config.Cluster they are replicated to other nodes, and a client
	// whose node died finds them on the node it reconnects to. Default: off.
	DistributedUserProperties bool
	// WriteThrough replicates a change of distributed user properties
	// before Set returns (<use-write-through-policy>); otherwise changes
	// are sent in the background, right after the change and at a short
	// interval (write-behind). Default: off.
	WriteThrough bool
	// BatchingBufferBytes is how many bytes of batched messages a session
	// gathers before writing them (when the endpoint allows batching).
	// Default: 65536.
	BatchingBufferBytes int
	// TrustedProxies are the peers whose Forwarded and X-Forwarded-For
	// headers name the client. Nil means the default, loopback; an empty
	// non-nil slice trusts no one.
	TrustedProxies []netip.Prefix
	// MaxSessions bounds the context's open WebSocket sessions; a
	// handshake beyond it gets 503. Zero means unlimited.
	MaxSessions int
	// MaxRequestBodyBytes bounds the body of a plain HTTP request; a
	// bigger one gets 413. Default: 1 MiB.
	MaxRequestBodyBytes int
	// PerMessageDeflate enables the permessage-deflate extension (RFC
	// 7692) when the client offers it. Default: off.
	PerMessageDeflate bool
}

// ExecutorSettings size a web context's worker pool (<websocket-executor>).
type ExecutorSettings struct {
	// Min is the number of workers kept alive when idle. Zero means the
	// default, 10; a negative value keeps none.
	Min int
	// Max is the most workers, and so the most callbacks running at
	// once. Default: 30.
	Max int
	// KeepAlive is how long a worker above Min stays idle before it exits
	// (extra workers are counted once per KeepAlive, so one goes after
	// between one and two KeepAlives idle). Default: 60s.
	KeepAlive time.Duration
	// QueueSize is how many sessions may wait for a worker. When it is
	// full, a session that has work is closed with 1013. Default: 4096.
	QueueSize int
}

// DefaultSettings returns the default context settings (those of JEUS where
// it has one).
func DefaultSettings() Settings {
	return Settings{
		MaxTextMessageBytes:     8192,
		MaxBinaryMessageBytes:   8192,
		BlockingSendTimeout:     10 * time.Second,
		AsyncSendTimeout:        30 * time.Second,
		MaxPendingOutboundBytes: 1 << 20,
		MaxPendingInboundBytes:  1 << 20,
		MaxRequestBodyBytes:     1 << 20,
		BatchingBufferBytes:     64 << 10,
		SessionTimeout:          30 * time.Minute,
		IdleTimeout:             30 * time.Minute,
		MonitoringPeriod:        5 * time.Minute,
		TimeoutThreads:          1,
		Executor: ExecutorSettings{
			Min:       10,
			Max:       30,
			KeepAlive: 60 * time.Second,
			QueueSize: 4096,
		},
	}
}

// maxPendingInbound caps MaxPendingInboundBytes, so that a mailbox (the
// bound plus one message of at most 2³¹-1 bytes) is counted in 32 bits.
const maxPendingInbound = 1 << 30

func (s Settings) withDefaults() Settings {
	d := DefaultSettings()
	def := func(v *int, dv int) {
		if *v <= 0 {
			*v = dv
		}
	}
	defDur := func(v *time.Duration, dv time.Duration) {
		if *v <= 0 {
			*v = dv
		}
	}
	def(&s.MaxTextMessageBytes, d.MaxTextMessageBytes)
	def(&s.MaxBinaryMessageBytes, d.MaxBinaryMessageBytes)
	def(&s.MaxPendingOutboundBytes, d.MaxPendingOutboundBytes)
	def(&s.MaxPendingInboundBytes, d.MaxPendingInboundBytes)
	s.MaxPendingInboundBytes = min(s.MaxPendingInboundBytes, maxPendingInbound)
	s.MaxTextMessageBytes = min(s.MaxTextMessageBytes, math.MaxInt32)
	s.MaxBinaryMessageBytes = min(s.MaxBinaryMessageBytes, math.MaxInt32)
	def(&s.MaxRequestBodyBytes, d.MaxRequestBodyBytes)
	def(&s.BatchingBufferBytes, d.BatchingBufferBytes)
	defDur(&s.BlockingSendTimeout, d.BlockingSendTimeout)
	defDur(&s.AsyncSendTimeout, d.AsyncSendTimeout)
	if s.SessionTimeout == 0 {
		s.SessionTimeout = d.SessionTimeout
	}
	defDur(&s.MonitoringPeriod, d.MonitoringPeriod)
	s.MonitoringPeriod = max(s.MonitoringPeriod, time.Second)
	switch {
	case s.IdleTimeout == 0:
		s.IdleTimeout = d.IdleTimeout
	case s.IdleTimeout > 0:
		s.IdleTimeout = max(s.IdleTimeout, time.Second)
	}
	def(&s.TimeoutThreads, d.TimeoutThreads)
	def(&s.Executor.Max, d.Executor.Max)
	switch {
	case s.Executor.Min == 0:
		s.Executor.Min = min(d.Executor.Min, s.Executor.Max)
	case s.Executor.Min < 0:
		s.Executor.Min = 0
	}
	if s.Executor.Min > s.Executor.Max {
		s.Executor.Min = s.Executor.Max
	}
	defDur(&s.Executor.KeepAlive, d.Executor.KeepAlive)
	def(&s.Executor.QueueSize, d.Executor.QueueSize)
	if s.TrustedProxies == nil {
		s.TrustedProxies = defaultTrustedProxies
	}
	return s
}
