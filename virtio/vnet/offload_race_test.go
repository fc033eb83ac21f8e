//go:build race

package vnet_test

const offloadRace = true
