// Package ci holds the QEMU boot tests (boot_test.go). This file builds the
// kernel image they boot, with the same command as `make kernel`, and packs
// it as make kernel does (kernel/pack: the raw ELF stays as <name>.raw.elf).
package ci

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"damselfly/kernel/pack"
)

// KernelBuild is the command line that builds a bootable image, relative to
// the repository root. The Makefile's kernel target runs the same command.
var KernelBuild = []string{
	"toolchain/go", "build", "-trimpath",
	"-tags", "linkramstart,linkcpuinit,nethttpomithttp2",
	"-ldflags", "-s -w -T 0x1010000 -R 0x1000",
}

// KernelEnv is the environment of KernelBuild.
var KernelEnv = []string{"GOOS=tamago", "GOARCH=amd64", "GOOSPKG=github.com/usbarmory/tamago"}

// repoRoot finds the module root from the test's working directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.HasPrefix(string(b), "module damselfly") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("ci: repository root not found")
		}
		dir = parent
	}
}

// BuildKernel builds pkg (e.g. ./kernel/cmd/damselfly) to out, packed.
func BuildKernel(root, pkg, out string) error { return BuildKernelTags(root, pkg, out) }

// BuildKernelTags is BuildKernel with build tags added to the standard ones
// (e.g. lwktdebug).
func BuildKernelTags(root, pkg, out string, tags ...string) error {
	args := append([]string{}, KernelBuild[1:]...)
	for i, a := range args {
		if a == "-tags" && i+1 < len(args) && len(tags) > 0 {
			args[i+1] += "," + strings.Join(tags, ",")
		}
	}
	raw := RawKernelPath(out)
	args = append(args, "-o", raw, pkg)
	cmd := exec.Command(filepath.Join(root, KernelBuild[0]), args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), KernelEnv...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ci: building %s: %v\n%s", pkg, err, b)
	}
	return PackKernel(raw, out)
}

// RawKernelPath is where BuildKernel leaves the unpacked ELF of out.
func RawKernelPath(out string) string { return strings.TrimSuffix(out, ".elf") + ".raw.elf" }

// The boot stub, built once per test binary (the C compiler is $CC, else
// gcc, as for mkimage).
var (
	stubOnce sync.Once
	stub     *pack.Stub
	stubErr  error
)

// PackKernel packs the kernel ELF raw into out, as make kernel's mkimage
// step does, and checks that out unpacks to raw on the host.
func PackKernel(raw, out string) error {
	stubOnce.Do(func() { stub, stubErr = pack.BuildStub(os.Getenv("CC"), pack.DefaultBase) })
	if stubErr != nil {
		return fmt.Errorf("ci: %w", stubErr)
	}
	b, err := os.ReadFile(raw)
	if err != nil {
		return fmt.Errorf("ci: %w", err)
	}
	k, err := pack.ReadKernel(b)
	if err != nil {
		return fmt.Errorf("ci: %s: %w", raw, err)
	}
	img, _, err := pack.Pack(k, stub, pack.Options{})
	if err != nil {
		return fmt.Errorf("ci: %s: %w", raw, err)
	}
	if err := pack.Verify(img, k); err != nil {
		return fmt.Errorf("ci: %s: %w", raw, err)
	}
	if err := os.WriteFile(out, img, 0o755); err != nil {
		return fmt.Errorf("ci: %w", err)
	}
	return nil
}
