package container

import (
	"reflect"
	"testing"
	"time"
)

// TestDefaults pins the defaults: changing one is a decision, not an accident.
func TestDefaults(t *testing.T) {
	want := Settings{
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
		Executor:                ExecutorSettings{Min: 10, Max: 30, KeepAlive: 60 * time.Second, QueueSize: 4096},
	}
	if got := DefaultSettings(); !reflect.DeepEqual(got, want) {
		t.Fatalf("DefaultSettings() = %+v, want %+v", got, want)
	}
	if len(defaultTrustedProxies) != 2 || defaultTrustedProxies[0].String() != "127.0.0.0/8" || defaultTrustedProxies[1].String() != "::1/128" {
		t.Fatalf("default trusted proxies %v, want loopback", defaultTrustedProxies)
	}
	want.TrustedProxies = defaultTrustedProxies // filled in by withDefaults
	if got := (Settings{}).withDefaults(); !reflect.DeepEqual(got, want) {
		t.Fatalf("zero Settings = %+v, want the defaults", got)
	}
	cfg := Config{}.withDefaults()
	if cfg.Addr != "127.0.0.1:8080" || cfg.MaxHandshakeBytes != 8192 || cfg.HandshakeTimeout != 10*time.Second || cfg.CloseTimeout != 5*time.Second {
		t.Fatalf("zero Config = %+v", cfg)
	}
}

func TestSettingsClamps(t *testing.T) {
	s := Settings{IdleTimeout: 10 * time.Millisecond, MonitoringPeriod: time.Millisecond,
		Executor: ExecutorSettings{Min: 50, Max: 5}}.withDefaults()
	if s.IdleTimeout != time.Second || s.MonitoringPeriod != time.Second {
		t.Fatalf("idle %v period %v, want both clamped to 1s", s.IdleTimeout, s.MonitoringPeriod)
	}
	if s.Executor.Min != 5 {
		t.Fatalf("executor min %d above max 5", s.Executor.Min)
	}
	if s := (Settings{IdleTimeout: -1}).withDefaults(); s.IdleTimeout >= 0 {
		t.Fatalf("negative idle timeout should stay disabled, got %v", s.IdleTimeout)
	}
}

func TestBufPoolClasses(t *testing.T) {
	for _, n := range []int{0, 1, 511, 512, 513, 4096, 1 << 20, 1<<20 + 1, 1 << 24} {
		b := getBuf(n)
		if cap(*b) < n || len(*b) != 0 {
			t.Fatalf("getBuf(%d): len %d cap %d", n, len(*b), cap(*b))
		}
		putBuf(b)
	}
	if b := getBuf(1<<24 + 1); cap(*b) < 1<<24+1 {
		t.Fatal("oversized buffer too small")
	}
	b := getBuf(10)
	*b = append(*b, "hello"...)
	b = growBuf(b, 5000)
	if string(*b) != "hello" || cap(*b) < 5005 {
		t.Fatalf("growBuf lost data: %q cap %d", *b, cap(*b))
	}
}
