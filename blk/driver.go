package blk

// Driver is what a block device driver (virtio-blk, the memory and file
// devices) offers the block layer. Submit starts a request and returns;
// the driver calls r.Complete exactly once, from any goroutine, possibly
// before Submit returns.
type Driver interface {
	Name() string
	Size() int64 // bytes; a multiple of Limits().SectorSize
	ReadOnly() bool
	Limits() Limits
	Submit(r *Request)
}

// Limits describe what one request may carry and how many may be in
// flight.
type Limits struct {
	SectorSize  int   // offsets and lengths are multiples of this
	MaxTransfer int64 // bytes per request
	MaxSegments int   // data segments per request
	QueueDepth  int   // requests in flight
	Flush       bool  // OpFlush supported (else it completes at once: no volatile cache)
	Discard     bool  // OpDiscard supported
}

// Request is a driver request: one or more merged bios of one op over a
// contiguous byte range, data as a segment list.
type Request struct {
	Op   Op
	Off  int64
	Len  int64
	Segs [][]byte
	CPU  int // the first bio's CPU hint (CPU + 1; 0 unknown)

	bios     []*Bio
	complete func(*Request, error)
}

// Complete ends the request; every bio merged into it ends with err.
func (r *Request) Complete(err error) { r.complete(r, err) }

// Poller is implemented by drivers that can reap completions without an
// interrupt (virtio: read the used rings). A disk configured with a poll
// interval uses it while a DoBio waits, so I/O makes progress even when
// interrupts are not delivered, or are delivered to a CPU whose scheduler
// the waiting thread is holding up.
type Poller interface{ Poll() }
