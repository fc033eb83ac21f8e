package virtiosim

import (
	"encoding/binary"
	"sync"

	"damselfly/virtio"
)

// Handler is a device's logic: called on the device goroutine with a queue
// that has new buffers; it pops, processes and pushes, and returns whether
// to raise a used-buffer interrupt.
type Handler func(d *Device, q int, vq *Queue) (interrupt bool)

type qstate struct {
	max            uint16
	num            uint16
	desc, drv, dev uint64
	ready          bool
	notifyOff      uint16
	vec            uint16 // queue_msix_vector
	vq             *Queue
}

// Device is the transport-independent state of a simulated virtio device:
// status, feature negotiation, queue registers and config space. The MMIO
// and PCI front ends translate register accesses into it. Notifications
// wake the device goroutine, which runs Handle and then calls Interrupt
// (the driver's interrupt handler, set by the test).
type Device struct {
	ID       uint32
	Features uint64
	Mem      *Memory
	Handle   Handler

	mu             sync.Mutex // everything below and Config
	Config         []byte
	status         uint8
	devSel, drvSel uint32
	driverFeatures uint64
	qsel           uint32
	queues         []*qstate
	isr            uint32
	gen            uint32
	interrupt      func()
	msixOn         bool
	configVec      uint16
	msixTable      []byte // 16 bytes per vector (PCI 3.0 §6.8.2.6)
	msixHandler    func(vector uint16)
	pending        []bool
	wake           chan struct{}
	stop           chan struct{}
	wg             sync.WaitGroup

	// Errors collects what the device found wrong with the driver's use of
	// it (bad chains, bad registers); tests assert it stays empty.
	Errors []error
}

// NewDevice returns a device with nq queues of at most qmax entries.
func NewDevice(id uint32, features uint64, config []byte, nq int, qmax uint16, mem *Memory, h Handler) *Device {
	d := &Device{ID: id, Features: features, Config: config, Mem: mem, Handle: h,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), pending: make([]bool, nq)}
	for i := 0; i < nq; i++ {
		d.queues = append(d.queues, &qstate{max: qmax, notifyOff: uint16(i), vec: NoVector})
	}
	d.configVec = NoVector
	d.msixTable = make([]byte, 16*(nq+1))
	for v := 0; v <= nq; v++ {
		d.msixTable[16*v+12] = 1 // entries start masked
	}
	d.wg.Add(1)
	go d.run()
	return d
}

// SetInterrupt installs the driver's interrupt handler.
func (d *Device) SetInterrupt(f func()) {
	d.mu.Lock()
	d.interrupt = f
	d.mu.Unlock()
}

// Close stops the device goroutine.
func (d *Device) Close() {
	close(d.stop)
	d.wg.Wait()
}

func (d *Device) errorf(err error) {
	d.Errors = append(d.Errors, err)
}

// Errs returns the errors recorded so far.
func (d *Device) Errs() []error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]error(nil), d.Errors...)
}

func (d *Device) run() {
	defer d.wg.Done()
	for {
		select {
		case <-d.stop:
			return
		case <-d.wake:
		}
		for {
			d.mu.Lock()
			q := -1
			for i, p := range d.pending {
				if p {
					q = i
					d.pending[i] = false
					break
				}
			}
			var vq *Queue
			if q >= 0 && d.queues[q].ready && d.status&virtio.StatusDriverOK != 0 {
				vq = d.queues[q].vq
			}
			d.mu.Unlock()
			if q < 0 {
				break
			}
			if vq == nil || d.Handle == nil {
				continue
			}
			if d.Handle(d, q, vq) {
				d.raiseQueue(q)
			}
		}
	}
}

// RaiseInterrupt sets ISR bits and calls the driver's handler.
func (d *Device) RaiseInterrupt(bits uint32) {
	d.mu.Lock()
	d.isr |= bits
	f := d.interrupt
	d.mu.Unlock()
	if f != nil {
		f()
	}
}

// notify is a driver doorbell for queue q.
func (d *Device) notify(q uint32) {
	d.mu.Lock()
	if int(q) < len(d.pending) {
		d.pending[q] = true
	}
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Register-level operations shared by the transports; d.mu held.

func (d *Device) deviceFeatures() uint32 {
	if d.devSel > 1 {
		return 0
	}
	return uint32(d.Features >> (32 * d.devSel))
}

func (d *Device) setDriverFeatures(v uint32) {
	if d.drvSel > 1 {
		return
	}
	sh := 32 * d.drvSel
	d.driverFeatures = d.driverFeatures&^(0xffffffff<<sh) | uint64(v)<<sh
}

func (d *Device) setStatus(s uint8) {
	if s == 0 {
		d.status = 0
		d.driverFeatures = 0
		for _, q := range d.queues {
			q.ready, q.vq = false, nil
			q.vec = NoVector // as QEMU's virtio_reset does
		}
		d.configVec = NoVector
		d.isr = 0
		return
	}
	if s&virtio.StatusFeaturesOK != 0 && d.status&virtio.StatusFeaturesOK == 0 {
		// Refuse features we did not offer (§2.2.1).
		if d.driverFeatures&^d.Features != 0 {
			s &^= virtio.StatusFeaturesOK
		}
	}
	d.status = s
}

func (d *Device) sel() *qstate {
	if int(d.qsel) < len(d.queues) {
		return d.queues[d.qsel]
	}
	return nil
}

func (d *Device) enableQueue(q *qstate, idx int) {
	if q.num == 0 || q.num > q.max || q.num&(q.num-1) != 0 {
		d.errorf(errBadQueue(idx, q.num))
		return
	}
	q.ready = true
	q.vq = NewQueue(d.Mem, q.num, q.desc, q.drv, q.dev, d.driverFeatures&virtio.FeatureEventIdx != 0)
}

func (d *Device) configRead(off uint32, n int) uint32 {
	var v uint32
	for i := 0; i < n; i++ {
		if int(off)+i < len(d.Config) {
			v |= uint32(d.Config[int(off)+i]) << (8 * i)
		}
	}
	return v
}

// Negotiated returns the features the driver accepted.
func (d *Device) Negotiated() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.driverFeatures
}

// Status returns the device status.
func (d *Device) Status() uint8 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.status
}

// VQ returns the device side of queue i (nil before it is enabled).
func (d *Device) VQ(i int) *Queue {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.queues[i].vq
}

// NoVector is VIRTIO_MSI_NO_VECTOR (§4.1.4.3).
const NoVector = 0xffff

// SetMSIXHandler installs the receiver of MSI-X messages (the vector
// number stands for the programmed address/data, see MSIXEntry).
func (d *Device) SetMSIXHandler(f func(vector uint16)) {
	d.mu.Lock()
	d.msixHandler = f
	d.mu.Unlock()
}

// ConfigVector is the MSI-X vector of configuration changes as the
// driver mapped it (NoVector: none).
func (d *Device) ConfigVector() uint16 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.configVec
}

// MSIXEntry returns table entry v as programmed by the driver.
func (d *Device) MSIXEntry(v int) (addr uint64, data uint32, masked bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	e := d.msixTable[16*v:]
	return binary.LittleEndian.Uint64(e), binary.LittleEndian.Uint32(e[8:]), e[12]&1 != 0
}

// raiseQueue signals a used buffer on queue q: an MSI-X message on the
// queue's vector when MSI-X is enabled, else the ISR bit and the line.
func (d *Device) raiseQueue(q int) {
	d.mu.Lock()
	if d.msixOn {
		vec := d.queues[q].vec
		h := d.msixHandler
		ok := vec != NoVector && int(vec)*16 < len(d.msixTable) && d.msixTable[16*int(vec)+12]&1 == 0
		d.mu.Unlock()
		if ok && h != nil {
			h(vec)
		}
		return
	}
	d.mu.Unlock()
	d.RaiseInterrupt(1)
}
