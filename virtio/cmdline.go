package virtio

import (
	"fmt"
	"strconv"
	"strings"
)

// MMIODesc is a virtio-mmio device announced on the kernel command line.
type MMIODesc struct {
	Base uint64
	Size uint64
	IRQ  uint32
}

// ParseMMIOCmdline extracts virtio-mmio devices from a kernel command line,
// in the form QEMU's microvm appends for each device and Linux's
// virtio_mmio driver reads: virtio_mmio.device=<size>@<base>:<irq>[:<id>],
// size and base as in Linux memparse (0x hex, leading-0 octal or decimal,
// optional K/M/G/T suffix). Malformed entries are refused with the reason;
// other parameters are ignored.
func ParseMMIOCmdline(cmdline string) ([]MMIODesc, error) {
	var out []MMIODesc
	for _, f := range strings.Fields(cmdline) {
		v, ok := strings.CutPrefix(f, "virtio_mmio.device=")
		if !ok {
			continue
		}
		d, err := parseMMIODevice(v)
		if err != nil {
			return out, fmt.Errorf("virtio: cmdline %q: %w", f, err)
		}
		out = append(out, d)
	}
	return out, nil
}

func parseMMIODevice(v string) (MMIODesc, error) {
	sizeS, rest, ok := strings.Cut(v, "@")
	if !ok {
		return MMIODesc{}, fmt.Errorf("missing @")
	}
	baseS, rest, ok := strings.Cut(rest, ":")
	if !ok {
		return MMIODesc{}, fmt.Errorf("missing :<irq>")
	}
	irqS, _, _ := strings.Cut(rest, ":") // an optional platform device id follows
	size, err := memparse(sizeS)
	if err != nil {
		return MMIODesc{}, fmt.Errorf("size: %w", err)
	}
	base, err := memparse(baseS)
	if err != nil {
		return MMIODesc{}, fmt.Errorf("base: %w", err)
	}
	irq, err := strconv.ParseUint(irqS, 10, 32)
	if err != nil {
		return MMIODesc{}, fmt.Errorf("irq: %w", err)
	}
	if size == 0 || base+size < base {
		return MMIODesc{}, fmt.Errorf("bad window %#x+%#x", base, size)
	}
	return MMIODesc{Base: base, Size: size, IRQ: uint32(irq)}, nil
}

// memparse reads a number with an optional binary-unit suffix.
func memparse(s string) (uint64, error) {
	shift := 0
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'k', 'K':
			shift = 10
		case 'm', 'M':
			shift = 20
		case 'g', 'G':
			shift = 30
		case 't', 'T':
			shift = 40
		}
		if shift != 0 {
			s = s[:n-1]
		}
	}
	v, err := strconv.ParseUint(s, 0, 64)
	if err != nil {
		return 0, err
	}
	if v > ^uint64(0)>>shift {
		return 0, fmt.Errorf("%s overflows", s)
	}
	return v << shift, nil
}
