package ext2

import (
	"errors"
	"fmt"
	"math/rand"
	"testing"

	"damselfly/vfs"
)

// TestDirIndexAgainstModel churns a large directory (creates, removes, renames in and out)
// and checks every name, present or not, through the index; then again after a remount,
// when the index is rebuilt from disk.
func TestDirIndexAgainstModel(t *testing.T) {
	img := mkfs(t, 1024, 16<<20, "")
	f := mount(t, img, false)
	big, err := f.Mkdir(f.Root(), "big", 0o755)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := f.Mkdir(f.Root(), "other", 0o755)
	r := rand.New(rand.NewSource(3))
	present := map[string]vfs.Ino{}
	name := func(i int) string { return fmt.Sprintf("entry-%d-%s", i, string(rune('a'+i%26))) }
	for i := 0; i < 1500; i++ {
		ino, err := f.Create(big, name(i), 0o644)
		if err != nil {
			t.Fatal(err)
		}
		present[name(i)] = ino
	}
	for step := 0; step < 1500; step++ {
		i := r.Intn(2000)
		n := name(i)
		_, exists := present[n]
		switch r.Intn(3) {
		case 0:
			ino, err := f.Create(big, n, 0o644)
			if exists != errors.Is(err, vfs.EEXIST) {
				t.Fatalf("create %s: %v (exists %v)", n, err, exists)
			}
			if !exists {
				present[n] = ino
			}
		case 1:
			err := f.Remove(big, n)
			if exists != (err == nil) {
				t.Fatalf("remove %s: %v (exists %v)", n, err, exists)
			}
			delete(present, n)
		case 2:
			if !exists {
				continue
			}
			to := name(r.Intn(2000)) + "-r"
			if _, taken := present[to]; taken {
				continue
			}
			if err := f.Rename(big, n, big, to); err != nil {
				t.Fatal(err)
			}
			present[to] = present[n]
			delete(present, n)
		}
		if step%500 == 0 { // move one out and back
			for n, ino := range present {
				if err := f.Rename(big, n, other, "x"); err != nil {
					t.Fatal(err)
				}
				if err := f.Rename(other, "x", big, n); err != nil {
					t.Fatal(err)
				}
				_ = ino
				break
			}
		}
	}
	check := func(f *FS) {
		t.Helper()
		for i := 0; i < 2000; i++ {
			for _, n := range []string{name(i), name(i) + "-r"} {
				res, err := f.Lookup(big, []string{n})
				ino, want := present[n]
				if want != (err == nil) || (want && res[0].Ino != ino) {
					t.Fatalf("lookup %s: %v %v; want present=%v ino %d", n, res, err, want, ino)
				}
			}
		}
		ents, err := listAll(f, big)
		if err != nil || len(ents) != len(present) {
			t.Fatalf("readdir: %d entries, %v; want %d", len(ents), err, len(present))
		}
	}
	check(f)
	if f.dirIdx.builds == 0 {
		t.Fatal("index never built")
	}
	if err := f.Unmount(); err != nil {
		t.Fatal(err)
	}
	fsck(t, img)
	check(mount(t, img, true))
}
