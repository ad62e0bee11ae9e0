package container

import (
	"testing"
	"unsafe"
)

// TestSessionSize holds the session struct in the 416-byte size class: an
// idle connection's memory is mostly this struct and gnet's connection
// (bench W1). Rare handshake results live in sessionExtras, the batcher,
// the close reason and the user properties are allocated on first use,
// the atomic bits share one word, and the mapping links its sessions
// through them instead of a map.
func TestSessionSize(t *testing.T) {
	if n := unsafe.Sizeof(session{}); n > 416 {
		t.Fatalf("session is %d bytes, want at most 416 (move rarely used fields out)", n)
	}
}
