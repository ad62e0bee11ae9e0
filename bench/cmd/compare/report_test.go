package main

import (
	"strings"
	"testing"
)

// TestNeedFor checks the CPU per message a server would have needed for a
// msg/s ratio to a peer, with the load's cost per message as measured.
func TestNeedFor(t *testing.T) {
	// One round: the peer's server used 16 µs/msg beside a load at 14;
	// for 1.2× at the same load cost (c = 14) the server needs
	// (16 + 14) / 1.2 − 14 = 11 µs/msg, 12% less than the 12.5 it used
	// and 21% less than raw gnet's 14 (rounds only one of them ran do not
	// count).
	mine := map[int]roundFigs{1: {70000, 12.5, 14}, 2: {1, 100, 100}}
	peer := map[int]roundFigs{1: {60000, 16, 14}}
	raw := map[int]roundFigs{1: {68000, 14, 14}, 3: {1, 1, 1}}
	got := needFor(mine, peer, raw, 1.2)
	for _, want := range []string{"≤ 11.00 server CPU-µs/msg", "12% less than the 12.50 it used", "21% less than raw gnet's 14.00"} {
		if !strings.Contains(got, want) {
			t.Errorf("needFor = %q, want it to contain %q", got, want)
		}
	}
	// A server that used less than it needed: the shortfall is not its CPU.
	cheap := map[int]roundFigs{1: {70000, 10, 14}}
	if got := needFor(cheap, peer, raw, 1.2); !strings.Contains(got, "it used 10.00 (the shortfall is the spread between runs") || strings.Contains(got, "less than") {
		t.Errorf("needFor for a server under the need = %q", got)
	}
	if got := needFor(mine, map[int]roundFigs{}, raw, 1.2); got != "" {
		t.Errorf("needFor with no common round = %q, want empty", got)
	}
	// Without a raw gnet run the comparison to it is left out.
	if got := needFor(mine, peer, nil, 1.2); strings.Contains(got, "raw gnet") {
		t.Errorf("needFor without raw = %q, mentions raw gnet", got)
	}
}
