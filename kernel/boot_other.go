//go:build !(tamago && amd64)

package kernel

import (
	"context"
	"fmt"
	"os"
)

// Main and Run boot the kernel; they exist on the host only so that the
// kernel's main packages build there, and refuse to run.
func Main() { Run(nil) }

// Run: see the tamago version.
func Run(app func(ctx context.Context)) {
	fmt.Fprintln(os.Stderr, "damselfly: the kernel runs under GOOS=tamago GOARCH=amd64 (make kernel, make run)")
	os.Exit(2)
}
