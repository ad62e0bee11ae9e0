package failover

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

// startNodes starts k nodes on loopback, joined into one cluster, and
// waits until each sees all k.
func startNodes(t *testing.T, k int, tune func(*Config)) []*Node {
	t.Helper()
	var nodes []*Node
	for i := range k {
		cfg := Config{
			Name:          fmt.Sprintf("node%d", i+1),
			Bind:          "127.0.0.1:0",
			Key:           testKey,
			FlushInterval: 50 * time.Millisecond,
			AckTimeout:    2 * time.Second,
			FetchTimeout:  2 * time.Second,
			Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
			probe:         100 * time.Millisecond,
		}
		if testing.Verbose() {
			cfg.Logger = slog.Default()
		}
		if i > 0 {
			cfg.Join = []string{nodes[0].Addr()}
		}
		if tune != nil {
			tune(&cfg)
		}
		n, err := Start(cfg)
		if err != nil {
			t.Fatalf("start node %d: %v", i+1, err)
		}
		t.Cleanup(func() { _ = n.Close(context.Background()) })
		nodes = append(nodes, n)
	}
	for _, n := range nodes {
		waitMembers(t, n, k)
	}
	return nodes
}

// waitMembers waits until n sees k members.
func waitMembers(t *testing.T, n *Node, k int) {
	t.Helper()
	eventually(t, 10*time.Second, func() bool { return len(n.Members()) == k },
		func() string { return fmt.Sprintf("%s sees members %v, want %d", n.Name(), n.Members(), k) })
}

func eventually(t *testing.T, d time.Duration, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(what())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func record(id string, count int) Record {
	return Record{ID: id, Timeout: time.Hour, LastAccess: time.Now(), Props: map[string]any{"count": count, "user": "ann"},
		Attrs: map[string]any{"login": "ann", "roles": []string{"admin"}}}
}

// holder returns the node among nodes that holds a backup copy of id in
// space sp, or nil.
func holder(nodes []*Node, sp, id string) *Node {
	for _, n := range nodes {
		if s := n.space(sp); s != nil {
			s.mu.Lock()
			_, ok := s.copies[id]
			s.mu.Unlock()
			if ok {
				return n
			}
		}
	}
	return nil
}

func others(nodes []*Node, not ...*Node) []*Node {
	var out []*Node
	for _, n := range nodes {
		if !slices.Contains(not, n) {
			out = append(out, n)
		}
	}
	return out
}

// A write-through save is on a backup when it returns: after the primary
// crashes, each surviving node restores it (the backup from its copy, the
// other by asking), with the newest properties and a higher epoch.
func TestSaveSyncSurvivesPrimaryCrash(t *testing.T) {
	nodes := startNodes(t, 3, nil)
	a := nodes[0]
	for i := 1; i <= 3; i++ {
		if _, err := a.Space("/app").SaveSync(context.Background(), record("s1", i)); err != nil {
			t.Fatalf("SaveSync %d: %v", i, err)
		}
	}
	b := holder(nodes, "/app", "s1")
	if b == nil || b == a {
		t.Fatalf("no backup holds the record after SaveSync (holder %v)", b)
	}
	a.kill()
	c := others(nodes, a, b)[0]
	for _, n := range []*Node{c, b} {
		r, ok, err := n.Space("/app").Restore(context.Background(), "s1")
		if !ok {
			t.Fatalf("%s: Restore found nothing (err %v)", n.Name(), err)
		}
		if got := r.Props["count"]; got != 3 {
			t.Fatalf("%s: restored count %v (%T), want int 3", n.Name(), got, got)
		}
		if got := r.Attrs["roles"]; !reflect.DeepEqual(got, []string{"admin"}) || r.Attrs["login"] != "ann" {
			t.Fatalf("%s: restored attributes %v", n.Name(), r.Attrs)
		}
		if r.Timeout != time.Hour || time.Since(r.LastAccess) > time.Minute {
			t.Fatalf("%s: restored timeout %v last access %v", n.Name(), r.Timeout, r.LastAccess)
		}
	}
	// c claimed it first (epoch 2); b, restoring after, took it from c
	// (epoch 3), and c learnt that it lost it.
	sb := b.Space("/app")
	sb.mu.Lock()
	epoch := sb.own["s1"].rec.epoch
	sb.mu.Unlock()
	if epoch != 3 {
		t.Fatalf("epoch after two takeovers: %d, want 3", epoch)
	}
	eventually(t, 5*time.Second, func() bool {
		_, err := c.Space("/app").Save(record("s1", 9))
		return errors.Is(err, ErrStale)
	}, func() string { return "the node that lost the session still saves it" })
}

// A write-behind save reaches its backup within the flush interval, and
// survives the primary's crash after that.
func TestSaveWriteBehind(t *testing.T) {
	nodes := startNodes(t, 2, nil)
	a, b := nodes[0], nodes[1]
	sp := a.Space("/app")
	if _, err := sp.Save(record("s2", 7)); err != nil {
		t.Fatal(err)
	}
	sp.Flush()
	eventually(t, 5*time.Second, func() bool { return holder(nodes, "/app", "s2") == b },
		func() string { return "the write-behind change did not reach the backup" })
	a.kill()
	r, ok, _ := b.Space("/app").Restore(context.Background(), "s2")
	if !ok || r.Props["count"] != 7 || r.Props["user"] != "ann" {
		t.Fatalf("restore after crash: %v %v", ok, r.Props)
	}
}

// Write-behind changes travel in batches: one message per backup for
// everything that changed since the last flush, not one per session.
func TestFlushBatches(t *testing.T) {
	nodes := startNodes(t, 2, nil)
	a, b := nodes[0], nodes[1]
	before := b.received.Load()
	sp := a.Space("/app")
	const sessions = 300
	for i := range sessions {
		if _, err := sp.Save(record(fmt.Sprint("b", i), i)); err != nil {
			t.Fatal(err)
		}
	}
	sp.Flush()
	eventually(t, 10*time.Second, func() bool {
		s := b.Space("/app")
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.copies) == sessions
	}, func() string { return "the backup did not get every session" })
	if n := b.received.Load() - before; n > 10 {
		t.Fatalf("%d sessions took %d messages", sessions, n)
	}
}

// The old primary's write-through save fails with ErrStale once another
// node claimed the session, and the claim's data wins.
func TestClaimFencesOldPrimary(t *testing.T) {
	nodes := startNodes(t, 2, nil)
	a, b := nodes[0], nodes[1]
	if _, err := a.Space("/app").SaveSync(context.Background(), record("s3", 1)); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := b.Space("/app").Restore(context.Background(), "s3"); !ok {
		t.Fatalf("restore on b: %v", err)
	}
	eventually(t, 5*time.Second, func() bool {
		_, err := a.Space("/app").SaveSync(context.Background(), record("s3", 2))
		return errors.Is(err, ErrStale)
	}, func() string { return "a still replicates a session b claimed" })
	if _, err := b.Space("/app").SaveSync(context.Background(), record("s3", 5)); err != nil {
		t.Fatalf("the new primary's save: %v", err)
	}
	r, ok, _ := b.Space("/app").Restore(context.Background(), "s3")
	if !ok || r.Props["count"] != 5 {
		t.Fatalf("b's own record: %v %v", ok, r.Props)
	}
}

// Two nodes that take a session over at the same time (two tabs sent to
// different nodes after a crash) end with one primary: the other's
// changes are refused, and it then restores the winner's version.
func TestConcurrentClaimsOneWinner(t *testing.T) {
	nodes := startNodes(t, 3, nil)
	a, b, c := nodes[0], nodes[1], nodes[2]
	if _, err := a.Space("/app").SaveSync(context.Background(), record("s9", 1)); err != nil {
		t.Fatal(err)
	}
	a.kill()
	var wg sync.WaitGroup
	for _, n := range []*Node{b, c} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, ok, err := n.Space("/app").Restore(context.Background(), "s9"); !ok {
				t.Errorf("%s: restore: %v", n.Name(), err)
			}
		}()
	}
	wg.Wait()
	var winner, loser *Node
	eventually(t, 15*time.Second, func() bool {
		_, eb := b.Space("/app").SaveSync(context.Background(), record("s9", 20))
		_, ec := c.Space("/app").SaveSync(context.Background(), record("s9", 30))
		switch {
		case eb == nil && errors.Is(ec, ErrStale):
			winner, loser = b, c
		case ec == nil && errors.Is(eb, ErrStale):
			winner, loser = c, b
		}
		return winner != nil
	}, func() string { return "both nodes still write the session, or neither" })
	want := map[*Node]int{b: 20, c: 30}[winner]
	if _, err := loser.Space("/app").Save(record("s9", 99)); !errors.Is(err, ErrStale) {
		t.Fatalf("the loser saves again: %v", err)
	}
	r, ok, err := loser.Space("/app").Restore(context.Background(), "s9")
	if !ok || r.Props["count"] != want {
		t.Fatalf("the loser restores %v %v (%v), want the winner's %d", ok, r.Props, err, want)
	}
}

// An invalidated session does not come back from a backup, and an expired
// one is neither saved nor restored.
func TestInvalidateAndExpiry(t *testing.T) {
	nodes := startNodes(t, 2, nil)
	a, b := nodes[0], nodes[1]
	sp := a.Space("/app")
	if _, err := sp.SaveSync(context.Background(), record("s4", 1)); err != nil {
		t.Fatal(err)
	}
	sp.Invalidate("s4")
	eventually(t, 5*time.Second, func() bool {
		s := b.Space("/app")
		s.mu.Lock()
		defer s.mu.Unlock()
		c := s.copies["s4"]
		return c != nil && c.rec.tomb
	}, func() string { return "the tombstone did not reach the backup" })
	a.kill()
	if _, ok, _ := b.Space("/app").Restore(context.Background(), "s4"); ok {
		t.Fatal("an invalidated session was restored")
	}

	old := record("s5", 1)
	old.LastAccess = time.Now().Add(-2 * time.Hour)
	if _, err := b.Space("/app").Save(old); !errors.Is(err, ErrExpired) {
		t.Fatalf("saving an expired session: %v, want ErrExpired", err)
	}
	if _, ok, _ := b.Space("/app").Restore(context.Background(), "nope"); ok {
		t.Fatal("restored a session nobody had")
	}
}

// Values that are not replicable are reported and left out; the others
// are replicated.
func TestSaveSkipsUnreplicable(t *testing.T) {
	nodes := startNodes(t, 2, nil)
	r := record("s6", 1)
	r.Props["conn"] = struct{ x int }{1}
	skipped, err := nodes[0].Space("/app").SaveSync(context.Background(), r)
	if err != nil || !reflect.DeepEqual(skipped, []string{"conn"}) {
		t.Fatalf("SaveSync: skipped %v, err %v", skipped, err)
	}
	got, ok, _ := nodes[1].Space("/app").Restore(context.Background(), "s6")
	if !ok || got.Props["count"] != 1 || got.Props["conn"] != nil {
		t.Fatalf("restore: %v %v", ok, got.Props)
	}
}

// When a primary's backup dies, the primary sends its sessions to the
// next candidate, so they survive its own crash afterwards.
func TestReReplicationAfterBackupLoss(t *testing.T) {
	nodes := startNodes(t, 3, nil)
	a := nodes[0]
	if _, err := a.Space("/app").SaveSync(context.Background(), record("s7", 4)); err != nil {
		t.Fatal(err)
	}
	b := holder(nodes, "/app", "s7")
	c := others(nodes, a, b)[0]
	b.kill()
	waitMembers(t, a, 2)
	eventually(t, 10*time.Second, func() bool { return holder([]*Node{c}, "/app", "s7") == c },
		func() string { return "the session was not sent to the next backup" })
	a.kill()
	r, ok, err := c.Space("/app").Restore(context.Background(), "s7")
	if !ok || r.Props["count"] != 4 {
		t.Fatalf("restore after both crashed: %v %v %v", ok, r.Props, err)
	}
}

// A node with another key cannot join; one without a key cannot start.
func TestKeyRequired(t *testing.T) {
	nodes := startNodes(t, 1, nil)
	_, err := Start(Config{Name: "nokey", Bind: "127.0.0.1:0"})
	if !errors.Is(err, ErrConfig) {
		t.Fatalf("start without a key: %v, want ErrConfig", err)
	}
	other, err := Start(Config{Name: "intruder", Bind: "127.0.0.1:0", Key: []byte("fedcba9876543210fedcba9876543210"),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), probe: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(context.Background())
	if k, err := other.Join(nodes[0].Addr()); err == nil || k != 0 {
		t.Fatalf("join with the wrong key: %d joined, err %v", k, err)
	}
	time.Sleep(300 * time.Millisecond)
	if m := nodes[0].Members(); len(m) != 1 {
		t.Fatalf("members after the intruder tried: %v", m)
	}
}

// Garbage from a peer (one that holds the key) is refused and counted,
// and the node goes on.
func TestPeerGarbageRefused(t *testing.T) {
	nodes := startNodes(t, 2, nil)
	a, b := nodes[0], nodes[1]
	to := b.member(a.Name())
	for _, g := range [][]byte{{}, {99}, {byte(kReplicate), 0xff}, (&msg{kind: kReplicate, space: "/app", id: "x", rec: wireRecord{props: []byte{7, 7, 7}}}).encode(nil)} {
		if err := b.ml.SendReliable(to, g); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 5*time.Second, func() bool { return a.refused.Load() >= 3 },
		func() string { return fmt.Sprintf("refused %d", a.refused.Load()) })
	if _, err := b.Space("/app").SaveSync(context.Background(), record("s8", 1)); err != nil {
		t.Fatalf("after garbage: %v", err)
	}
}

// FuzzDecodeMsg: no input makes the message decoder panic, and what it
// accepts encodes back to a message that decodes the same.
func FuzzDecodeMsg(f *testing.F) {
	for _, m := range []msg{
		{kind: kReplicate, req: 3, from: "n1", space: "/app", id: "abc", rec: wireRecord{epoch: 2, seq: 9, primary: "n1", expires: 123, timeout: 5, props: []byte{1, 0}, attrs: []byte{1, 0}}},
		{kind: kAck, req: 1, from: "n2", space: "/a", id: "x", stale: true, rec: wireRecord{epoch: 4, primary: "n2"}},
		{kind: kFetch, req: 7, from: "n3", space: "/a", id: "y"},
		{kind: kFetched, req: 7, from: "n3", space: "/a", id: "y", found: true, rec: wireRecord{tomb: true}},
		{kind: kBatch, from: "n1", batch: []msg{
			{kind: kReplicate, from: "n1", space: "/a", id: "p", rec: wireRecord{epoch: 1, seq: 2, primary: "n1", props: []byte{1, 0}}},
			{kind: kReplicate, from: "n1", space: "/b", id: "q", rec: wireRecord{epoch: 3, tomb: true}},
		}},
	} {
		f.Add(m.encode(nil))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMsg(b, 1<<20)
		if err != nil {
			return
		}
		again, err := decodeMsg(m.encode(nil), 1<<20)
		if err != nil {
			t.Fatalf("re-encoded message does not decode: %v", err)
		}
		if !reflect.DeepEqual(normal(m), normal(again)) {
			t.Fatalf("round trip changed the message:\n%+v\n%+v", m, again)
		}
	})
}

// normal makes empty and nil props (and batches) compare equal.
func normal(m msg) msg {
	if len(m.rec.props) == 0 {
		m.rec.props = nil
	}
	if len(m.rec.attrs) == 0 {
		m.rec.attrs = nil
	}
	if len(m.batch) == 0 {
		m.batch = nil
	}
	for i := range m.batch {
		m.batch[i] = normal(m.batch[i])
	}
	return m
}

// The OnLost hook runs without the space's lock held.
func TestOnLostOutsideLock(t *testing.T) {
	nodes := startNodes(t, 2, nil)
	a, b := nodes[0], nodes[1]
	ctx := context.Background()
	if _, err := a.Space("/app").SaveSync(ctx, record("x", 1)); err != nil {
		t.Fatal(err)
	}
	sa := a.Space("/app")
	held := make(chan bool, 1)
	sa.OnLost(func(string) {
		ok := sa.mu.TryLock()
		if ok {
			sa.mu.Unlock()
		}
		held <- !ok
	})
	if _, ok, err := b.Space("/app").Restore(ctx, "x"); !ok {
		t.Fatal(err)
	}
	select {
	case h := <-held:
		if h {
			t.Fatal("OnLost ran with the space's lock held")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("OnLost did not run")
	}
}

// A write-through save still waiting when the node closes fails with
// ErrClosed: the close does not pass for an acknowledgement.
func TestSaveSyncDuringClose(t *testing.T) {
	nodes := startNodes(t, 2, func(c *Config) {
		c.AckTimeout = 20 * time.Second
		if c.Name == "node2" {
			c.Limits.MaxBytes = 8 // refuses node1's records: never answers
		}
	})
	a := nodes[0]
	done := make(chan error, 1)
	go func() {
		_, err := a.Space("/app").SaveSync(context.Background(), record("y", 1))
		done <- err
	}()
	time.Sleep(300 * time.Millisecond)
	go a.Close(context.Background())
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("SaveSync during Close: %v, want ErrClosed", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("SaveSync still waiting after Close")
	}
}

// A node that holds another node's copy of a session does not start that
// session over when it is saved here: it must be restored (taken over).
func TestSaveRefusesAnotherNodesSession(t *testing.T) {
	nodes := startNodes(t, 2, nil)
	a, b := nodes[0], nodes[1]
	if _, err := a.Space("/app").SaveSync(context.Background(), record("z", 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Space("/app").Save(record("z", 5)); !errors.Is(err, ErrStale) {
		t.Fatalf("save of a's session on b: %v, want ErrStale", err)
	}
}
