package board

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func TestParseCmdline(t *testing.T) {
	tests := []struct {
		line string
		want func(c *Config)
	}{
		{"", func(c *Config) {}},
		{"  poweroff\tshell ", func(c *Config) { c.PowerOff, c.Shell = true, true }},
		{"bootprofile", func(c *Config) { c.BootProfile = true }},
		{"selftest=time,smp poweroff", func(c *Config) {
			c.SelfTests = []string{"time", "smp"}
			c.PowerOff = true
		}},
		{"selftest=a selftest=b", func(c *Config) { c.SelfTests = []string{"b"} }},
		{"loglevel=debug", func(c *Config) { c.LogLevel = LogDebug }},
		{"loglevel=error", func(c *Config) { c.LogLevel = LogError }},
		{"root=vda1 ro", func(c *Config) { c.Root, c.ReadOnly = "vda1", true }},
		{"root=/dev/vda ro rw", func(c *Config) { c.Root = "/dev/vda" }},
		{"ip=dhcp", func(c *Config) { c.IP.Mode = IPDHCP }},
		{"ip=10.0.2.15/24,gw=10.0.2.2", func(c *Config) {
			c.IP = IPConfig{Mode: IPStatic, Addr: netip.MustParsePrefix("10.0.2.15/24"),
				Gateway: netip.MustParseAddr("10.0.2.2")}
		}},
		{"ip=192.168.1.9/32", func(c *Config) {
			c.IP = IPConfig{Mode: IPStatic, Addr: netip.MustParsePrefix("192.168.1.9/32")}
		}},
		{"dns=10.0.2.3,1.1.1.1", func(c *Config) {
			c.DNS = []netip.Addr{netip.MustParseAddr("10.0.2.3"), netip.MustParseAddr("1.1.1.1")}
		}},
		{"netpart=toeplitz", func(c *Config) { c.NetPart = NetPartToeplitz }},
		{"netpart=toeplitz netpart=ports", func(c *Config) { c.NetPart = NetPartPorts }},
		{"smp=4", func(c *Config) { c.SMP = 4 }},
		{"gogc=250", func(c *Config) { c.GOGC = 250 }},
		{"gogc=off", func(c *Config) { c.GOGC = -1 }},
		{"gogc=off gogc=10", func(c *Config) { c.GOGC = 10 }},
		{"idlespin=200", func(c *Config) { c.IdleSpin = 200 }},
		{"idlespin=0", func(c *Config) {}},
		{"virtio_mmio.device=512@0xfeb00e00:12 virtio_mmio.device=4K@0xd0000000:5", func(c *Config) {
			c.Virtio = []VirtioMMIODevice{{Base: 0xfeb00e00, Size: 512, IRQ: 12}, {Base: 0xd0000000, Size: 4096, IRQ: 5}}
		}},
	}
	for _, tt := range tests {
		got, err := ParseCmdline(tt.line)
		if err != nil {
			t.Errorf("ParseCmdline(%q): %v", tt.line, err)
			continue
		}
		want := DefaultConfig()
		tt.want(&want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("ParseCmdline(%q) =\n%+v, want\n%+v", tt.line, got, want)
		}
	}
}

func TestParseCmdlineErrors(t *testing.T) {
	tests := []struct{ line, word, reason string }{
		{"poweroff bogus", "bogus", "unknown option"},
		{"quiet=1", "quiet=1", "unknown option"},
		{"poweroff=1", "poweroff=1", "takes no value"},
		{"selftest", "selftest", "needs a value"},
		{"selftest=", "selftest=", "empty value"},
		{"selftest=a,,b", "selftest=a,,b", "bad self-test name"},
		{"loglevel=loud", "loglevel=loud", "unknown log level"},
		{"ip=10.0.2.15", "ip=10.0.2.15", "not dhcp"},
		{"ip=::1/64", "ip=::1/64", "not dhcp"},
		{"ip=10.0.2.15/24,gw=10.0.3.1", "ip=10.0.2.15/24,gw=10.0.3.1", "not on 10.0.2.0/24"},
		{"ip=10.0.2.15/24,via=10.0.2.2", "ip=10.0.2.15/24,via=10.0.2.2", "only gw="},
		{"dns=8.8.8", "dns=8.8.8", "not an IP"},
		{"netpart=rss", "netpart=rss", "unknown partitioning"},
		{"smp=0", "smp=0", "CPU count"},
		{"smp=x", "smp=x", "CPU count"},
		{"gogc=9", "gogc=9", "neither a percent"},
		{"gogc=-1", "gogc=-1", "neither a percent"},
		{"gogc=on", "gogc=on", "neither a percent"},
		{"idlespin=-1", "idlespin=-1", "not a number of polling turns"},
		{"idlespin=1000001", "idlespin=1000001", "not a number of polling turns"},
		{"idlespin=lots", "idlespin=lots", "not a number of polling turns"},
		{"root=a;b", "root=a;b", "device name"},
		{"virtio_mmio.device=512", "virtio_mmio.device=512", "missing '@'"},
		{"virtio_mmio.device=1@0xffffffffffffffff:1", "virtio_mmio.device=1@0xffffffffffffffff:1", "wraps"},
	}
	for _, tt := range tests {
		_, err := ParseCmdline(tt.line)
		var ce *CmdlineError
		if !errors.As(err, &ce) {
			t.Errorf("ParseCmdline(%q) error = %v, want *CmdlineError", tt.line, err)
			continue
		}
		if ce.Word != tt.word || !strings.Contains(ce.Reason, tt.reason) {
			t.Errorf("ParseCmdline(%q): word %q reason %q, want %q containing %q", tt.line, ce.Word, ce.Reason, tt.word, tt.reason)
		}
		msg := err.Error()
		for _, form := range []string{"poweroff", "selftest=<name>", "ip=dhcp|<addr>/<len>[,gw=<addr>]", "smp="} {
			if !strings.Contains(msg, form) {
				t.Errorf("error %q does not list accepted form %q", msg, form)
			}
		}
	}
}

func TestOptionsAdd(t *testing.T) {
	o := NewOptions()
	if err := o.Add("console", "console=<tty>", nil); err != nil {
		t.Fatal(err)
	}
	if err := o.Add("console", "x", nil); err == nil {
		t.Error("duplicate Add succeeded")
	}
	if err := o.Add("shell", "x", nil); err == nil {
		t.Error("Add of a built-in succeeded")
	}
	if err := o.Add("bad key", "x", nil); err == nil {
		t.Error("Add of a key with a space succeeded")
	}
	c, err := o.Parse("console=ttyS0 shell")
	if err != nil {
		t.Fatal(err)
	}
	if c.Extra["console"] != "ttyS0" || !c.Shell {
		t.Errorf("got %+v", c)
	}
	if _, err := NewOptions().Parse("console=ttyS0"); err == nil {
		t.Error("option added to one grammar leaked into another")
	}
}

func FuzzParseCmdline(f *testing.F) {
	for _, s := range []string{"", "poweroff", "selftest=time,smp poweroff", "ip=10.0.2.15/24,gw=10.0.2.2",
		"dns=1.1.1.1", "virtio_mmio.device=512@0xfeb00e00:12", "smp=8 netpart=toeplitz loglevel=warn root=vda ro",
		"bogus=", "=", "ip=dhcp,gw=1.2.3.4", "bootprofile poweroff", "gogc=off", "gogc=400", "idlespin=200", "idlespin=x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		c, err := ParseCmdline(line)
		if err != nil {
			var ce *CmdlineError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a *CmdlineError", err)
			}
			if !strings.Contains(line, ce.Word) {
				t.Fatalf("error names %q, not in %q", ce.Word, line)
			}
			return
		}
		if c.SMP < 0 || c.SMP > 255 {
			t.Fatalf("smp %d out of range", c.SMP)
		}
		for _, n := range c.SelfTests {
			if !isName(n, "") {
				t.Fatalf("self-test name %q accepted", n)
			}
		}
	})
}
