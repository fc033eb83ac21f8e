//go:build tamago

package main

import (
	"errors"
	"fmt"

	"damselfly/kernel"
	"damselfly/kernel/devices"
	"damselfly/vfs/selftest"
)

func init() {
	kernel.RegisterSelfTest("vfs", vfsSelfTest)
}

// vfsSelfTest mounts the root the command line names (root=/dev/vda rw),
// then removes every *.del, renames every X.mv to X.moved and copies every
// other regular file F to F.copy (selftest.SelfTestVFS), syncs and unmounts.
// The boot test checks the image with e2fsck and debugfs afterwards.
func vfsSelfTest(t *kernel.T) error {
	cfg := kernel.Config
	if cfg.Root == "" {
		return errors.New("no root device: boot with root=/dev/vda rw")
	}
	if cfg.ReadOnly {
		return errors.New("the vfs self-test writes: boot with rw")
	}
	v, _, err := devices.MountRoot(cfg, nil)
	if err != nil {
		return err
	}
	port := v.Mounts()[0].Port()
	sum, err := selftest.SelfTestVFS(v)
	if err != nil {
		return err
	}
	t.Logf("%s", sum)
	// The root's VOP counters, for the boot test: how many completed in the
	// sender and how many each LWKT filesystem thread served.
	fmt.Print(port.Stats())
	return nil
}
