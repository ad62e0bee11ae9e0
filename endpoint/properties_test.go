package endpoint

import (
	"errors"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// The replication hook sees every change, in order, as a copy; its error
// is what Set and Delete return, and the value is stored regardless.
func TestPropertiesOnChange(t *testing.T) {
	var p Properties
	if err := p.Set("a", 1); err != nil {
		t.Fatalf("Set without a hook: %v", err)
	}
	var seen []map[string]any
	fail := errors.New("backup unreachable")
	var failNext bool
	p.OnChange(func(snap map[string]any) error {
		seen = append(seen, snap)
		if failNext {
			return fail
		}
		return nil
	})
	if err := p.Set("b", "x"); err != nil {
		t.Fatal(err)
	}
	failNext = true
	if err := p.Delete("a"); !errors.Is(err, fail) {
		t.Fatalf("Delete: %v, want the hook's error", err)
	}
	want := []map[string]any{{"a": 1, "b": "x"}, {"b": "x"}}
	if !reflect.DeepEqual(seen, want) {
		t.Fatalf("hook saw %v, want %v", seen, want)
	}
	seen[1]["b"] = "changed"
	if v, _ := p.Get("b"); v != "x" {
		t.Fatalf("the snapshot aliases the properties: b = %v", v)
	}
	if _, ok := p.Get("a"); ok {
		t.Fatal("a failed Delete must still delete")
	}
	if got := p.Snapshot(); !reflect.DeepEqual(got, map[string]any{"b": "x"}) {
		t.Fatalf("Snapshot: %v", got)
	}
	p.OnChange(nil)
	if err := p.Set("c", 3); err != nil || len(seen) != 2 {
		t.Fatalf("after removing the hook: err %v, %d calls", err, len(seen))
	}
}

// Concurrent changes reach the hook one at a time, each snapshot holding
// every change before it.
func TestPropertiesOnChangeSerialised(t *testing.T) {
	var p Properties
	var inside atomic.Int32
	last := 0 // touched by the hook only: the race detector sees overlaps too
	p.OnChange(func(snap map[string]any) error {
		if inside.Add(1) > 1 {
			t.Error("hook calls overlap")
		}
		runtime.Gosched()
		if len(snap) < last {
			t.Errorf("snapshot of %d keys after one of %d", len(snap), last)
		}
		last = len(snap)
		inside.Add(-1)
		return nil
	})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				_ = p.Set(string(rune('a'+g))+string(rune('a'+i%26))+string(rune('0'+i/26)), i)
			}
		}()
	}
	wg.Wait()
	if last != 400 {
		t.Fatalf("last snapshot has %d keys, want 400", last)
	}
}
