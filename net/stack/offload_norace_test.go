//go:build !race

package stack

const offloadRace = false
