// Running a VM: QEMU's stdout is the guest's serial console; we copy it to
// a log file, to a live stream, and line by line to a watcher.

package qemu

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Options control a run.
type Options struct {
	Stdout    io.Writer     // live console stream; nil: none
	Stdin     io.Reader     // console input; nil: none
	SerialLog string        // file the console is captured to; "" : none
	Timeout   time.Duration // 0: none
	// OnLine is called for each console line (without line ending) with
	// the time since QEMU was started; it runs on the copying goroutine.
	OnLine func(elapsed time.Duration, line string)
	// KVM overrides the /dev/kvm check (tests).
	KVM func() error
}

// ErrGuestFailure is returned when the guest reported failure (status 35).
var ErrGuestFailure = errors.New("qemu: guest reported failure (isa-debug-exit 0x11, status 35)")

// VM is a running QEMU.
type VM struct {
	cfg      Config
	cmd      *exec.Cmd
	start    time.Time
	note     string
	log      *os.File
	copied   chan struct{}
	timer    *time.Timer
	mu       sync.Mutex
	timedOut bool
	// closeAfterStart are our ends of pipes QEMU inherited.
	closeAfterStart []*os.File
}

// Start launches QEMU.
func Start(ctx context.Context, cfg Config, o Options) (*VM, error) {
	kvm := o.KVM
	if kvm == nil {
		kvm = KVMUsable
	}
	accel, note, err := ResolveAccel(cfg.Accel, kvm)
	if err != nil {
		return nil, err
	}
	args, err := cfg.Args(accel)
	if err != nil {
		return nil, err
	}
	bin := cfg.Binary
	if bin == "" {
		bin = DefaultBinary
	}
	if _, err := exec.LookPath(bin); err != nil {
		return nil, fmt.Errorf("qemu: %w", err)
	}
	vm := &VM{cfg: cfg, note: note, copied: make(chan struct{})}
	vm.cmd = exec.CommandContext(ctx, bin, args...)
	if err := vm.setStdin(o.Stdin); err != nil {
		return nil, err
	}
	vm.cmd.Stderr = os.Stderr
	if o.Stdout == nil && o.OnLine == nil && o.SerialLog == "" {
		o.Stdout = io.Discard
	}
	out, err := vm.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if o.SerialLog != "" {
		if vm.log, err = os.Create(o.SerialLog); err != nil {
			return nil, fmt.Errorf("qemu: serial log: %w", err)
		}
	}
	vm.start = time.Now()
	if err := vm.cmd.Start(); err != nil {
		if vm.log != nil {
			vm.log.Close()
		}
		return nil, fmt.Errorf("qemu: start %s: %w", bin, err)
	}
	for _, f := range vm.closeAfterStart {
		f.Close()
	}
	if o.Timeout > 0 {
		vm.timer = time.AfterFunc(o.Timeout, func() {
			vm.mu.Lock()
			vm.timedOut = true
			vm.mu.Unlock()
			vm.cmd.Process.Kill()
		})
	}
	go vm.copy(out, o)
	return vm, nil
}

func (vm *VM) copy(out io.Reader, o Options) {
	defer close(vm.copied)
	var sinks []io.Writer
	if o.Stdout != nil {
		sinks = append(sinks, o.Stdout)
	}
	if vm.log != nil {
		sinks = append(sinks, vm.log)
	}
	w := io.MultiWriter(sinks...)
	r := bufio.NewReader(out)
	var line []byte
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			w.Write(buf[:n])
			if o.OnLine != nil {
				for _, c := range buf[:n] {
					if c == '\n' {
						o.OnLine(time.Since(vm.start), strings.TrimRight(string(line), "\r"))
						line = line[:0]
						continue
					}
					line = append(line, c)
				}
			}
		}
		if err != nil {
			if o.OnLine != nil && len(line) > 0 {
				o.OnLine(time.Since(vm.start), strings.TrimRight(string(line), "\r"))
			}
			return
		}
	}
}

// setStdin gives QEMU its console input. A reader that is not a file is
// copied through an OS pipe by our own goroutine, so that Wait returns when
// QEMU exits even if the reader never ends; the goroutine then ends at the
// reader's next byte or close.
func (vm *VM) setStdin(in io.Reader) error {
	if in == nil {
		return nil
	}
	if f, ok := in.(*os.File); ok {
		vm.cmd.Stdin = f
		return nil
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("qemu: stdin pipe: %w", err)
	}
	vm.cmd.Stdin = pr
	vm.closeAfterStart = append(vm.closeAfterStart, pr)
	go func() {
		io.Copy(pw, in)
		pw.Close()
	}()
	return nil
}

// Note says which accelerator was chosen when it was chosen automatically.
func (vm *VM) Note() string { return vm.note }

// Wait waits for QEMU to exit and maps its status. The error is nil only
// for the guest's success verdict.
func (vm *VM) Wait() (Result, error) {
	<-vm.copied
	err := vm.cmd.Wait()
	if vm.timer != nil {
		vm.timer.Stop()
	}
	res := Result{Duration: time.Since(vm.start), Note: vm.note, Status: vm.cmd.ProcessState.ExitCode()}
	if vm.log != nil {
		res.Serial = vm.log.Name()
		vm.log.Close()
	}
	vm.mu.Lock()
	timedOut := vm.timedOut
	vm.mu.Unlock()
	if timedOut {
		res.Verdict = Timeout
		return res, fmt.Errorf("%w after %s", ErrTimeout, res.Duration.Round(time.Millisecond))
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		res.Verdict = QEMUError
		return res, fmt.Errorf("qemu: %w", err)
	}
	res.Verdict = VerdictOf(res.Status)
	switch res.Verdict {
	case GuestSuccess:
		return res, nil
	case GuestFailure:
		return res, ErrGuestFailure
	case GuestReset:
		return res, errors.New("qemu: guest reset or powered off without isa-debug-exit (status 0)")
	}
	return res, fmt.Errorf("qemu: exited with status %d (%v)", res.Status, err)
}

// Kill stops QEMU at once.
func (vm *VM) Kill() error { return vm.cmd.Process.Kill() }

// PowerButton presses the VM's power button (QMP system_powerdown; on
// microvm QEMU signals it through the ACPI generic event device).
func (vm *VM) PowerButton() error {
	if vm.cfg.QMP == "" {
		return errors.New("qemu: no QMP socket configured")
	}
	return QMPCommand(vm.cfg.QMP, "system_powerdown")
}

// QMPCommand connects to a QMP socket, negotiates and runs one command
// without arguments.
func QMPCommand(path, command string) error {
	var conn net.Conn
	var err error
	for i := 0; i < 50; i++ { // the socket appears shortly after QEMU starts
		if conn, err = net.Dial("unix", path); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("qmp: %w", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	dec := json.NewDecoder(conn)
	var greeting map[string]any
	if err := dec.Decode(&greeting); err != nil {
		return fmt.Errorf("qmp: greeting: %w", err)
	}
	for _, c := range []string{"qmp_capabilities", command} {
		if _, err := fmt.Fprintf(conn, "{\"execute\":%q}\n", c); err != nil {
			return fmt.Errorf("qmp: %s: %w", c, err)
		}
		for { // skip asynchronous events until the reply
			var m map[string]any
			if err := dec.Decode(&m); err != nil {
				return fmt.Errorf("qmp: %s: %w", c, err)
			}
			if e, ok := m["error"]; ok {
				return fmt.Errorf("qmp: %s: %v", c, e)
			}
			if _, ok := m["return"]; ok {
				break
			}
		}
	}
	return nil
}

// Run starts a VM and waits for it.
func Run(ctx context.Context, cfg Config, o Options) (Result, error) {
	vm, err := Start(ctx, cfg, o)
	if err != nil {
		return Result{Verdict: QEMUError}, err
	}
	return vm.Wait()
}
