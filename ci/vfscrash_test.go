package ci

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"damselfly/qemu"
	"damselfly/vfs/selftest"
)

// TestVFSCrash powers the guest off (SIGKILL to QEMU) at random moments of
// selftest=vfscrash, a write workload on an ext2 root that syncs after every
// batch and prints what each synced path holds. After each cut, e2fsck -fy
// must repair the image (exit 0-2), e2fsck -fn must then find it clean, and
// every path the console reported before the cut must read back (debugfs
// rdump) with the reported size and sha256, or be absent if reported gone;
// only the paths of the batch in flight may differ. The cut delays come
// from a seeded RNG: DAMSELFLY_CRASH_SEED=<n> repeats a run's delays (the
// guest's own workload seed is on its start line, logged too).
func TestVFSCrash(t *testing.T) {
	needE2fsprogs(t)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("DAMSELFLY_CRASH_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("DAMSELFLY_CRASH_SEED=%q: %v", s, err)
		}
		seed = n
	}
	t.Logf("cut delays from seed %d (DAMSELFLY_CRASH_SEED=%d repeats them)", seed, seed)
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	const cuts = 5
	for i := 0; i < cuts; i++ {
		bs := []string{"1024", "4096"}[i%2]
		// 0.3 s to 8 s after the workload starts: from the first batches to a
		// few hundred of them (about a dozen per second under TCG).
		delay := 300*time.Millisecond + time.Duration(r.Int64N(int64(7700*time.Millisecond)))
		t.Run(fmt.Sprintf("cut%d-bs%s", i, bs), func(t *testing.T) {
			crashOnce(t, bs, delay)
		})
	}
}

func crashOnce(t *testing.T, bs string, delay time.Duration) {
	img := filepath.Join(t.TempDir(), "root.img")
	mkext2(t, img, bs, "64M", "")
	cfg := qemu.Config{Kernel: kernel(t), SMP: 2, Memory: "256M", Disks: []string{img}, Append: "root=/dev/vda rw selftest=vfscrash"}
	console := runUntilCut(t, cfg, delay)
	if strings.Contains(console, "selftest vfscrash: FAIL") {
		t.Fatalf("workload failed before the cut:\n%s", crashTail(console, 20))
	}
	m := selftest.NewCrashModel()
	if err := m.Feed(strings.NewReader(console)); err != nil {
		t.Fatalf("console: %v", err)
	}
	t.Logf("cut %v after start (guest seed %d): batch %d synced, %d paths reported, %d in flight", delay, m.Seed, m.Synced, len(m.Files), len(m.InFlight))

	out, err := exec.Command("e2fsck", "-fy", img).CombinedOutput()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("e2fsck -fy: %v", err)
	}
	t.Logf("e2fsck -fy exit %d", code)
	if code >= 4 {
		t.Fatalf("e2fsck -fy exit %d (uncorrected errors):\n%s", code, out)
	}
	if out, err := exec.Command("e2fsck", "-fn", img).CombinedOutput(); err != nil {
		t.Fatalf("e2fsck -fn after repair: %v\n%s", err, out)
	}
	if len(m.Files) == 0 {
		return // cut before the first batch was reported: nothing to read back
	}
	dump := filepath.Join(t.TempDir(), "dump")
	if err := os.MkdirAll(dump, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("debugfs", "-R", "rdump "+m.Dir+" "+dump, img).CombinedOutput(); err != nil {
		t.Fatalf("debugfs rdump %s: %v\n%s", m.Dir, err, out)
	}
	base := filepath.Join(dump, filepath.Base(m.Dir))
	read := func(p string) ([]byte, error) {
		rel, ok := strings.CutPrefix(p, m.Dir+"/")
		if !ok {
			return nil, fmt.Errorf("%s outside %s", p, m.Dir)
		}
		return os.ReadFile(filepath.Join(base, filepath.FromSlash(rel)))
	}
	if diffs := m.Check(read); len(diffs) > 0 {
		t.Fatalf("%d paths differ from what was synced before the cut:\n%s", len(diffs), strings.Join(diffs, "\n"))
	}
}

// runUntilCut boots cfg, kills QEMU (SIGKILL) delay after the workload's
// start line and returns the console up to its last complete line: the cut
// may fall in the middle of a line, whose start must not be taken for a
// shorter line (a touch list cut short, a path cut short).
func runUntilCut(t *testing.T, cfg qemu.Config, delay time.Duration) string {
	t.Helper()
	acquireVM(t)
	var raw bytes.Buffer // written by QEMU's copying goroutine, read after Wait
	started := make(chan struct{})
	var once sync.Once
	vm, err := qemu.Start(context.Background(), cfg, qemu.Options{
		Stdout:  &raw,
		Timeout: 5 * time.Minute,
		OnLine: func(_ time.Duration, l string) {
			if strings.HasPrefix(l, selftest.CrashPrefix+"start") {
				once.Do(func() { close(started) })
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
		<-time.After(delay) // the random moment of the cut is the test's input
	case <-time.After(90 * time.Second):
		t.Error("no workload start line after 90 s")
	}
	if err := vm.Kill(); err != nil {
		t.Fatalf("kill qemu: %v", err)
	}
	vm.Wait() // an error is expected: QEMU died of SIGKILL
	console := raw.String()
	if t.Failed() {
		t.Fatalf("console:\n%s", console)
	}
	if i := strings.LastIndexByte(console, '\n'); i+1 < len(console) {
		t.Logf("cut mid-line, dropped %q", console[i+1:])
		console = console[:i+1]
	}
	return console
}

// crashTail returns the last n lines of s.
func crashTail(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(l[max(0, len(l)-n):], "\n")
}
