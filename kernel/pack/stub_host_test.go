package pack

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// The stub's decoder (stub/unpack.c) built for the host by
// stub/decode_host.c, and checked against the Go decoder: the same blocks
// must give the same bytes, and the blocks Go refuses the stub must refuse,
// without writing outside its buffer. This covers its fast path (blind
// copies near the ends of the buffers) without booting QEMU.

// hostDecoder builds the harness in dir; skipped without a C compiler.
func hostDecoder(t *testing.T) string {
	t.Helper()
	cc := testCC(t)
	dir := t.TempDir()
	for _, n := range []string{"unpack.c", "header.h"} {
		b, err := stubSources.ReadFile("stub/" + n)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	src, err := os.ReadFile("stub/decode_host.c")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "decode_host.c"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "decode_host")
	cmd := exec.Command(cc, "-O2", "-Wall", "-Werror", "-fsanitize=address", "-o", bin, "decode_host.c")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		// without the sanitizer's runtime, build plain: the guard bytes
		// still catch writes past the output
		cmd = exec.Command(cc, "-O2", "-Wall", "-Werror", "-o", bin, "decode_host.c")
		cmd.Dir = dir
		if out2, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("building the harness: %v\n%s\n%s", err, out, out2)
		}
	}
	return bin
}

// runC decodes blk into n bytes with the stub's decoder (and its CALL
// filter inverse for an address, when given one).
func runC(t *testing.T, bin string, blk []byte, n int, addr ...uint32) ([]byte, error) {
	t.Helper()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "blk"), filepath.Join(dir, "out")
	if err := os.WriteFile(in, blk, 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	args := []string{in, strconv.Itoa(n), out}
	for _, a := range addr {
		args = append(args, fmt.Sprintf("%#x", a))
	}
	cmd := exec.Command(bin, args...)
	cmd.Stderr = &stderr
	cmd.Env = append(os.Environ(), "ASAN_OPTIONS=detect_leaks=0")
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return b, nil
	case errors.As(err, &ee) && ee.ExitCode() == 1:
		return nil, fmt.Errorf("%s", stderr.String())
	case errors.As(err, &ee) && ee.ExitCode() == 3:
		t.Fatalf("the stub's decoder wrote outside its output (block of %d bytes, %d out)", len(blk), n)
	}
	t.Fatalf("harness: %v\n%s", err, stderr.String())
	return nil, nil
}

func TestStubDecoderAgrees(t *testing.T) {
	t.Parallel() // mostly waiting on the harness processes
	bin := hostDecoder(t)
	inputs := [][]byte{
		nil, {1}, periodic(13, 1), periodic(40, 1), periodic(35, 9),
		periodic(5000, 2), periodic(5000, 3), periodic(5000, 5), periodic(5000, 8),
		periodic(5000, 9), periodic(5000, 15), periodic(5000, 16), periodic(5000, 17),
		make([]byte, 100000), random(3000, 1), textish(60000, 2),
	}
	// short matches at every offset 1..40 near both ends of the buffers
	for off := 1; off <= 40; off++ {
		b := random(off, int64(off))
		b = append(b, b...)
		b = append(b, random(7, 99)...)
		inputs = append(inputs, b, append(b, b...))
	}
	if exe, err := os.Executable(); err == nil {
		if b, err := os.ReadFile(exe); err == nil && len(b) > 300<<10 {
			inputs = append(inputs, b[:300<<10])
		}
	}
	for i, src := range inputs {
		for _, depth := range []int{1, 64} {
			blk := Compress(src, CompressOptions{Depth: depth})
			got, err := runC(t, bin, blk, len(src))
			if err != nil {
				t.Fatalf("input %d (%d bytes): the stub refuses a valid block: %v", i, len(src), err)
			}
			if !bytes.Equal(got, src) {
				t.Fatalf("input %d (%d bytes): the stub decodes differently", i, len(src))
			}
		}
	}
}

// TestStubCallFilter: the stub's unbcj against bcjEncode, on machine code
// (this test binary's) and on E8-dense bytes.
func TestStubCallFilter(t *testing.T) {
	t.Parallel() // mostly waiting on the harness processes
	bin := hostDecoder(t)
	inputs := [][]byte{bytes.Repeat([]byte{opCall, 0x11, opCall}, 3000), periodic(1000, 9), random(20000, 3)}
	if exe, err := os.Executable(); err == nil {
		if b, err := os.ReadFile(exe); err == nil && len(b) > 600<<10 {
			inputs = append(inputs, b[300<<10:600<<10])
		}
	}
	for i, src := range inputs {
		for _, addr := range []uint32{0x100f000, 0xfffff000} {
			f := append([]byte(nil), src...)
			bcjEncode(f, addr)
			got, err := runC(t, bin, Compress(f, CompressOptions{Depth: 16}), len(f), addr)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, src) {
				t.Fatalf("input %d at %#x: unbcj differs from the original", i, addr)
			}
		}
	}
}

// TestStubDecoderRefuses: damaged blocks, the same verdict from both.
func TestStubDecoderRefuses(t *testing.T) {
	t.Parallel() // mostly waiting on the harness processes
	bin := hostDecoder(t)
	r := rand.New(rand.NewSource(5))
	base := Compress(textish(3000, 4), CompressOptions{})
	var cases [][]byte
	for i := 0; i < 60; i++ {
		b := append([]byte(nil), base...)
		switch i % 4 {
		case 0: // flip bytes
			for k := 0; k < 1+r.Intn(3); k++ {
				b[r.Intn(len(b))] ^= byte(1 + r.Intn(255))
			}
		case 1: // cut
			b = b[:r.Intn(len(b))]
		case 2: // random bytes
			b = random(1+r.Intn(200), int64(i))
		case 3: // large offsets in tokens: point matches before the start
			p := r.Intn(len(b) - 2)
			b[p], b[p+1] = 0xff, 0xff
		}
		cases = append(cases, b)
	}
	// a first match reaching one byte before the output (off = k+1) or
	// exactly to its start (off = k), on the fast path (40 literals
	// follow) and off it
	type sized struct {
		blk []byte
		n   int
	}
	var exact []sized
	for k := 1; k <= 20; k++ {
		for _, off := range []int{k, k + 1} {
			for _, tail := range []int{5, 40} {
				b := []byte{byte(k << 4)}
				b = append(b, random(k, int64(k))...)
				b = append(b, byte(off), byte(off>>8))
				b = append(b, 0xf0, byte(tail-15))
				b = append(b, random(tail, 3)...)
				exact = append(exact, sized{b, k + 4 + tail})
			}
		}
	}
	for i, c := range exact {
		want := make([]byte, c.n)
		goErr := Decode(want, c.blk)
		got, cErr := runC(t, bin, c.blk, c.n)
		if (goErr == nil) != (cErr == nil) {
			t.Fatalf("crafted %d: Go says %v, the stub says %v", i, goErr, cErr)
		}
		if goErr == nil && !bytes.Equal(got, want) {
			t.Fatalf("crafted %d: both accept, outputs differ", i)
		}
	}
	for i, b := range cases {
		for _, n := range []int{3000, 2999, 3001} {
			want := make([]byte, n)
			goErr := Decode(want, b)
			got, cErr := runC(t, bin, b, n)
			if (goErr == nil) != (cErr == nil) {
				t.Fatalf("case %d (n=%d): Go says %v, the stub says %v", i, n, goErr, cErr)
			}
			if goErr == nil && !bytes.Equal(got, want) {
				t.Fatalf("case %d (n=%d): both accept, outputs differ", i, n)
			}
		}
	}
}
