//go:build race

package container

// checkInvariants turns on the internal consistency checks that cost a
// loop over a queue. The tests run under the race detector, so they check;
// production builds do not pay for it.
const checkInvariants = true
