package endpoint

import (
	"maps"
	"sort"
	"sync"
)

// Properties holds a session's user properties: values the endpoint or the
// container attach to the session. It is safe for concurrent use. The zero
// value is empty and ready to use.
//
// In a web context with distributed user properties, the user properties
// of a session whose handshake carried the HTTP session's cookie belong
// to that HTTP session and are replicated to other nodes (see OnChange):
// Set and Delete then report whether the change was replicated. Only
// replicable values go to the other nodes (strings, numbers, bools, byte
// slices, times, slices and string-keyed maps of those, and registered
// types); others stay on this node. A value changed in place (a map or
// slice mutated after Set) is replicated only when Set is called again.
type Properties struct {
	mu sync.RWMutex
	m  map[string]any

	repMu    sync.Mutex                 // serialises changes with their onChange calls
	onChange func(map[string]any) error // under mu
}

// Get returns the value stored under key and whether there was one.
func (p *Properties) Get(key string) (any, bool) {
	p.mu.RLock()
	v, ok := p.m[key]
	p.mu.RUnlock()
	return v, ok
}

// Set stores value under key. It returns nil, or, for replicated
// properties, the error that kept the change from the other nodes: the
// value is stored here all the same.
func (p *Properties) Set(key string, value any) error {
	return p.change(func() {
		if p.m == nil {
			p.m = make(map[string]any, 4)
		}
		p.m[key] = value
	})
}

// Delete removes key. Its error is Set's.
func (p *Properties) Delete(key string) error {
	return p.change(func() { delete(p.m, key) })
}

// change applies f under the lock, then hands a copy of the result to
// onChange, if any, in the order of the changes.
func (p *Properties) change(f func()) error {
	p.mu.Lock()
	if p.onChange == nil {
		f()
		p.mu.Unlock()
		return nil
	}
	p.mu.Unlock()
	p.repMu.Lock()
	defer p.repMu.Unlock()
	p.mu.Lock()
	f()
	snap, fn := maps.Clone(p.m), p.onChange
	p.mu.Unlock()
	if fn == nil { // removed meanwhile
		return nil
	}
	if snap == nil {
		snap = map[string]any{}
	}
	return fn(snap)
}

// OnChange installs the hook that a container uses to replicate the
// properties (endpoint code does not call it): after each Set or Delete,
// fn receives a copy of all the properties, and its error is what Set or
// Delete returns. Calls of fn do not overlap, and come in the order of the
// changes. Nil removes the hook.
func (p *Properties) OnChange(fn func(snapshot map[string]any) error) {
	p.mu.Lock()
	p.onChange = fn
	p.mu.Unlock()
}

// Snapshot returns a copy of the properties.
func (p *Properties) Snapshot() map[string]any {
	p.mu.RLock()
	defer p.mu.RUnlock()
	m := maps.Clone(p.m)
	if m == nil {
		m = map[string]any{}
	}
	return m
}

// Len returns the number of properties.
func (p *Properties) Len() int {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return len(p.m)
}

// Keys returns the keys in sorted order.
func (p *Properties) Keys() []string {
	p.mu.RLock()
	keys := make([]string, 0, len(p.m))
	for k := range p.m {
		keys = append(keys, k)
	}
	p.mu.RUnlock()
	sort.Strings(keys)
	return keys
}

// String returns the property stored under key if it is a string, or "".
func (p *Properties) String(key string) string {
	v, _ := p.Get(key)
	s, _ := v.(string)
	return s
}
