package workload

import (
	"os"
	"syscall"
)

// sysSyncfs is syncfs's number on x86-64 (arch/x86/entry/syscalls/
// syscall_64.tbl); the syscall package does not name it.
const sysSyncfs = 306

// syncFS is syncfs(2): every dirty buffer of the filesystem holding dir.
func syncFS(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, _, e := syscall.Syscall(sysSyncfs, f.Fd(), 0, 0); e != 0 {
		return &os.PathError{Op: "syncfs", Path: dir, Err: e}
	}
	return nil
}
