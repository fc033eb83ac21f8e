//go:build tamago

package main

import (
	"fmt"
	"math/rand/v2"
	"time"

	"damselfly/blk"
	"damselfly/kernel"
	"damselfly/kernel/devices"
)

func init() {
	kernel.RegisterSelfTest("blk", blkSelfTest)
}

// blkSelfTest reads the whole first disk through its VM object in random
// chunks from several threads, prints the digest of the disk as it was at
// boot, then copies the first half onto the second half and syncs
// (blk.SelfTest). The boot test checks both from outside.
func blkSelfTest(t *kernel.T) error {
	disk, err := devices.OpenDisk("vda")
	if err != nil {
		return err
	}
	defer disk.Close()
	seed := uint64(time.Now().UnixNano())
	sum, n, err := blk.SelfTest(disk, 4, rand.New(rand.NewPCG(seed, seed>>1|1)))
	if err != nil {
		return err
	}
	fmt.Printf("blk: sha256=%x bytes=%d\n", sum, n)
	return nil
}
