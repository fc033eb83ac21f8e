package httpd

import (
	"fmt"
	"io"
	"os"
	"path"
)

// OSWriter is a Writer over a directory of the host operating system, for
// the Linux build of the appliance (the comparison guest) and for tests. Use
// os.DirFS(dir) as the matching Files.
type OSWriter struct {
	root *os.Root
}

// NewOSWriter opens dir; names can never escape it (os.Root).
func NewOSWriter(dir string) (*OSWriter, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("httpd: %w", err)
	}
	return &OSWriter{root: r}, nil
}

// WriteFile writes r to name through a temporary file renamed into place, so
// a failed upload never leaves a truncated file behind.
func (w *OSWriter) WriteFile(name string, r io.Reader) (int64, error) {
	if dir := path.Dir(name); dir != "." {
		if err := w.root.MkdirAll(dir, 0o755); err != nil {
			return 0, err
		}
	}
	tmp := name + ".upload~"
	f, err := w.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = w.root.Rename(tmp, name)
	}
	if err != nil {
		w.root.Remove(tmp)
		return n, err
	}
	return n, nil
}

// Remove removes name.
func (w *OSWriter) Remove(name string) error { return w.root.Remove(name) }

// Sync is a no-op: WriteFile already synced the file it wrote.
func (w *OSWriter) Sync() error { return nil }
