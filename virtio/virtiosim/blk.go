package virtiosim

import (
	"encoding/binary"
	"fmt"
	"sync"

	"damselfly/virtio"
)

// virtio-blk (virtio 1.2 §5.2) constants as the simulated device uses them.
const (
	blkFSegMax  = 1 << 2
	blkFRO      = 1 << 5
	blkFBlkSize = 1 << 6
	blkFFlush   = 1 << 9
	blkFMQ      = 1 << 12
	blkFDiscard = 1 << 13

	blkTIn      = 0
	blkTOut     = 1
	blkTFlush   = 4
	blkTGetID   = 8
	blkTDiscard = 11

	blkSOK     = 0
	blkSIOErr  = 1
	blkSUnsupp = 2
)

// BlkOptions shape a simulated virtio-blk device.
type BlkOptions struct {
	ReadOnly bool
	Discard  bool
	NoFlush  bool
	Queues   int    // > 1 offers VIRTIO_BLK_F_MQ
	QueueMax uint16 // per-queue maximum size (default 128)
	SegMax   uint32 // 0: not offered
	ID       string
	FailAt   int64  // a request touching this byte offset gets IOERR; -1 none
	NoEvent  bool   // do not offer VIRTIO_F_EVENT_IDX
	NoIndir  bool   // do not offer VIRTIO_F_INDIRECT_DESC
	BlkSize  uint32 // blk_size to report (default 512)
}

// Blk is a simulated virtio-blk device over an in-memory image.
type Blk struct {
	*Device
	o   BlkOptions
	mu  sync.Mutex // img
	img []byte
	// PerQueue counts requests served by each queue.
	PerQueue []int
}

// NewBlk returns a virtio-blk device serving img (len a multiple of 512).
func NewBlk(mem *Memory, img []byte, o BlkOptions) *Blk {
	if o.QueueMax == 0 {
		o.QueueMax = 128
	}
	if o.Queues < 1 {
		o.Queues = 1
	}
	f := uint64(virtio.FeatureVersion1 | blkFBlkSize)
	if !o.NoEvent {
		f |= virtio.FeatureEventIdx
	}
	if !o.NoIndir {
		f |= virtio.FeatureIndirectDesc
	}
	if o.ReadOnly {
		f |= blkFRO
	}
	if !o.NoFlush {
		f |= blkFFlush
	}
	if o.Discard {
		f |= blkFDiscard
	}
	if o.Queues > 1 {
		f |= blkFMQ
	}
	if o.SegMax > 0 {
		f |= blkFSegMax
	}
	cfg := make([]byte, 60)
	binary.LittleEndian.PutUint64(cfg[0:], uint64(len(img)/512))
	binary.LittleEndian.PutUint32(cfg[12:], o.SegMax)
	if o.BlkSize == 0 {
		o.BlkSize = 512
	}
	binary.LittleEndian.PutUint32(cfg[20:], o.BlkSize)
	binary.LittleEndian.PutUint16(cfg[34:], uint16(o.Queues))
	binary.LittleEndian.PutUint32(cfg[36:], 64) // max_discard_sectors
	binary.LittleEndian.PutUint32(cfg[40:], 4)  // max_discard_seg
	binary.LittleEndian.PutUint32(cfg[44:], 1)  // discard_sector_alignment
	b := &Blk{o: o, img: img, PerQueue: make([]int, o.Queues)}
	b.Device = NewDevice(virtio.DeviceBlock, f, cfg, o.Queues, o.QueueMax, mem, b.handle)
	return b
}

// Image returns a copy of the image.
func (b *Blk) Image() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.img...)
}

// Served returns how many requests queue q served.
func (b *Blk) Served(q int) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.PerQueue[q]
}

func (b *Blk) handle(d *Device, q int, vq *Queue) bool {
	irq := false
	for {
		head, ok, err := vq.Pop()
		if err != nil {
			d.Report(err)
			return irq
		}
		if !ok {
			return irq
		}
		bufs, err := vq.Chain(head)
		if err != nil {
			d.Report(err)
			return irq
		}
		n, err := b.serve(bufs)
		if err != nil {
			d.Report(err)
		}
		b.mu.Lock()
		b.PerQueue[q]++
		b.mu.Unlock()
		want, err := vq.Push(head, n)
		if err != nil {
			d.Report(err)
		}
		irq = irq || want
	}
}

// serve runs one request and returns the bytes written to the driver.
func (b *Blk) serve(bufs []Buf) (uint32, error) {
	if len(bufs) < 2 || bufs[0].Write || len(bufs[0].B) != 16 {
		return 0, fmt.Errorf("virtiosim: blk request without a 16-byte header")
	}
	st := bufs[len(bufs)-1]
	if !st.Write || len(st.B) != 1 {
		return 0, fmt.Errorf("virtiosim: blk request without a status byte")
	}
	typ := binary.LittleEndian.Uint32(bufs[0].B[0:])
	off := int64(binary.LittleEndian.Uint64(bufs[0].B[8:])) * 512
	data := bufs[1 : len(bufs)-1]
	var total int64
	for _, x := range data {
		total += int64(len(x.B))
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	size := int64(len(b.img))
	fail := b.o.FailAt >= 0 && b.o.FailAt >= off && b.o.FailAt < off+total
	status := byte(blkSOK)
	written := uint32(1)
	switch typ {
	case blkTIn, blkTOut:
		if off < 0 || off > size || total > size-off || fail {
			status = blkSIOErr
			break
		}
		if typ == blkTOut && b.o.ReadOnly {
			status = blkSIOErr
			break
		}
		for _, x := range data {
			if x.Write != (typ == blkTIn) {
				return 0, fmt.Errorf("virtiosim: blk data buffer direction wrong for type %d", typ)
			}
			if typ == blkTIn {
				off += int64(copy(x.B, b.img[off:]))
			} else {
				off += int64(copy(b.img[off:], x.B))
			}
		}
		if typ == blkTIn {
			written += uint32(total)
		}
	case blkTFlush:
		if b.o.NoFlush {
			status = blkSUnsupp
		}
	case blkTGetID:
		if len(data) != 1 || len(data[0].B) != 20 || !data[0].Write {
			return 0, fmt.Errorf("virtiosim: GET_ID needs one 20-byte writable buffer")
		}
		clear(data[0].B)
		written += uint32(copy(data[0].B, b.o.ID))
	case blkTDiscard:
		if !b.o.Discard {
			status = blkSUnsupp
			break
		}
		for _, x := range data {
			if x.Write || len(x.B)%16 != 0 {
				return 0, fmt.Errorf("virtiosim: discard segments malformed")
			}
			for s := x.B; len(s) >= 16; s = s[16:] {
				so := int64(binary.LittleEndian.Uint64(s)) * 512
				sn := int64(binary.LittleEndian.Uint32(s[8:])) * 512
				if sn > 64*512 || so < 0 || so > size || sn > size-so {
					status = blkSIOErr
					continue
				}
				clear(b.img[so : so+sn])
			}
		}
	default:
		status = blkSUnsupp
	}
	st.B[0] = status
	return written, nil
}
