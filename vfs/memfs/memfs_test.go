package memfs

import (
	"testing"
	"time"

	"damselfly/vfs/vfstest"
)

func TestRandomOpsAgainstModel(t *testing.T) {
	f := New(func() time.Time { return time.Unix(1700000000, 0) })
	m := vfstest.RandomOps(t, f, vfstest.Options{Seed: 11, Ops: 600, BlockSize: 4096})
	m.Check(t, f)
}
