package container

import (
	"testing"
	"unsafe"
)

// TestSessionSize holds the session struct at 384 bytes, a size class
// whose objects start on 64-byte boundaries: an idle connection's memory is
// mostly this struct and gnet's connection (bench W1). Rare handshake
// results live in sessionExtras; the batcher, the close reason and the user
// properties are allocated on first use; the atomic bits share one word;
// the mapping links its sessions through them instead of a map.
func TestSessionSize(t *testing.T) {
	if n := unsafe.Sizeof(session{}); n != 384 {
		t.Fatalf("session is %d bytes, want 384 (6 cache lines; move rarely used fields out)", n)
	}
}

// TestSessionLayout holds the cache-line groups the session's comment
// describes: a field moved into another line would make a message touch
// one line more, or one CPU write a line the other reads.
func TestSessionLayout(t *testing.T) {
	var s session
	lines := []struct {
		line   uintptr
		fields map[string]uintptr
	}{
		{0, map[string]uintptr{"c": unsafe.Offsetof(s.c), "handlers": unsafe.Offsetof(s.handlers),
			"lastSeen": unsafe.Offsetof(s.lastSeen), "fastBinary": unsafe.Offsetof(s.fastBinary), "fastText": unsafe.Offsetof(s.fastText)}},
		{1, map[string]uintptr{"in": unsafe.Offsetof(s.in), "msgsIn": unsafe.Offsetof(s.msgsIn), "bytesIn": unsafe.Offsetof(s.bytesIn)}},
		{2, map[string]uintptr{"mbMu": unsafe.Offsetof(s.mbMu), "state": unsafe.Offsetof(s.state), "flags": unsafe.Offsetof(s.flags),
			"maxText": unsafe.Offsetof(s.maxText), "oneBuf": unsafe.Offsetof(s.oneBuf), "mbq": unsafe.Offsetof(s.mbq), "hasOne": unsafe.Offsetof(s.hasOne), "fd": unsafe.Offsetof(s.fd)}},
		{3, map[string]uintptr{"out": unsafe.Offsetof(s.out)}},
		{4, map[string]uintptr{"deflate": unsafe.Offsetof(s.deflate), "batch": unsafe.Offsetof(s.batch)}},
	}
	for _, l := range lines {
		for name, off := range l.fields {
			if off/64 != l.line {
				t.Errorf("session.%s at offset %d is in line %d, want line %d", name, off, off/64, l.line)
			}
		}
	}
	if n := unsafe.Sizeof(s.out); n != 64 {
		t.Errorf("outbound is %d bytes, want 64 (one line)", n)
	}
}

// TestSessionAligned checks that sessions start on a cache line, which the
// layout relies on.
func TestSessionAligned(t *testing.T) {
	keep := make([]*session, 100)
	for i := range keep {
		keep[i] = new(session)
		if p := uintptr(unsafe.Pointer(keep[i])); p%64 != 0 {
			t.Fatalf("session at %#x is not on a 64-byte boundary", p)
		}
	}
}
