package selftest

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"path"
	"slices"
	"strconv"
	"strings"

	"damselfly/vfs"
)

// The crash workload (selftest=vfscrash) changes files in batches and syncs after each one;
// the host powers the guest off at a random moment, repairs the disk with e2fsck and checks
// that what was synced survived. Protocol on the console, one line each:
//
//	vfscrash: start seed=<n> dir=<dir>
//	vfscrash: batch <n> touch <path> <path>...   before the batch changes anything
//	vfscrash: file <path> <size> <sha256>        after its Sync: a touched path's content
//	vfscrash: gone <path>                        after its Sync: a touched path that is absent
//	vfscrash: synced <n>                         the batch's report is complete
//
// Only the paths a batch names in its touch line change during it, so after a cut every
// other path must read back as the last complete report says; touched paths of a batch
// whose "synced" line was not seen may be in any state.

// CrashPrefix starts every line of the crash workload's protocol.
const CrashPrefix = "vfscrash: "

// CrashConfig sizes the workload.
type CrashConfig struct {
	Dir       string      // directory it works in (created); default "/crash"
	Batches   int         // batches to run; default 100
	Ops       int         // operations per batch; default 6
	MaxFile   int         // largest file in bytes; default 256 KiB
	MaxFiles  int         // live files at most; default 48
	MaxBytes  int64       // live bytes at most; default 8 MiB
	Subdirs   int         // directories below Dir the files spread over; default 3
	StopEarly func() bool // checked before each batch; nil: run all batches
}

func (c *CrashConfig) defaults() {
	if c.Dir == "" {
		c.Dir = "/crash"
	}
	if c.Batches <= 0 {
		c.Batches = 100
	}
	if c.Ops <= 0 {
		c.Ops = 6
	}
	if c.MaxFile <= 0 {
		c.MaxFile = 256 << 10
	}
	if c.MaxFiles <= 0 {
		c.MaxFiles = 48
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = 8 << 20
	}
	if c.Subdirs <= 0 {
		c.Subdirs = 3
	}
}

// crashOp is one planned change.
type crashOp struct {
	kind     string // create, rewrite, append, patch, rename, remove
	path, to string
	off      int64
	data     []byte
}

// crashState is the workload's own model: path to content.
type crashState struct {
	files map[string][]byte
	bytes int64
	next  int
}

// CrashWorkload runs the crash workload on v, writing the protocol lines to w. It returns
// after cfg.Batches batches (or when StopEarly says so) having synced, or at the first error;
// it also fails if a file read back after a Sync differs from what it wrote.
func CrashWorkload(v *vfs.VFS, r *rand.Rand, seed uint64, cfg CrashConfig, w io.Writer) (batches int, err error) {
	cfg.defaults()
	fmt.Fprintf(w, "%sstart seed=%d dir=%s\n", CrashPrefix, seed, cfg.Dir)
	if err := v.MkdirAll(cfg.Dir, 0o755); err != nil {
		return 0, err
	}
	for i := 0; i < cfg.Subdirs; i++ {
		if err := v.MkdirAll(path.Join(cfg.Dir, fmt.Sprintf("d%d", i)), 0o755); err != nil {
			return 0, err
		}
	}
	st := &crashState{files: map[string][]byte{}}
	if err := v.Sync(); err != nil {
		return 0, fmt.Errorf("vfscrash: initial sync: %w", err)
	}
	for b := 1; b <= cfg.Batches; b++ {
		if cfg.StopEarly != nil && cfg.StopEarly() {
			break
		}
		ops := st.plan(r, &cfg)
		touched := touchedPaths(ops)
		fmt.Fprintf(w, "%sbatch %d touch %s\n", CrashPrefix, b, strings.Join(touched, " "))
		for _, op := range ops {
			if err := applyCrashOp(v, op); err != nil {
				return b - 1, fmt.Errorf("vfscrash: batch %d: %s %s: %w", b, op.kind, op.path, err)
			}
		}
		if err := v.Sync(); err != nil {
			return b - 1, fmt.Errorf("vfscrash: batch %d: sync: %w", b, err)
		}
		for _, p := range touched {
			want, ok := st.files[p]
			got, err := v.ReadFile(p)
			switch {
			case !ok && errors.Is(err, fs.ErrNotExist):
				fmt.Fprintf(w, "%sgone %s\n", CrashPrefix, p)
				continue
			case err != nil:
				return b - 1, fmt.Errorf("vfscrash: batch %d: read back %s: %w", b, p, err)
			case !ok || !bytes.Equal(got, want):
				return b - 1, fmt.Errorf("vfscrash: batch %d: %s reads back %d bytes, wrote %d (present %v)", b, p, len(got), len(want), ok)
			}
			sum := sha256.Sum256(got)
			fmt.Fprintf(w, "%sfile %s %d %x\n", CrashPrefix, p, len(got), sum)
		}
		fmt.Fprintf(w, "%ssynced %d\n", CrashPrefix, b)
		batches = b
	}
	return batches, nil
}

// plan chooses a batch's operations and applies them to the model.
func (st *crashState) plan(r *rand.Rand, cfg *CrashConfig) []crashOp {
	var ops []crashOp
	for i := 0; i < cfg.Ops; i++ {
		names := st.names()
		full := len(names) >= cfg.MaxFiles || st.bytes >= cfg.MaxBytes
		k := r.IntN(10)
		switch {
		case len(names) == 0 || (!full && k < 3):
			p := path.Join(cfg.Dir, fmt.Sprintf("d%d", r.IntN(cfg.Subdirs)), fmt.Sprintf("f%d", st.next))
			st.next++
			ops = append(ops, crashOp{kind: "create", path: p, data: crashData(r, cfg.MaxFile)})
		case full && k < 5 || k == 3:
			ops = append(ops, crashOp{kind: "remove", path: names[r.IntN(len(names))]})
		case k == 4:
			from := names[r.IntN(len(names))]
			to := names[r.IntN(len(names))] // sometimes onto an existing file, replacing it
			if to == from || r.IntN(2) == 0 {
				to = path.Join(cfg.Dir, fmt.Sprintf("d%d", r.IntN(cfg.Subdirs)), fmt.Sprintf("r%d", st.next))
				st.next++
			}
			ops = append(ops, crashOp{kind: "rename", path: from, to: to})
		case k == 5 || k == 6:
			ops = append(ops, crashOp{kind: "rewrite", path: names[r.IntN(len(names))], data: crashData(r, cfg.MaxFile)})
		case k == 7:
			p := names[r.IntN(len(names))]
			ops = append(ops, crashOp{kind: "append", path: p, off: int64(len(st.files[p])), data: crashData(r, cfg.MaxFile/4)})
		default:
			p := names[r.IntN(len(names))]
			size := len(st.files[p])
			off := int64(0)
			if size > 0 {
				off = int64(r.IntN(size))
			}
			ops = append(ops, crashOp{kind: "patch", path: p, off: off, data: crashData(r, 8192)})
		}
		st.apply(ops[len(ops)-1])
	}
	return ops
}

func (st *crashState) names() []string {
	n := make([]string, 0, len(st.files))
	for p := range st.files {
		n = append(n, p)
	}
	slices.Sort(n) // map order must not leak into the seeded choice
	return n
}

func (st *crashState) set(p string, b []byte) {
	st.bytes += int64(len(b)) - int64(len(st.files[p]))
	st.files[p] = b
}

func (st *crashState) del(p string) {
	st.bytes -= int64(len(st.files[p]))
	delete(st.files, p)
}

func (st *crashState) apply(op crashOp) {
	switch op.kind {
	case "create", "rewrite":
		st.set(op.path, op.data)
	case "append", "patch":
		st.set(op.path, writeAt(st.files[op.path], op.data, op.off))
	case "remove":
		st.del(op.path)
	case "rename":
		b := st.files[op.path]
		st.del(op.path)
		st.set(op.to, b)
	}
}

// writeAt returns b with p written at off (extending it).
func writeAt(b, p []byte, off int64) []byte {
	end := int(off) + len(p)
	out := make([]byte, max(len(b), end))
	copy(out, b)
	copy(out[off:], p)
	return out
}

// crashData returns random content: sometimes empty, often small, else up to max bytes,
// with an all-zero run in some large ones.
func crashData(r *rand.Rand, max int) []byte {
	var n int
	switch r.IntN(8) {
	case 0:
		n = 0
	case 1, 2, 3:
		n = r.IntN(4096) + 1
	default:
		n = r.IntN(max) + 1
	}
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	if n > 16384 && r.IntN(3) == 0 {
		off := r.IntN(n - 8192)
		clear(b[off : off+8192])
	}
	return b
}

func touchedPaths(ops []crashOp) []string {
	var t []string
	for _, op := range ops {
		t = append(t, op.path)
		if op.to != "" {
			t = append(t, op.to)
		}
	}
	slices.Sort(t)
	return slices.Compact(t)
}

func applyCrashOp(v *vfs.VFS, op crashOp) error {
	switch op.kind {
	case "create", "rewrite":
		flag := vfs.O_WRONLY | vfs.O_CREATE | vfs.O_TRUNC
		if op.kind == "create" {
			flag |= vfs.O_EXCL
		}
		f, err := v.OpenFile(op.path, flag, 0o644)
		if err != nil {
			return err
		}
		if err := writeChunks(f, op.data, 0); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	case "append", "patch":
		f, err := v.OpenFile(op.path, vfs.O_WRONLY, 0)
		if err != nil {
			return err
		}
		if err := writeChunks(f, op.data, op.off); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	case "remove":
		return v.Remove(op.path)
	case "rename":
		return v.Rename(op.path, op.to)
	}
	return fmt.Errorf("unknown op %q", op.kind)
}

// writeChunks writes p at off in pieces of at most 64 KiB, so a file takes several VOPs and
// a cut can fall between them.
func writeChunks(f *vfs.File, p []byte, off int64) error {
	for len(p) > 0 {
		n := min(len(p), 64<<10)
		if _, err := f.WriteAt(p[:n], off); err != nil {
			return err
		}
		p, off = p[n:], off+int64(n)
	}
	return nil
}

// CrashEntry is what the last complete report says about one path.
type CrashEntry struct {
	Present bool
	Size    int64
	SHA256  string
}

// CrashModel follows the protocol lines and knows, at any point, what every reported path
// must hold after a cut, and which paths the batch in flight may have changed.
type CrashModel struct {
	Seed     uint64
	Dir      string
	Files    map[string]CrashEntry // from complete batches
	Synced   int                   // last batch whose report is complete
	InFlight map[string]bool       // paths of the batch begun and not reported complete
	pending  map[string]CrashEntry // report lines of the batch not yet complete
	batch    int
}

// NewCrashModel returns an empty model.
func NewCrashModel() *CrashModel {
	return &CrashModel{Files: map[string]CrashEntry{}, InFlight: map[string]bool{}, pending: map[string]CrashEntry{}}
}

// Line feeds one console line; lines without the prefix are ignored. A malformed protocol
// line is an error.
func (m *CrashModel) Line(line string) error {
	rest, ok := strings.CutPrefix(strings.TrimRight(line, "\r"), CrashPrefix)
	if !ok {
		return nil
	}
	f := strings.Fields(rest)
	if len(f) == 0 {
		return fmt.Errorf("vfscrash: empty line")
	}
	bad := func() error { return fmt.Errorf("vfscrash: malformed line %q", line) }
	switch f[0] {
	case "start":
		for _, kv := range f[1:] {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "seed":
				m.Seed, _ = strconv.ParseUint(v, 10, 64)
			case "dir":
				m.Dir = v
			}
		}
	case "batch":
		if len(f) < 3 || f[2] != "touch" {
			return bad()
		}
		n, err := strconv.Atoi(f[1])
		if err != nil || n != m.Synced+1 {
			return fmt.Errorf("vfscrash: batch %q after synced %d", f[1], m.Synced)
		}
		m.batch = n
		clear(m.InFlight)
		clear(m.pending)
		for _, p := range f[3:] {
			m.InFlight[p] = true
		}
	case "file":
		if len(f) != 4 || len(f[3]) != 64 {
			return bad()
		}
		size, err := strconv.ParseInt(f[2], 10, 64)
		if _, herr := hex.DecodeString(f[3]); err != nil || size < 0 || herr != nil || !m.InFlight[f[1]] {
			return bad()
		}
		m.pending[f[1]] = CrashEntry{Present: true, Size: size, SHA256: f[3]}
	case "gone":
		if len(f) != 2 || !m.InFlight[f[1]] {
			return bad()
		}
		m.pending[f[1]] = CrashEntry{}
	case "synced":
		if len(f) != 2 {
			return bad()
		}
		n, err := strconv.Atoi(f[1])
		if err != nil || n != m.batch || len(m.pending) != len(m.InFlight) {
			return bad()
		}
		for p, e := range m.pending {
			m.Files[p] = e
		}
		m.Synced = n
		clear(m.InFlight)
		clear(m.pending)
	default:
		return bad()
	}
	return nil
}

// Feed reads protocol lines from r.
func (m *CrashModel) Feed(r io.Reader) error {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if err := m.Line(sc.Text()); err != nil {
			return err
		}
	}
	return sc.Err()
}

// Check compares the tree read back after the cut (read returns a path's content, or an
// error wrapping fs.ErrNotExist) with the model: every path not touched by the batch in
// flight must be as last reported. It returns one message per difference.
func (m *CrashModel) Check(read func(p string) ([]byte, error)) []string {
	var diffs []string
	paths := make([]string, 0, len(m.Files))
	for p := range m.Files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		if m.InFlight[p] {
			continue
		}
		e := m.Files[p]
		b, err := read(p)
		switch {
		case !e.Present && errors.Is(err, fs.ErrNotExist):
		case !e.Present && err == nil:
			diffs = append(diffs, fmt.Sprintf("%s: reported gone, exists (%d bytes)", p, len(b)))
		case err != nil:
			diffs = append(diffs, fmt.Sprintf("%s: reported %d bytes, read: %v", p, e.Size, err))
		default:
			sum := sha256.Sum256(b)
			if got := hex.EncodeToString(sum[:]); got != e.SHA256 || int64(len(b)) != e.Size {
				diffs = append(diffs, fmt.Sprintf("%s: reported %d bytes sha256 %s, read %d bytes sha256 %s", p, e.Size, e.SHA256[:16], len(b), got[:16]))
			}
		}
	}
	return diffs
}
