package workload

import (
	"os"
	"path/filepath"
)

// OSFS is FS over the os package, under the directory Root: the Linux
// guest's ext2 mount, or a temporary directory in host tests.
type OSFS struct{ Root string }

func (o OSFS) path(name string) string { return filepath.Join(o.Root, filepath.FromSlash(name)) }

func (o OSFS) Mkdir(name string) error { return os.Mkdir(o.path(name), 0o755) }

func (o OSFS) Create(name string) (File, error) {
	f, err := os.OpenFile(o.path(name), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	return f, nil
}

func (o OSFS) Open(name string) (File, error) {
	f, err := os.Open(o.path(name))
	if err != nil {
		return nil, err
	}
	return f, nil
}

func (o OSFS) Stat(name string) error {
	_, err := os.Stat(o.path(name))
	return err
}

func (o OSFS) Remove(name string) error { return os.Remove(o.path(name)) }

// Sync syncs the filesystem holding Root (syncfs(2) on Linux, a directory
// fsync elsewhere).
func (o OSFS) Sync() error { return syncFS(o.Root) }
