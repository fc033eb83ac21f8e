package virtio

import (
	"fmt"
	"testing"
)

func TestParseMMIOCmdline(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"console=ttyS0 virtio_mmio.device=512@0xfeb00e00:12 virtio_mmio.device=512@0xfeb00c00:11", "[{0xfeb00e00 512 12} {0xfeb00c00 512 11}]", true},
		{"virtio_mmio.device=4K@0x1000:5:3", "[{0x1000 4096 5}]", true},
		{"virtio_mmio.device=1M@4096:0", "[{0x1000 1048576 0}]", true},
		{"root=/dev/vda", "[]", true},
		{"virtio_mmio.device=512", "", false},
		{"virtio_mmio.device=512@0xfeb00e00", "", false},
		{"virtio_mmio.device=x@0x1000:5", "", false},
		{"virtio_mmio.device=512@0x1000:irq", "", false},
		{"virtio_mmio.device=0@0x1000:5", "", false},
		{"virtio_mmio.device=16E@0x1000:5", "", false},
		{"virtio_mmio.device=1K@0xffffffffffffff00:5", "", false},
	}
	for _, tc := range tests {
		got, err := ParseMMIOCmdline(tc.in)
		if (err == nil) != tc.ok {
			t.Fatalf("%q: err %v", tc.in, err)
		}
		if !tc.ok {
			continue
		}
		s := "["
		for i, d := range got {
			if i > 0 {
				s += " "
			}
			s += fmt.Sprintf("{%#x %d %d}", d.Base, d.Size, d.IRQ)
		}
		s += "]"
		if s != tc.want {
			t.Fatalf("%q: got %s want %s", tc.in, s, tc.want)
		}
	}
}

func FuzzParseMMIOCmdline(f *testing.F) {
	f.Add("console=ttyS0 virtio_mmio.device=512@0xfeb00e00:12")
	f.Add("virtio_mmio.device=4K@0x1000:5:3 virtio_mmio.device=1G@07:1")
	f.Add("virtio_mmio.device=@:")
	f.Fuzz(func(t *testing.T, s string) {
		ds, err := ParseMMIOCmdline(s)
		if err != nil {
			return
		}
		for _, d := range ds {
			if d.Size == 0 || d.Base+d.Size < d.Base {
				t.Fatalf("accepted bad window %+v", d)
			}
		}
	})
}
