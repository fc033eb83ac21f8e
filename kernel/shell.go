// The serial console shell (cmdline option `shell`): a handful of commands
// to look at a running kernel. Other packages add commands with Register
// before the shell starts.

package kernel

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// CPUInfo describes one CPU for `cpus`.
type CPUInfo struct {
	Index  int
	APICID uint32
	Online bool
}

// MemInfo describes memory for `mem`.
type MemInfo struct {
	Usable  uint64   // bytes of usable RAM
	Heap    uint64   // bytes given to the Go heap
	Regions []string // usable regions, "[0x100000-0x8000000)"
	// From runtime.MemStats.
	HeapAlloc, HeapSys, TotalAlloc, NumGC uint64
}

// System is what the shell inspects and controls.
type System interface {
	CPUs() []CPUInfo
	Mem() MemInfo
	Uptime() time.Duration
	Threads() (count int, stacks []byte)
	Stats() []Stat
	Reboot()
	PowerOff()
}

// LWKTReporter is implemented by a System whose application runs LWKT
// schedulers: the shell's threads and stats commands then also show each
// CPU's threads, run queue and IPI counters.
type LWKTReporter interface {
	LWKTThreads() string // one line per thread: CPU, priority, state, name
	LWKTStats() string   // one line per CPU: threads, run queue, switches, IPIs
}

// SelfTester is implemented by a System that can run the kernel's
// self-tests on demand: the shell then has a selftest command.
type SelfTester interface {
	SelfTestNames() []string
	RunSelfTests(w io.Writer, names []string) bool // one result line per name; all passed
}

// Stat is one named counter.
type Stat struct {
	Name  string
	Value uint64
}

// Command is a shell command.
type Command struct {
	Name string
	Args string // usage of arguments, "" if none
	Help string
	Run  func(w io.Writer, args []string) error
}

// Shell runs commands read by a LineEditor.
type Shell struct {
	sys  System
	cmds map[string]Command
	// errExit is returned by a command to leave the shell loop
}

var errExit = errors.New("exit")

// NewShell makes a shell with the built-in commands.
func NewShell(sys System) *Shell {
	s := &Shell{sys: sys, cmds: make(map[string]Command)}
	for _, c := range []Command{
		{Name: "help", Help: "list commands", Run: s.help},
		{Name: "cpus", Help: "CPUs and their LAPIC ids", Run: s.cpus},
		{Name: "mem", Help: "memory map and Go heap", Run: s.mem},
		{Name: "uptime", Help: "time since boot", Run: func(w io.Writer, _ []string) error {
			fmt.Fprintf(w, "up %s\n", s.sys.Uptime().Round(time.Millisecond))
			return nil
		}},
		{Name: "threads", Args: "[-v]", Help: "goroutine count; -v: all stacks", Run: s.threads},
		{Name: "stats", Help: "kernel counters", Run: s.stats},
		{Name: "reboot", Help: "reset the machine", Run: func(w io.Writer, _ []string) error {
			fmt.Fprintln(w, "rebooting")
			s.sys.Reboot()
			return errExit
		}},
		{Name: "poweroff", Help: "shut down cleanly and power off", Run: func(w io.Writer, _ []string) error {
			fmt.Fprintln(w, "powering off")
			s.sys.PowerOff()
			return errExit
		}},
	} {
		s.cmds[c.Name] = c
	}
	if st, ok := sys.(SelfTester); ok {
		s.cmds["selftest"] = Command{Name: "selftest", Args: "[<name>...]", Help: "run self-tests; none named: list them",
			Run: func(w io.Writer, args []string) error {
				if len(args) == 0 {
					fmt.Fprintf(w, "self-tests: %s\n", strings.Join(st.SelfTestNames(), " "))
					return nil
				}
				if !st.RunSelfTests(w, args) {
					return errors.New("failed")
				}
				return nil
			}}
	}
	return s
}

// Register adds a command; it fails if the name is taken.
func (s *Shell) Register(c Command) error {
	if c.Name == "" || strings.ContainsAny(c.Name, " \t") || c.Run == nil {
		return fmt.Errorf("shell: bad command %q", c.Name)
	}
	if _, dup := s.cmds[c.Name]; dup {
		return fmt.Errorf("shell: command %q exists", c.Name)
	}
	s.cmds[c.Name] = c
	return nil
}

// Exec runs one command line, writing its output (or its error) to w. It
// reports whether the shell should keep reading.
func (s *Shell) Exec(w io.Writer, line string) bool {
	f := strings.Fields(line)
	if len(f) == 0 {
		return true
	}
	c, ok := s.cmds[f[0]]
	if !ok {
		fmt.Fprintf(w, "%s: unknown command (try help)\n", f[0])
		return true
	}
	if err := c.Run(w, f[1:]); err != nil {
		if err == errExit {
			return false
		}
		fmt.Fprintf(w, "%s: %v\n", f[0], err)
	}
	return true
}

// Serve reads and runs commands until poweroff/reboot or the input ends.
// Output lines end in CR LF, as a raw serial terminal needs.
func (s *Shell) Serve(in io.Reader, out io.Writer) error {
	ed := NewLineEditor(in, out)
	w := crlf{out}
	fmt.Fprintln(w, "damselfly shell: type help")
	for {
		line, err := ed.ReadLine("damselfly> ")
		switch {
		case err == ErrInterrupt:
			continue
		case err != nil:
			return err
		}
		if !s.Exec(w, line) {
			return nil
		}
	}
}

// crlf turns LF into CR LF.
type crlf struct{ w io.Writer }

func (c crlf) Write(p []byte) (int, error) {
	b := make([]byte, 0, len(p)+8)
	for _, x := range p {
		if x == '\n' {
			b = append(b, '\r')
		}
		b = append(b, x)
	}
	if _, err := c.w.Write(b); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (s *Shell) help(w io.Writer, _ []string) error {
	names := make([]string, 0, len(s.cmds))
	for n := range s.cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c := s.cmds[n]
		fmt.Fprintf(w, "  %-20s %s\n", strings.TrimSpace(c.Name+" "+c.Args), c.Help)
	}
	return nil
}

func (s *Shell) cpus(w io.Writer, _ []string) error {
	cpus := s.sys.CPUs()
	online := 0
	for _, c := range cpus {
		state := "offline"
		if c.Online {
			state = "online"
			online++
		}
		fmt.Fprintf(w, "cpu%-3d lapic %-3d %s\n", c.Index, c.APICID, state)
	}
	fmt.Fprintf(w, "%d/%d online\n", online, len(cpus))
	return nil
}

func (s *Shell) mem(w io.Writer, _ []string) error {
	m := s.sys.Mem()
	fmt.Fprintf(w, "usable %d MiB, heap %d MiB\n", m.Usable>>20, m.Heap>>20)
	for _, r := range m.Regions {
		fmt.Fprintf(w, "  ram %s\n", r)
	}
	fmt.Fprintf(w, "go heap: alloc %d KiB, sys %d KiB, total alloc %d KiB, gc cycles %d\n",
		m.HeapAlloc>>10, m.HeapSys>>10, m.TotalAlloc>>10, m.NumGC)
	return nil
}

func (s *Shell) threads(w io.Writer, args []string) error {
	n, stacks := s.sys.Threads()
	if r, ok := s.sys.(LWKTReporter); ok {
		io.WriteString(w, r.LWKTThreads())
	}
	fmt.Fprintf(w, "%d goroutines\n", n)
	if len(args) == 1 && args[0] == "-v" {
		w.Write(stacks)
	} else if len(args) > 0 {
		return fmt.Errorf("usage: threads [-v]")
	}
	return nil
}

func (s *Shell) stats(w io.Writer, _ []string) error {
	st := s.sys.Stats()
	sort.Slice(st, func(i, j int) bool { return st[i].Name < st[j].Name })
	for _, x := range st {
		fmt.Fprintf(w, "%-32s %d\n", x.Name, x.Value)
	}
	if r, ok := s.sys.(LWKTReporter); ok {
		io.WriteString(w, r.LWKTStats())
	}
	return nil
}
