package pack

import (
	"bytes"
	"debug/elf"
	"errors"
	"math/rand"
	"os"
	"testing"
)

// periodic returns n bytes repeating a pattern of length p: matches with
// offsets below 8 make the decoders copy overlapping bytes.
func periodic(n, p int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + i%p)
	}
	return b
}

func random(n int, seed int64) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

// textish is compressible but not trivially so: words from a small set.
func textish(n int, seed int64) []byte {
	words := []string{"lwkt ", "token ", "msgport ", "ipi ", "cpu ", "thread ", "\n", "schedule ", "0x1f ", "DoMsg "}
	r := rand.New(rand.NewSource(seed))
	var b []byte
	for len(b) < n {
		b = append(b, words[r.Intn(len(words))]...)
	}
	return b[:n]
}

// sequences walks a block and returns its literal runs and matches, so the
// tests can check the encoder's output against the format's rules.
type seqInfo struct{ lits, match, off, outPos int }

func walk(t *testing.T, blk []byte) []seqInfo {
	t.Helper()
	var out []seqInfo
	si, di := 0, 0
	for {
		tok := blk[si]
		si++
		l := int(tok >> 4)
		if l == 15 {
			var err error
			if l, si, err = readLength(blk, si, l); err != nil {
				t.Fatal(err)
			}
		}
		si += l
		di += l
		if si == len(blk) {
			out = append(out, seqInfo{lits: l, outPos: di})
			return out
		}
		off := int(blk[si]) | int(blk[si+1])<<8
		si += 2
		m := int(tok & 15)
		if m == 15 {
			var err error
			if m, si, err = readLength(blk, si, m); err != nil {
				t.Fatal(err)
			}
		}
		m += minMatch
		out = append(out, seqInfo{lits: l, match: m, off: off, outPos: di})
		di += m
	}
}

func roundTrip(t *testing.T, name string, src []byte, opt CompressOptions) []byte {
	t.Helper()
	blk := Compress(src, opt)
	got := make([]byte, len(src))
	if err := Decode(got, blk); err != nil {
		t.Fatalf("%s: decode: %v", name, err)
	}
	if !bytes.Equal(got, src) {
		t.Fatalf("%s: round trip differs", name)
	}
	// the format's end-of-block rules, which other LZ4 decoders rely on
	seqs := walk(t, blk)
	n := len(src)
	for i, s := range seqs[:len(seqs)-1] {
		if s.outPos >= n-matchLimit && n > 0 {
			t.Fatalf("%s: match %d starts at %d, within %d of the end %d", name, i, s.outPos, matchLimit, n)
		}
		if s.off < 1 || s.off > maxOffset || s.off > s.outPos {
			t.Fatalf("%s: match %d offset %d at %d", name, i, s.off, s.outPos)
		}
	}
	if last := seqs[len(seqs)-1]; n >= lastLits && last.lits < lastLits {
		t.Fatalf("%s: block ends with %d literals, want >= %d", name, last.lits, lastLits)
	}
	return blk
}

func TestRoundTrip(t *testing.T) {
	cases := []struct {
		name string
		src  []byte
		max  int // the block must be at most this long (0: no bound)
	}{
		{"empty", nil, 1},
		{"one byte", []byte{7}, 2},
		{"matchLimit bytes", periodic(matchLimit, 1), 0},
		{"matchLimit+1 bytes", periodic(matchLimit+1, 1), 0},
		{"short run", periodic(40, 1), 12},
		{"zeros 1 MiB", make([]byte, 1<<20), 1<<20/255 + 64},
		{"period 2", periodic(100000, 2), 600},
		{"period 3", periodic(100000, 3), 600},
		{"period 5", periodic(100000, 5), 600},
		{"period 7", periodic(100000, 7), 600},
		{"period 300", periodic(100000, 300), 1000},
		// incompressible: at most the literal framing on top
		{"random 64 KiB", random(64<<10, 1), 64<<10 + 64<<10/255 + 16},
		{"random 300 KiB", random(300<<10, 2), 300<<10 + 300<<10/255 + 16},
		{"text", textish(200000, 3), 200000 / 2},
		{"15 literals", []byte("abcdefghijklmno"), 17},
		{"270 literals", random(270, 4), 273},
		// a match just past the 64 KiB window must not be used
		{"far repeat", append(append(random(1000, 5), make([]byte, 65536)...), random(1000, 5)...), 0},
	}
	for _, c := range cases {
		blk := roundTrip(t, c.name, c.src, CompressOptions{})
		if c.max > 0 && len(blk) > c.max {
			t.Errorf("%s: %d bytes compress to %d, want <= %d", c.name, len(c.src), len(blk), c.max)
		}
	}
}

// TestRoundTripELF compresses the loadable segments of a real executable,
// this test binary (the first 256 KiB of each, to stay quick under -race),
// and the kernel image when DAMSELFLY_KERNEL names one.
func TestRoundTripELF(t *testing.T) {
	paths := []string{}
	if exe, err := os.Executable(); err == nil {
		paths = append(paths, exe)
	}
	if k := os.Getenv("DAMSELFLY_KERNEL"); k != "" {
		paths = append(paths, k)
	}
	var total, packed int
	for _, p := range paths {
		f, err := elf.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, prog := range f.Progs {
			if prog.Type != elf.PT_LOAD || prog.Filesz == 0 {
				continue
			}
			n := min(prog.Filesz, 256<<10)
			b := make([]byte, n)
			if _, err := prog.ReadAt(b, 0); err != nil {
				t.Fatal(err)
			}
			blk := roundTrip(t, p, b, CompressOptions{Depth: 32})
			total += len(b)
			packed += len(blk)
		}
		f.Close()
	}
	if total == 0 {
		t.Fatal("no segments found")
	}
	// machine code and Go's tables compress to well under 3/4
	if packed*4 > total*3 {
		t.Errorf("ELF segments: %d bytes compress to %d, want < 3/4", total, packed)
	}
	t.Logf("ELF segments: %d -> %d bytes (%.3f)", total, packed, float64(packed)/float64(total))
}

// TestDeeperIsNotLarger: the parser's output must not grow with a deeper
// search on ordinary data (it would mean the cost model is wrong).
func TestDeeperIsNotLarger(t *testing.T) {
	src := textish(100000, 9)
	shallow := len(Compress(src, CompressOptions{Depth: 4, SeqPenalty: -1}))
	deep := len(Compress(src, CompressOptions{Depth: 256, SeqPenalty: -1}))
	if deep > shallow {
		t.Errorf("depth 256 gives %d bytes, depth 4 gives %d", deep, shallow)
	}
}

func TestDecodeRejects(t *testing.T) {
	ok := Compress(textish(1000, 1), CompressOptions{})
	cases := []struct {
		name string
		dst  int
		src  []byte
	}{
		{"empty input", 0, nil},
		{"truncated literal length", 20, []byte{0xf0}},
		{"literals past input", 4, []byte{0x40, 'a', 'b'}},
		{"literals past output", 1, []byte{0x20, 'a', 'b'}},
		{"truncated offset", 10, []byte{0x10, 'a', 0x01}},
		{"offset zero", 10, []byte{0x10, 'a', 0x00, 0x00, 0x00}},
		{"offset before start", 10, []byte{0x10, 'a', 0x02, 0x00, 0x00}},
		{"match past output", 3, []byte{0x10, 'a', 0x01, 0x00, 0x00}},
		{"truncated match length", 40, []byte{0x1f, 'a', 0x01, 0x00}},
		{"missing last token", 5, []byte{0x10, 'a', 0x01, 0x00}},
		{"output too short", 2000, ok},
		{"output too long", 999, ok},
		{"cut block", 1000, ok[:len(ok)/2]},
	}
	for _, c := range cases {
		err := Decode(make([]byte, c.dst), c.src)
		if err == nil {
			t.Errorf("%s: decoded without error", c.name)
		} else if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v does not wrap ErrCorrupt", c.name, err)
		}
	}
}

func FuzzLZ4RoundTrip(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("abcabcabcabcabcabcabcabc"))
	f.Add(periodic(300, 5))
	f.Add(random(100, 1))
	f.Add(make([]byte, 5000))
	f.Fuzz(func(t *testing.T, src []byte) {
		blk := Compress(src, CompressOptions{Depth: 8})
		got := make([]byte, len(src))
		if err := Decode(got, blk); err != nil {
			t.Fatalf("decode: %v", err)
		}
		if !bytes.Equal(got, src) {
			t.Fatal("round trip differs")
		}
	})
}

// FuzzLZ4Decode feeds arbitrary blocks: the decoder must refuse or succeed,
// never panic or write outside dst (a slice bound would panic).
func FuzzLZ4Decode(f *testing.F) {
	f.Add([]byte{0x10, 'a', 0x01, 0x00, 0x00}, uint16(5))
	f.Add(Compress(textish(500, 2), CompressOptions{}), uint16(500))
	f.Add([]byte{0xff, 0xff, 0xff}, uint16(100))
	f.Fuzz(func(t *testing.T, src []byte, n uint16) {
		dst := make([]byte, int(n))
		if err := Decode(dst, src); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("error %v does not wrap ErrCorrupt", err)
		}
	})
}
