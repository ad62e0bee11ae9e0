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
	// With the servers as they ran, the load would have had to cost
	// (16 − 1.2 · 12.5) / 0.2 = 5 µs/msg, 64% less than its 14.
	for _, want := range []string{"≤ 11.00 server CPU-µs/msg", "12% less than the 12.50 it used", "21% less than raw gnet's 14.00",
		"a load generator at ≤ 5.00 CPU-µs/msg (64% less than the 14.00 this one used)"} {
		if !strings.Contains(got, want) {
			t.Errorf("needFor = %q, want it to contain %q", got, want)
		}
	}
	// A need above what raw gnet used is not "-n% less" than it.
	cheapRaw := map[int]roundFigs{1: {68000, 10, 14}}
	if got := needFor(mine, peer, cheapRaw, 1.2); !strings.Contains(got, "more than raw gnet's 10.00") || strings.Contains(got, "less than raw") {
		t.Errorf("needFor with raw gnet under the need = %q", got)
	}
	// A server that used less than it needed: the shortfall is not its CPU.
	cheap := map[int]roundFigs{1: {70000, 10, 14}}
	if got := needFor(cheap, peer, raw, 1.2); !strings.Contains(got, "it used 10.00 (the shortfall is the spread between runs") || strings.Contains(got, "less than") {
		t.Errorf("needFor for a server under the need = %q", got)
	}
	// A server whose CPU per message is not 1.2× below the peer's: no
	// load generator gets it there.
	near := map[int]roundFigs{1: {50000, 14, 14}}
	if got := needFor(near, peer, raw, 1.2); !strings.Contains(got, "no load generator, however cheap") {
		t.Errorf("needFor for a server within 1.2× of the peer's CPU = %q", got)
	}
	if got := needFor(mine, map[int]roundFigs{}, raw, 1.2); got != "" {
		t.Errorf("needFor with no common round = %q, want empty", got)
	}
	// Without a raw gnet run the comparison to it is left out.
	if got := needFor(mine, peer, nil, 1.2); strings.Contains(got, "raw gnet") {
		t.Errorf("needFor without raw = %q, mentions raw gnet", got)
	}
}

// TestTargetsAA checks the A/A row: raw gnet against its second run,
// paired by round, with the range of the rounds, and no verdict.
func TestTargetsAA(t *testing.T) {
	key := echoCase{conns: 1000, size: 64}.key()
	r := &report{h: &harness{}, echoRounds: map[string]map[string]map[int]roundFigs{key: {
		"raw":       {1: {100, 10, 9}, 2: {80, 12, 9}, 3: {90, 11, 9}},
		"raw-again": {1: {90, 11, 9}, 2: {88, 12, 9}, 3: {99, 10, 9}, 4: {1, 1, 1}},
	}}}
	var row []string
	for _, t := range r.targets() {
		if strings.HasPrefix(t[0], "W2 A/A") {
			row = t
		}
	}
	if row == nil {
		t.Fatal("no A/A row in the targets")
	}
	// msg/s ratios by round 0.90, 1.10, 1.10; CPU/msg 1.10, 1.00, 0.91.
	want := "msg/s 1.10× (rounds 0.90–1.10×), CPU/msg 1.00× (rounds 0.91–1.10×) (median of 3 per-round ratios)"
	if row[2] != want || row[3] != "–" {
		t.Errorf("A/A row = %q, %q; want %q, –", row[2], row[3], want)
	}
}
