// Kernel command line: the options QEMU's -append (or a VMM's boot_args)
// hands to the kernel, parsed into a typed Config.
//
// The line is a list of whitespace-separated words, each either a flag
// ("poweroff") or key=value ("loglevel=debug"). The parser never guesses:
// an option it does not know, or a value it cannot read, is an error that
// names the word and lists the forms it accepts, and the boot stops with a
// failure status (see kernel.Main). A word may be given twice; the last
// one wins, as on Linux.

package board

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// LogLevel orders log messages by severity; the console shows messages at or
// above the configured level.
type LogLevel int

const (
	LogDebug LogLevel = iota
	LogInfo
	LogWarn
	LogError
)

var logLevelNames = [...]string{"debug", "info", "warn", "error"}

func (l LogLevel) String() string {
	if l >= 0 && int(l) < len(logLevelNames) {
		return logLevelNames[l]
	}
	return "level(" + strconv.Itoa(int(l)) + ")"
}

// ParseLogLevel reads a level name.
func ParseLogLevel(s string) (LogLevel, error) {
	for i, n := range logLevelNames {
		if s == n {
			return LogLevel(i), nil
		}
	}
	return 0, fmt.Errorf("unknown log level %q", s)
}

// IPMode says how the network interface gets its address.
type IPMode int

const (
	IPNone   IPMode = iota // no ip= option: no address configured
	IPDHCP                 // ip=dhcp
	IPStatic               // ip=<addr>/<len>[,gw=<addr>]
)

// IPConfig is the ip= option.
type IPConfig struct {
	Mode    IPMode
	Addr    netip.Prefix // IPStatic only
	Gateway netip.Addr   // IPStatic only; invalid when not given
}

// NetPartition selects how packets are spread over the per-CPU protocol
// threads (DragonFly's netisr partitioning).
type NetPartition int

const (
	NetPartPorts    NetPartition = iota // hash of the port pair
	NetPartToeplitz                     // Toeplitz hash of the 4-tuple, as RSS does
)

func (p NetPartition) String() string {
	if p == NetPartToeplitz {
		return "toeplitz"
	}
	return "ports"
}

// VirtioMMIODevice is one virtio_mmio.device=<size>@<base>:<irq> word, the
// form QEMU microvm and Firecracker append to describe each virtio-mmio
// transport they created (Linux's Documentation/admin-guide/kernel-parameters).
type VirtioMMIODevice struct {
	Base uint64
	Size uint64
	IRQ  uint32
}

// Config is the typed kernel command line.
type Config struct {
	PowerOff  bool     // power off right after the ready line
	SelfTests []string // selftest=<name>[,<name>...], in order
	Shell     bool     // serial console shell
	// BootProfile prints the boot's phase timeline (board.Profile) once
	// the application says it is up.
	BootProfile bool
	LogLevel    LogLevel // loglevel=, default info
	Root        string   // root=<device>, empty: no root filesystem
	ReadOnly    bool     // ro (true) or rw (false, the default)
	IP          IPConfig
	DNS         []netip.Addr // dns=<addr>[,<addr>...]
	NetPart     NetPartition // netpart=ports|toeplitz
	SMP         int          // smp=<n>: use at most n CPUs; 0 means all present
	// GOGC is gogc=<percent>|off, the garbage collector's heap growth
	// between collections as runtime/debug.SetGCPercent takes it (-1: off,
	// collecting only near the memory limit); 0: the kernel's default.
	GOGC int
	// IdleSpin is idlespin=<turns>: how many times an idle LWKT CPU polls its
	// IPI queues before it halts (sched.Options.IdleSpin); 0, the default,
	// halts at once.
	IdleSpin int
	Virtio   []VirtioMMIODevice

	// Extra holds the values of options registered by other packages
	// with Options.Add, by key.
	Extra map[string]string
}

// DefaultConfig is what an empty command line means.
func DefaultConfig() Config {
	return Config{LogLevel: LogInfo}
}

// CmdlineError is returned for an option the parser refuses.
type CmdlineError struct {
	Word     string   // the word as written
	Reason   string   // what is wrong with it
	Accepted []string // every form the parser accepts
}

func (e *CmdlineError) Error() string {
	return fmt.Sprintf("cmdline: option %q: %s; accepted forms: %s",
		e.Word, e.Reason, strings.Join(e.Accepted, ", "))
}

// option is one entry of the parser's table.
type option struct {
	key   string
	form  string // shown to the user, e.g. "loglevel=debug|info|warn|error"
	flag  bool   // takes no value
	apply func(c *Config, val string) error
}

// Options is a command line grammar: the built-in options plus any added
// by other packages. The zero value is not usable; start from NewOptions.
type Options struct {
	opts []option
}

// NewOptions returns the built-in grammar.
func NewOptions() *Options {
	o := &Options{}
	o.opts = []option{
		{key: "poweroff", form: "poweroff", flag: true, apply: func(c *Config, _ string) error {
			c.PowerOff = true
			return nil
		}},
		{key: "shell", form: "shell", flag: true, apply: func(c *Config, _ string) error {
			c.Shell = true
			return nil
		}},
		{key: "bootprofile", form: "bootprofile", flag: true, apply: func(c *Config, _ string) error {
			c.BootProfile = true
			return nil
		}},
		{key: "ro", form: "ro", flag: true, apply: func(c *Config, _ string) error {
			c.ReadOnly = true
			return nil
		}},
		{key: "rw", form: "rw", flag: true, apply: func(c *Config, _ string) error {
			c.ReadOnly = false
			return nil
		}},
		{key: "selftest", form: "selftest=<name>[,<name>...]", apply: parseSelfTests},
		{key: "loglevel", form: "loglevel=debug|info|warn|error", apply: func(c *Config, v string) error {
			l, err := ParseLogLevel(v)
			if err != nil {
				return err
			}
			c.LogLevel = l
			return nil
		}},
		{key: "root", form: "root=<device>", apply: func(c *Config, v string) error {
			if !isName(v, "/:.") {
				return errors.New("device name must be letters, digits, '-', '_', '.', ':' or '/'")
			}
			c.Root = v
			return nil
		}},
		{key: "ip", form: "ip=dhcp|<addr>/<len>[,gw=<addr>]", apply: parseIP},
		{key: "dns", form: "dns=<addr>[,<addr>...]", apply: parseDNS},
		{key: "netpart", form: "netpart=ports|toeplitz", apply: func(c *Config, v string) error {
			switch v {
			case "ports":
				c.NetPart = NetPartPorts
			case "toeplitz":
				c.NetPart = NetPartToeplitz
			default:
				return fmt.Errorf("unknown partitioning %q", v)
			}
			return nil
		}},
		{key: "smp", form: "smp=<1..255>", apply: func(c *Config, v string) error {
			n, ok := intIn(v, 1, 255)
			if !ok {
				return fmt.Errorf("%q is not a CPU count in 1..255", v)
			}
			c.SMP = n
			return nil
		}},
		{key: "gogc", form: "gogc=<10..100000>|off", apply: func(c *Config, v string) error {
			if v == "off" {
				c.GOGC = -1
				return nil
			}
			n, ok := intIn(v, 10, 100000)
			if !ok {
				return fmt.Errorf("%q is neither a percent in 10..100000 nor off", v)
			}
			c.GOGC = n
			return nil
		}},
		{key: "idlespin", form: "idlespin=<0..1000000>", apply: func(c *Config, v string) error {
			n, ok := intIn(v, 0, 1000000)
			if !ok {
				return fmt.Errorf("%q is not a number of polling turns in 0..1000000", v)
			}
			c.IdleSpin = n
			return nil
		}},
		{key: "virtio_mmio.device", form: "virtio_mmio.device=<size>@<base>:<irq>", apply: parseVirtioMMIO},
	}
	return o
}

// intIn parses v as a decimal integer in lo..hi.
func intIn(v string, lo, hi int) (int, bool) {
	n, err := strconv.Atoi(v)
	return n, err == nil && n >= lo && n <= hi
}

// Add registers an option owned by another package: key=value, validated by
// check, stored in Config.Extra[key]. It fails if the key is taken.
func (o *Options) Add(key, form string, check func(val string) error) error {
	if key == "" || !isName(key, ".") {
		return fmt.Errorf("cmdline: bad option key %q", key)
	}
	for _, op := range o.opts {
		if op.key == key {
			return fmt.Errorf("cmdline: option %q already defined", key)
		}
	}
	o.opts = append(o.opts, option{key: key, form: form, apply: func(c *Config, v string) error {
		if check != nil {
			if err := check(v); err != nil {
				return err
			}
		}
		if c.Extra == nil {
			c.Extra = make(map[string]string)
		}
		c.Extra[key] = v
		return nil
	}})
	return nil
}

// Forms lists every accepted form, in table order.
func (o *Options) Forms() []string {
	f := make([]string, len(o.opts))
	for i, op := range o.opts {
		f[i] = op.form
	}
	return f
}

// Parse reads a command line. On error the returned Config holds what was
// parsed before the bad word; callers must not use it to boot.
func (o *Options) Parse(line string) (Config, error) {
	c := DefaultConfig()
	for _, word := range strings.Fields(line) {
		key, val, hasVal := strings.Cut(word, "=")
		op := o.lookup(key)
		if op == nil {
			return c, o.errorf(word, "unknown option")
		}
		switch {
		case op.flag && hasVal:
			return c, o.errorf(word, "takes no value")
		case !op.flag && !hasVal:
			return c, o.errorf(word, "needs a value")
		case !op.flag && val == "":
			return c, o.errorf(word, "empty value")
		}
		if err := op.apply(&c, val); err != nil {
			return c, o.errorf(word, err.Error())
		}
	}
	return c, nil
}

// ParseCmdline parses line with the built-in grammar.
func ParseCmdline(line string) (Config, error) {
	return NewOptions().Parse(line)
}

func (o *Options) lookup(key string) *option {
	for i := range o.opts {
		if o.opts[i].key == key {
			return &o.opts[i]
		}
	}
	return nil
}

func (o *Options) errorf(word, reason string) error {
	return &CmdlineError{Word: word, Reason: reason, Accepted: o.Forms()}
}

// isName reports whether s is made of letters, digits, '-', '_' and the
// extra characters given.
func isName(s, extra string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
		case strings.ContainsRune(extra, r):
		default:
			return false
		}
	}
	return true
}

func parseSelfTests(c *Config, v string) error {
	var names []string
	for _, n := range strings.Split(v, ",") {
		if !isName(n, "") {
			return fmt.Errorf("bad self-test name %q", n)
		}
		names = append(names, n)
	}
	c.SelfTests = names
	return nil
}

func parseIP(c *Config, v string) error {
	if v == "dhcp" {
		c.IP = IPConfig{Mode: IPDHCP}
		return nil
	}
	addr, rest, _ := strings.Cut(v, ",")
	p, err := netip.ParsePrefix(addr)
	if err != nil || !p.Addr().Is4() {
		return fmt.Errorf("%q is not dhcp or an IPv4 <addr>/<len>", addr)
	}
	ip := IPConfig{Mode: IPStatic, Addr: p}
	if rest != "" {
		gw, ok := strings.CutPrefix(rest, "gw=")
		if !ok {
			return fmt.Errorf("%q after the address: only gw=<addr> may follow", rest)
		}
		g, err := netip.ParseAddr(gw)
		if err != nil || !g.Is4() {
			return fmt.Errorf("gateway %q is not an IPv4 address", gw)
		}
		if !p.Masked().Contains(g) {
			return fmt.Errorf("gateway %s is not on %s", g, p.Masked())
		}
		ip.Gateway = g
	}
	c.IP = ip
	return nil
}

func parseDNS(c *Config, v string) error {
	var servers []netip.Addr
	for _, s := range strings.Split(v, ",") {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return fmt.Errorf("%q is not an IP address", s)
		}
		servers = append(servers, a)
	}
	c.DNS = servers
	return nil
}

// parseVirtioMMIO reads <size>@<base>:<irq>, size with an optional K/M/G
// suffix, base in hex (0x) or decimal, as Linux's virtio_mmio driver does.
func parseVirtioMMIO(c *Config, v string) error {
	size, rest, ok := strings.Cut(v, "@")
	if !ok {
		return errors.New("missing '@'")
	}
	base, irq, ok := strings.Cut(rest, ":")
	if !ok {
		return errors.New("missing ':'")
	}
	var d VirtioMMIODevice
	var err error
	if d.Size, err = parseSize(size); err != nil || d.Size == 0 {
		return fmt.Errorf("bad size %q", size)
	}
	if d.Base, err = strconv.ParseUint(base, 0, 64); err != nil {
		return fmt.Errorf("bad base address %q", base)
	}
	if d.Base+d.Size < d.Base {
		return fmt.Errorf("window %s@%s wraps", size, base)
	}
	n, err := strconv.ParseUint(irq, 10, 32)
	if err != nil {
		return fmt.Errorf("bad irq %q", irq)
	}
	d.IRQ = uint32(n)
	c.Virtio = append(c.Virtio, d)
	return nil
}

func parseSize(s string) (uint64, error) {
	shift := 0
	if s != "" {
		switch s[len(s)-1] {
		case 'K', 'k':
			shift = 10
		case 'M', 'm':
			shift = 20
		case 'G', 'g':
			shift = 30
		}
		if shift != 0 {
			s = s[:len(s)-1]
		}
	}
	n, err := strconv.ParseUint(s, 0, 64)
	if err != nil {
		return 0, err
	}
	if n > (^uint64(0))>>shift {
		return 0, errors.New("size overflows")
	}
	return n << shift, nil
}
