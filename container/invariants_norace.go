//go:build !race

package container

// checkInvariants: see invariants_race.go.
const checkInvariants = false
