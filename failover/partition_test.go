package failover

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// cutTransport is memberlist's transport, minus what goes to the
// addresses cut reports as cut off (packets dropped, dials refused): a
// network partition inside one process.
type cutTransport struct {
	*memberlist.NetTransport
	cut func(to string) bool
}

var errCut = errors.New("partitioned (test)")

func (c *cutTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	if c.cut(addr) {
		return time.Now(), nil
	}
	return c.NetTransport.WriteTo(b, addr)
}

func (c *cutTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	return c.WriteTo(b, a.Addr)
}

func (c *cutTransport) DialTimeout(addr string, d time.Duration) (net.Conn, error) {
	if c.cut(addr) {
		return nil, errCut
	}
	return c.NetTransport.DialTimeout(addr, d)
}

func (c *cutTransport) DialAddressTimeout(a memberlist.Address, d time.Duration) (net.Conn, error) {
	return c.DialTimeout(a.Addr, d)
}

// A node cut off from the others keeps serving, as do they; when the
// network heals the cluster becomes one again (memberlist alone would
// leave it split), and what the isolated node changed meanwhile reaches
// a backup.
func TestPartitionHeals(t *testing.T) {
	var parted atomic.Bool
	var isolated atomic.Value // the address of the node cut off
	nodes := startNodes(t, 3, func(c *Config) {
		c.RejoinInterval = 200 * time.Millisecond
		c.transport = func(nt *memberlist.NetTransport) memberlist.NodeAwareTransport {
			self := fmt.Sprintf("127.0.0.1:%d", nt.GetAutoBindPort())
			return &cutTransport{NetTransport: nt, cut: func(to string) bool {
				iso, _ := isolated.Load().(string)
				return parted.Load() && (self == iso) != (to == iso)
			}}
		}
	})
	a, b, c := nodes[0], nodes[1], nodes[2]
	ctx := context.Background()
	if _, err := a.Space("/app").SaveSync(ctx, record("p1", 1)); err != nil {
		t.Fatal(err)
	}

	isolated.Store(a.Addr())
	parted.Store(true)
	waitMembers(t, a, 1)
	waitMembers(t, b, 2)
	waitMembers(t, c, 2)
	if _, err := a.Space("/app").SaveSync(ctx, record("p1", 2)); err != nil {
		t.Fatalf("the isolated node's save: %v", err)
	}
	if _, err := b.Space("/app").SaveSync(ctx, record("p2", 1)); err != nil {
		t.Fatalf("the majority's save: %v", err)
	}

	parted.Store(false)
	for _, n := range nodes {
		waitMembers(t, n, 3)
	}
	eventually(t, 10*time.Second, func() bool {
		h := holder([]*Node{b, c}, "/app", "p1")
		if h == nil {
			return false
		}
		s := h.Space("/app")
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.copies["p1"].rec.seq >= 2
	}, func() string { return "the isolated node's change did not reach a backup after the heal" })
}
