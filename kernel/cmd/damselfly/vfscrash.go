//go:build tamago

package main

import (
	"errors"
	"math/rand/v2"
	"os"
	"time"

	"damselfly/kernel"
	"damselfly/kernel/devices"
	"damselfly/vfs/selftest"
)

func init() {
	kernel.RegisterSelfTest("vfscrash", vfsCrashSelfTest)
}

// vfsCrashBatches bounds the workload: far more than a crash test waits for
// (the host powers the guest off during it), so an uninterrupted run ends
// cleanly too.
const vfsCrashBatches = 2000

// vfsCrashSelfTest mounts the root the command line names (root=/dev/vda rw)
// and runs the crash workload (selftest.CrashWorkload): batches of creates,
// rewrites, appends, patches, renames and removes under /crash, a Sync after
// each, then one console line per path the batch touched with its size and
// sha256 as read back. ci/vfscrash_test.go kills QEMU during it and checks
// the disk against those lines.
func vfsCrashSelfTest(t *kernel.T) error {
	cfg := kernel.Config
	if cfg.Root == "" || cfg.ReadOnly {
		return errors.New("the crash workload writes a disk: boot with root=/dev/vda rw")
	}
	v, _, err := devices.MountRoot(cfg, nil)
	if err != nil {
		return err
	}
	seed := uint64(time.Now().UnixNano())
	r := rand.New(rand.NewPCG(seed, seed>>1|1))
	n, err := selftest.CrashWorkload(v, r, seed, selftest.CrashConfig{Batches: vfsCrashBatches}, os.Stdout)
	if err != nil {
		return err
	}
	if err := v.Close(); err != nil {
		return err
	}
	t.Logf("%d batches synced, root unmounted", n)
	return nil
}
