package container

import (
	"testing"
	"unsafe"
)

// TestSessionSize holds the session struct in the 512-byte size class: an
// idle connection's memory is mostly this struct and gnet's connection
// (bench W1). Rare handshake results live in sessionExtras, the batcher
// and the user properties are allocated on first use.
func TestSessionSize(t *testing.T) {
	if n := unsafe.Sizeof(session{}); n > 512 {
		t.Fatalf("session is %d bytes, want at most 512 (move rarely used fields out)", n)
	}
}
