package endpoint_test

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/wsc-dev/wsc/endpoint"
)

func TestCloseCode(t *testing.T) {
	cases := []struct {
		code     endpoint.CloseCode
		sendable bool
		str      string
	}{
		{endpoint.CloseNormalClosure, true, "1000 (normal closure)"},
		{endpoint.CloseTryAgainLater, true, "1013 (try again later)"},
		{endpoint.CloseNoStatusCode, false, "1005 (no status code)"},
		{endpoint.CloseClosedAbnormally, false, "1006 (closed abnormally)"},
		{endpoint.CloseTLSHandshakeFailure, false, "1015 (TLS handshake failure)"},
		{1004, false, "1004"},
		{2999, false, "2999"},
		{3000, true, "3000"},
		{4999, true, "4999"},
		{5000, false, "5000"},
	}
	for _, tc := range cases {
		if got := tc.code.Sendable(); got != tc.sendable {
			t.Errorf("%d.Sendable() = %v", tc.code, got)
		}
		if got := tc.code.String(); got != tc.str {
			t.Errorf("%d.String() = %q, want %q", tc.code, got, tc.str)
		}
	}
	r := endpoint.CloseReason{Code: endpoint.CloseGoingAway, Reason: "bye"}
	if r.String() != "1001 (going away): bye" {
		t.Errorf("CloseReason.String() = %q", r.String())
	}
	err := fmt.Errorf("send: %w", &endpoint.CloseError{CloseReason: r})
	if !errors.Is(err, endpoint.ErrSessionClosed) {
		t.Error("a wrapped *CloseError should match ErrSessionClosed")
	}
}

func TestProperties(t *testing.T) {
	var p endpoint.Properties
	if _, ok := p.Get("x"); ok || p.Len() != 0 {
		t.Fatal("zero Properties not empty")
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 100; j++ {
				p.Set(fmt.Sprintf("k%d", i), j)
				p.Get("k0")
			}
		}(i)
	}
	wg.Wait()
	if p.Len() != 8 || p.Keys()[0] != "k0" {
		t.Fatalf("keys %v", p.Keys())
	}
	p.Set("name", "wsc")
	if p.String("name") != "wsc" || p.String("k1") != "" {
		t.Fatal("String accessor")
	}
	p.Delete("name")
	if _, ok := p.Get("name"); ok {
		t.Fatal("Delete")
	}
}

func TestModuleRegistry(t *testing.T) {
	m := endpoint.ModuleFunc(func(p endpoint.InitParams) (*endpoint.Application, error) {
		return &endpoint.Application{}, nil
	})
	// A name of its own per run: the registry is process-wide, and -count
	// runs the test again in the same process.
	name := fmt.Sprintf("test-module-%d", moduleRuns.Add(1))
	endpoint.RegisterModule(name, m)
	if got, ok := endpoint.LookupModule(name); !ok || got == nil {
		t.Fatal("registered module not found")
	}
	if _, ok := endpoint.LookupModule("nope"); ok {
		t.Fatal("found an unregistered module")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("registering a name twice should panic")
		}
	}()
	endpoint.RegisterModule(name, m)
}

var moduleRuns atomic.Int64

func TestInitParams(t *testing.T) {
	p := endpoint.InitParams{"a": "1"}
	if p.Get("a", "x") != "1" || p.Get("b", "x") != "x" {
		t.Fatal("InitParams.Get")
	}
}
