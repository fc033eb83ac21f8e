package vfs

import (
	"strings"
	"testing"
)

// FuzzPaths feeds arbitrary path strings (the untrusted input of the VFS) to resolution and
// to namespace changes: every call returns, the namecache invariants hold afterwards, and the
// cache agrees with a cold namespace on the fuzzed paths.
func FuzzPaths(f *testing.F) {
	for _, s := range []string{"a/b/c", "/a/../b/./c/", "..", "a//b", "l/x", strings.Repeat("n/", 50), "\x00", strings.Repeat("x", 300)} {
		f.Add(s, "a/b", uint8(0))
	}
	f.Fuzz(func(t *testing.T, p, q string, op uint8) {
		fsys := newMapFS()
		v := New(fsys, MountOptions{Threads: 1}, Config{NamecacheMax: 8})
		defer v.Close()
		v.MkdirAll("a/b", 0o755)
		v.Symlink("../a", "a/up")
		v.Symlink("l", "l")
		for i := 0; i < 4; i++ {
			switch (int(op) + i) % 6 {
			case 0:
				v.Mkdir(p, 0o755)
			case 1:
				v.WriteFile(p, []byte(q), 0o644)
			case 2:
				v.Rename(p, q)
			case 3:
				v.Remove(q)
			case 4:
				v.Symlink(q, p)
			default:
				v.Stat(p)
			}
			if err := v.checkInvariants(); err != nil {
				t.Fatal(err)
			}
		}
		cold := New(fsys, MountOptions{Threads: 1}, Config{})
		defer cold.Close()
		for _, x := range []string{p, q, "a", "a/b", "a/up/b"} {
			a, errA := v.Lstat(x)
			b, errB := cold.Lstat(x)
			if (errA == nil) != (errB == nil) || (errA == nil && a.Sys().(*Attr).Ino != b.Sys().(*Attr).Ino) {
				t.Fatalf("%q: cached %v, cold %v", x, errA, errB)
			}
		}
	})
}
