// Command mkimage packs a kernel ELF into a compressed bootable ELF
// (kernel/pack): the boot stub, built here with the host's C compiler,
// followed by the kernel's segments as LZ4 blocks.
//
//	go run ./kernel/cmd/mkimage -in build/kernel.raw.elf -out build/kernel.elf
//
// The written image is unpacked again on the host and compared with the
// input before mkimage reports success.
package main

import (
	"flag"
	"fmt"
	"os"

	"damselfly/kernel/pack"
)

func main() {
	in := flag.String("in", "", "kernel ELF to pack (with its Xen PVH note)")
	out := flag.String("out", "", "packed image to write")
	cc := flag.String("cc", envOr("CC", "gcc"), "C compiler for the 32-bit boot stub")
	base := flag.Uint("base", pack.DefaultBase, "physical address of the stub and payload")
	limit := flag.Uint("limit", pack.DefaultLimit, "the packed segment must end below this address")
	depth := flag.Int("depth", pack.DefaultDepth, "match finder depth (larger: smaller image, slower)")
	quiet := flag.Bool("q", false, "print nothing on success")
	flag.Parse()
	if *in == "" || *out == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: mkimage -in kernel.elf -out packed.elf [-cc gcc] [-base addr] [-limit addr] [-depth n]")
		os.Exit(2)
	}
	if err := run(*in, *out, *cc, uint32(*base), uint32(*limit), *depth, *quiet); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func run(in, out, cc string, base, limit uint32, depth int, quiet bool) error {
	raw, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	k, err := pack.ReadKernel(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	stub, err := pack.BuildStub(cc, base)
	if err != nil {
		return err
	}
	img, lay, err := pack.Pack(k, stub, pack.Options{Base: base, Limit: limit, Compress: pack.CompressOptions{Depth: depth}})
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	if err := pack.Verify(img, k); err != nil {
		return fmt.Errorf("%s: the packed image does not unpack to its input: %w", in, err)
	}
	tmp := out + ".tmp"
	if err := os.WriteFile(tmp, img, 0o755); err != nil {
		return err
	}
	if err := os.Rename(tmp, out); err != nil {
		return err
	}
	if !quiet {
		fmt.Printf("mkimage: %s: %d -> %d bytes (%.3f of the input file), stub+payload at [%#x-%#x), kernel at [%#x-%#x)\n",
			out, len(raw), len(img), float64(len(img))/float64(len(raw)), lay.Base, lay.End, lay.KernelLo, lay.KernelHi)
	}
	return nil
}
