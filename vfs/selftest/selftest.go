// Package selftest holds the guest-side VFS self-test the kernel runs for selftest=vfs.
package selftest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"

	"damselfly/vfs"
)

// Summary counts what SelfTestVFS did.
type Summary struct {
	Removed, Renamed, Copied int
	BytesCopied              int64
}

func (s Summary) String() string {
	return fmt.Sprintf("removed %d, renamed %d, copied %d (%d bytes)", s.Removed, s.Renamed, s.Copied, s.BytesCopied)
}

// SelfTestVFS transforms the tree under root as the boot test expects: every regular file
// ending in ".del" is removed, every "X.mv" is renamed to "X.moved", and every other regular
// file F present at the start gets a sibling "F.copy" with the same content (holes stay holes).
// Symlinks and directories are left alone. It then syncs and unmounts everything.
func SelfTestVFS(root *vfs.VFS) (Summary, error) {
	var sum Summary
	files, err := regularFiles(root)
	if err != nil {
		return sum, err
	}
	// Copies first, longest names first: a file that is itself some other file's ".copy"
	// target is copied before it is overwritten, so every copy holds start-of-test content.
	var copies, moves, dels []string
	for _, f := range files {
		switch {
		case strings.HasSuffix(f, ".del"):
			dels = append(dels, f)
		case strings.HasSuffix(f, ".mv"):
			moves = append(moves, f)
		default:
			copies = append(copies, f)
		}
	}
	sort.SliceStable(copies, func(i, j int) bool { return len(copies[i]) > len(copies[j]) })
	buf := make([]byte, 1<<20)
	for _, f := range copies {
		n, err := copyFile(root, f, f+".copy", buf)
		if err != nil {
			return sum, fmt.Errorf("selftest vfs: copy %s: %w", f, err)
		}
		sum.Copied++
		sum.BytesCopied += n
	}
	for _, f := range moves {
		if err := root.Rename(f, strings.TrimSuffix(f, ".mv")+".moved"); err != nil {
			return sum, fmt.Errorf("selftest vfs: %w", err)
		}
		sum.Renamed++
	}
	for _, f := range dels {
		if err := root.Remove(f); err != nil {
			return sum, fmt.Errorf("selftest vfs: %w", err)
		}
		sum.Removed++
	}
	if err := root.Sync(); err != nil {
		return sum, fmt.Errorf("selftest vfs: sync: %w", err)
	}
	if err := root.Close(); err != nil {
		return sum, fmt.Errorf("selftest vfs: unmount: %w", err)
	}
	return sum, nil
}

// regularFiles lists every regular file in the tree, without following symlinks.
func regularFiles(root *vfs.VFS) ([]string, error) {
	var out []string
	err := fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("selftest vfs: walk: %w", err)
	}
	return out, nil
}

// copyFile copies src to dst in chunks; all-zero chunks are skipped so holes stay holes, and
// the size is set at the end.
func copyFile(root *vfs.VFS, src, dst string, buf []byte) (int64, error) {
	in, err := root.Open(src)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return 0, err
	}
	out, err := root.OpenFile(dst, vfs.O_WRONLY|vfs.O_CREATE|vfs.O_TRUNC, st.Mode().Perm())
	if err != nil {
		return 0, err
	}
	var copied int64
	for off := int64(0); off < st.Size(); {
		n, err := in.ReadAt(buf, off)
		if n > 0 && !allZero(buf[:n]) {
			if _, werr := out.WriteAt(buf[:n], off); werr != nil {
				out.Close()
				return copied, werr
			}
		}
		copied += int64(n)
		off += int64(n)
		if errors.Is(err, io.EOF) || n == 0 {
			break
		}
		if err != nil {
			out.Close()
			return copied, err
		}
	}
	if err := out.Truncate(st.Size()); err != nil {
		out.Close()
		return copied, err
	}
	return copied, out.Close()
}

func allZero(b []byte) bool {
	return len(bytes.TrimLeft(b, "\x00")) == 0
}
