package container

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/wsc-dev/wsc/endpoint"
	"github.com/wsc-dev/wsc/failover"
)

// twoNodes starts two joined failover nodes.
func twoNodes(t *testing.T, tune func(*failover.Config)) (a, b *failover.Node) {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var nodes []*failover.Node
	for i, name := range []string{"a", "b"} {
		cfg := failover.Config{Name: name, Bind: "127.0.0.1:0", Key: []byte("0123456789abcdef"), Logger: quiet}
		if i > 0 {
			cfg.Join = []string{nodes[0].Addr()}
		}
		if tune != nil {
			tune(&cfg)
		}
		n, err := failover.Start(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = n.Close(context.Background()) })
		nodes = append(nodes, n)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(nodes[0].Members()) != 2 || len(nodes[1].Members()) != 2 {
		if time.Now().After(deadline) {
			t.Fatal("the nodes did not join")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nodes[0], nodes[1]
}

func replicatedStore(n *failover.Node, writeThrough bool) *sessionStore {
	st := newSessionStore("r", "/app", time.Hour)
	st.rep = newReplica(n.Space("/app"), writeThrough, slog.New(slog.NewTextHandler(io.Discard, nil)))
	st.forgetLost()
	return st
}

// A map changed in place and Set again is replicated with its new
// content.
func TestReplicaSetAgainAfterMutation(t *testing.T) {
	a, b := twoNodes(t, nil)
	h := replicatedStore(a, true).create()
	cart := map[string]any{"n": 1}
	if err := h.wsProps.Set("cart", cart); err != nil {
		t.Fatal(err)
	}
	cart["n"] = 2
	if err := h.wsProps.Set("cart", cart); err != nil {
		t.Fatal(err)
	}
	r, ok, err := b.Space("/app").Restore(context.Background(), h.id)
	if !ok {
		t.Fatal(err)
	}
	if got := r.Props["cart"].(map[string]any)["n"]; got != 2 {
		t.Fatalf("restored cart n = %v, want 2", got)
	}
}

// A Set on an invalidated session (a WebSocket session still holds it) is
// not replicated, even once the tombstone is forgotten: the old cookie
// never works again.
func TestReplicaNoResurrection(t *testing.T) {
	a, _ := twoNodes(t, func(c *failover.Config) { c.TombstoneTTL = 100 * time.Millisecond })
	st := replicatedStore(a, false)
	h := st.create()
	h.Invalidate()
	time.Sleep(1500 * time.Millisecond) // the tombstone is swept
	if err := h.wsProps.Set("k", "v"); !errors.Is(err, errSessionEnded) {
		t.Fatalf("Set after Invalidate: %v, want errSessionEnded", err)
	}
	if got := st.find(h.id + ".r"); got != nil {
		t.Fatal("the invalidated session came back")
	}
}

// UserPropertiesForTest returns the user properties bound to h.
func (h *httpSession) UserPropertiesForTest() *endpoint.Properties { return &h.wsProps }
