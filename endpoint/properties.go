package endpoint

import (
	"sort"
	"sync"
)

// Properties holds a session's user properties: values the endpoint or the
// container attach to the session. It is safe for concurrent use. The zero
// value is empty and ready to use.
type Properties struct {
	mu sync.RWMutex
	m  map[string]any
}

// Get returns the value stored under key and whether there was one.
func (p *Properties) Get(key string) (any, bool) {
	p.mu.RLock()
	v, ok := p.m[key]
	p.mu.RUnlock()
	return v, ok
}

// Set stores value under key.
func (p *Properties) Set(key string, value any) {
	p.mu.Lock()
	if p.m == nil {
		p.m = make(map[string]any, 4)
	}
	p.m[key] = value
	p.mu.Unlock()
}

// Delete removes key.
func (p *Properties) Delete(key string) {
	p.mu.Lock()
	delete(p.m, key)
	p.mu.Unlock()
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
