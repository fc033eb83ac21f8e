//go:build !(linux && amd64)

package workload

import "os"

// syncFS fsyncs dir where syncfs(2) does not exist (the tamago guest does
// not use OSFS; this keeps the package building there).
func syncFS(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
