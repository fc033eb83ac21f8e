package ci

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"damselfly/qemu"
)

// TestBootHelloApp builds the example application (apps/hello, a plain Go
// main using net/http through the standard net package) and fetches a page
// from it over QEMU user networking.
func TestBootHelloApp(t *testing.T) {
	kernel(t) // skips (or fails under DAMSELFLY_REQUIRE_QEMU) without toolchain or QEMU
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(t.TempDir(), "hello.elf")
	if err := BuildKernel(root, "./apps/hello", img); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	startUntil(t, qemu.Config{Kernel: img, SMP: 2, Net: qemu.NetUser,
		HostFwd: []string{fmt.Sprintf("tcp:127.0.0.1:%d-:8080", port)}},
		"hello: listening", 90*time.Second, 2*time.Minute)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Get(fmt.Sprintf("http://127.0.0.1:%d/path", port))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := "Hello from Damselfly on 2 CPUs, GET /path\n"; string(b) != want {
		t.Fatalf("got %q, want %q", b, want)
	}
}
