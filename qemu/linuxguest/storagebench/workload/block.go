package workload

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"damselfly/blk"
)

// Device is synchronous I/O at byte offsets that are multiples of Block:
// a raw disk (Damselfly's blk.Disk bios, Linux's O_DIRECT block device) or
// a cached view of one (a vm.Object, a buffered block device).
type Device interface {
	ReadAt(p []byte, off int64) error
	WriteAt(p []byte, off int64) error
}

// SeqIO is the size of each sequential request.
const SeqIO = 1 << 20

// BlockConfig shapes the block benchmarks.
type BlockConfig struct {
	Region  int64 // bytes from offset 0 that are read and written (a multiple of SeqIO)
	RandOps int   // 4 KiB requests per random figure
	QD      int   // requests in flight for the "-qd<n>" random figures; <= 1 skips them
	Seed    uint64
	Now     func() time.Time
	// Alloc returns an n-byte buffer; O_DIRECT needs aligned memory. Nil
	// means make.
	Alloc func(n int) []byte
}

// Sizes picks the benchmark shape for a disk of the given size, the same in
// both guests: at most 256 MiB of region and 8192 random requests.
func Sizes(disk int64) BlockConfig {
	region := min(disk, 256<<20) &^ (SeqIO - 1)
	return BlockConfig{Region: region, RandOps: int(min(region/Block, 8192)), QD: 8, Seed: 1}
}

func (c *BlockConfig) check() error {
	if c.Region < SeqIO || c.Region%SeqIO != 0 {
		return fmt.Errorf("workload: region of %d bytes: need a multiple of %d", c.Region, SeqIO)
	}
	if c.RandOps < 1 {
		return errors.New("workload: no random requests")
	}
	if c.Now == nil {
		return errors.New("workload: no clock")
	}
	return nil
}

func (c *BlockConfig) alloc(n int) []byte {
	if c.Alloc != nil {
		return c.Alloc(n)
	}
	return make([]byte, n)
}

// Raw runs, in this order: seq-write (the region in 1 MiB writes), seq-read
// (the region in 1 MiB reads, every block's header checked), rand-write and
// rand-read (RandOps 4 KiB requests at random block offsets, one in flight),
// and rand-write-qd<n>/rand-read-qd<n> (the same with QD in flight). Reads
// check what they get: each block must carry the header of a write to its
// own offset. Run it on a scratch disk: it overwrites the region.
func Raw(dev Device, c BlockConfig) ([]Result, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(c.Seed, c.Seed^0x9e3779b97f4a7c15))
	offs := make([]int64, c.RandOps)
	for i := range offs {
		offs[i] = rng.Int64N(c.Region/Block) * Block
	}
	nseq := int(c.Region / SeqIO)
	type step struct {
		name  string
		count int
		size  int
		qd    int
		fn    func(buf []byte, k int) error
	}
	seqWrite := func(b []byte, k int) error {
		off := int64(k) * SeqIO
		Stamp(b, off, TagSeq)
		return dev.WriteAt(b, off)
	}
	seqRead := func(b []byte, k int) error {
		off := int64(k) * SeqIO
		if err := dev.ReadAt(b, off); err != nil {
			return err
		}
		return checkRange(b, off, TagSeq)
	}
	randWrite := func(b []byte, k int) error {
		Stamp(b[:Block], offs[k], TagRand)
		return dev.WriteAt(b[:Block], offs[k])
	}
	randRead := func(b []byte, k int) error {
		if err := dev.ReadAt(b[:Block], offs[k]); err != nil {
			return err
		}
		return checkRange(b[:Block], offs[k], TagSeq, TagRand)
	}
	steps := []step{
		{"seq-write", nseq, SeqIO, 1, seqWrite},
		{"seq-read", nseq, SeqIO, 1, seqRead},
		{"rand-write", c.RandOps, Block, 1, randWrite},
		{"rand-read", c.RandOps, Block, 1, randRead},
	}
	if c.QD > 1 {
		q := fmt.Sprintf("-qd%d", c.QD)
		steps = append(steps,
			step{"rand-write" + q, c.RandOps, Block, c.QD, randWrite},
			step{"rand-read" + q, c.RandOps, Block, c.QD, randRead})
	}
	bufs := make([][]byte, max(c.QD, 1))
	for i := range bufs {
		bufs[i] = c.alloc(SeqIO)
		Fill(bufs[i], c.Seed+uint64(i))
	}
	var res []Result
	for _, s := range steps {
		start := c.Now()
		err := blk.Parallel(s.qd, s.count, func(w, k int) error { return s.fn(bufs[w], k) })
		if err != nil {
			return res, fmt.Errorf("%s: %w", s.name, err)
		}
		res = append(res, Result{Name: s.name, Bytes: int64(s.count) * int64(s.size), Ops: int64(s.count), Elapsed: c.Now().Sub(start)})
	}
	return res, nil
}

// Buffered runs buf-seq-write (the region in 1 MiB writes through the
// cache, then sync, which is timed) and buf-seq-read (after drop has
// emptied the cache; drop is not timed), checking every block read.
func Buffered(dev Device, c BlockConfig, sync, drop func() error) ([]Result, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	buf := c.alloc(SeqIO)
	Fill(buf, c.Seed)
	nseq := c.Region / SeqIO
	start := c.Now()
	for k := range nseq {
		Stamp(buf, k*SeqIO, TagBuf)
		if err := dev.WriteAt(buf, k*SeqIO); err != nil {
			return nil, fmt.Errorf("buf-seq-write: %w", err)
		}
	}
	if err := sync(); err != nil {
		return nil, fmt.Errorf("buf-seq-write: sync: %w", err)
	}
	res := []Result{{Name: "buf-seq-write", Bytes: c.Region, Ops: nseq, Elapsed: c.Now().Sub(start)}}
	if err := drop(); err != nil {
		return res, fmt.Errorf("buf-seq-read: dropping the cache: %w", err)
	}
	start = c.Now()
	for k := range nseq {
		if err := dev.ReadAt(buf, k*SeqIO); err != nil {
			return res, fmt.Errorf("buf-seq-read: %w", err)
		}
		if err := checkRange(buf, k*SeqIO, TagBuf); err != nil {
			return res, fmt.Errorf("buf-seq-read: %w", err)
		}
	}
	res = append(res, Result{Name: "buf-seq-read", Bytes: c.Region, Ops: nseq, Elapsed: c.Now().Sub(start)})
	return res, nil
}

// checkRange checks the header of every Block of b (read from off) names
// its offset and one of the tags.
func checkRange(b []byte, off int64, tags ...byte) error {
	for i := 0; i+Block <= len(b); i += Block {
		at := off + int64(i)
		tag, ok := Check(b[i:], at)
		if ok {
			ok = false
			for _, t := range tags {
				ok = ok || tag == t
			}
		}
		if !ok {
			return fmt.Errorf("block at offset %d: wrong contents (header %q)", at, b[i:i+headerLen])
		}
	}
	return nil
}
