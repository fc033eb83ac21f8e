package ci

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// needE2fsprogs skips t unless mke2fs, e2fsck and debugfs are installed.
func needE2fsprogs(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"mke2fs", "e2fsck", "debugfs"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (e2fsprogs; make deps installs it)", tool)
		}
	}
}

// mkext2 makes img an ext2 filesystem of size (mke2fs syntax: 32M, 4096k)
// with blockSize-byte blocks, holding the tree at src when src is not "".
func mkext2(t *testing.T, img, blockSize, size, src string) {
	t.Helper()
	args := []string{"-q", "-F", "-t", "ext2", "-b", blockSize}
	if src != "" {
		args = append(args, "-d", src)
	}
	if out, err := exec.Command("mke2fs", append(args, img, size)...).CombinedOutput(); err != nil {
		t.Fatalf("mke2fs: %v\n%s", err, out)
	}
}

// writeTree writes files (slash-separated paths relative to dir) under dir.
func writeTree(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for name, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
