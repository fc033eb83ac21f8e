// Package ci holds the QEMU boot tests (boot_test.go). This file builds the
// kernel image they boot, with the same command as `make kernel`.
package ci

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// KernelBuild is the command line that builds a bootable image, relative to
// the repository root. The Makefile's kernel target runs the same command.
var KernelBuild = []string{
	"toolchain/go", "build", "-trimpath",
	"-tags", "linkramstart,linkcpuinit",
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

// BuildKernel builds pkg (e.g. ./kernel/cmd/damselfly) to out.
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
	args = append(args, "-o", out, pkg)
	cmd := exec.Command(filepath.Join(root, KernelBuild[0]), args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), KernelEnv...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ci: building %s: %v\n%s", pkg, err, b)
	}
	return nil
}
