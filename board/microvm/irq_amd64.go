// Device interrupts: I/O APIC routes to local APIC vectors, and a
// dispatcher goroutine that runs each vector's handler.
//
// An interrupt handler on this kernel must not run Go code in interrupt
// context: the interrupted code may hold runtime locks or sit in a nosplit
// sequence. So the entry (irq_amd64.s) only marks the vector in irqPending,
// acknowledges the local APIC and relays SIGTRAP to the runtime, whose
// poller makes the dispatcher goroutine runnable (the runtime side is
// toolchain/overlay/src/runtime/sigqueue_tamago.go). The dispatcher then
// calls the handlers as ordinary Go code: for virtio devices that means
// acknowledging the device and waking the thread that serves the queue,
// the same split as DragonFly's interrupt threads.
//
// Cost: interrupt -> handler is one relay and one goroutine switch. The
// entry also wakes every other CPU (a fixed IPI to all but self), because
// the CPU blocked in the runtime's poller may not be the one the I/O APIC
// interrupted; a CPU that was not idle takes it as a no-op gate.

//go:build tamago && amd64

package microvm

import (
	"errors"
	"fmt"
	"math/bits"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/usbarmory/tamago/soc/intel/ioapic"
)

const (
	// irqFirst is the first device vector: above the CPU exceptions
	// (0-31) and the legacy PIC range some firmware leaves programmed
	// (32-47), far below the idle wake vector (0xf0).
	irqFirst = 0x30
	// irqVectors is the number of device vectors (irqTable entries).
	irqVectors = 32
	// irqSignal is the signal the entry relays (irq_amd64.s SIGTRAP).
	irqSignal = syscall.SIGTRAP
	// callSize is the length of one irqTable entry (CALL rel32).
	callSize = 5
)

// irqPending has bit i set when vector irqFirst+i fired and its handler
// has not run yet. Set by the interrupt entry (LOCK BTS), cleared by the
// dispatcher (atomic swap): the only state shared with interrupt context.
var irqPending uint64

// defined in irq_amd64.s
func irqTableAddr() uintptr

// IRQ is one allocated device vector.
type IRQ struct {
	Vector  int    // local APIC vector
	GSI     int    // I/O APIC input, -1 when not routed through one (MSI)
	Name    string // the device, for status pages
	handler func()
	count   atomic.Uint64
}

// Count is how many times the vector's handler ran (interrupts that arrive
// while it is pending are coalesced into one run).
func (q *IRQ) Count() uint64 { return q.count.Load() }

// irqs is the vector table: written under irqMu by AllocIRQ (boot and
// driver set-up goroutines), read by the dispatcher through the atomic
// pointers so that it never takes the lock.
var (
	irqMu   sync.Mutex
	irqs    [irqVectors]atomic.Pointer[IRQ]
	irqOnce sync.Once
)

// ErrNoVector is returned when every device vector is taken.
var ErrNoVector = errors.New("irq: no free interrupt vector")

// AllocIRQ takes a free vector for handler, installs its gate and starts
// the dispatcher on first use. The vector is not routed anywhere yet: see
// RouteGSI, or program it into an MSI-X entry (MSIAddress, MSIData).
func AllocIRQ(name string, handler func()) (*IRQ, error) {
	if handler == nil {
		return nil, errors.New("irq: nil handler")
	}
	irqMu.Lock()
	defer irqMu.Unlock()
	for i := range irqs {
		if irqs[i].Load() != nil {
			continue
		}
		q := &IRQ{Vector: irqFirst + i, GSI: -1, Name: name, handler: handler}
		irqs[i].Store(q)
		setGate(q.Vector, uint64(irqTableAddr()+uintptr(i*callSize)))
		irqOnce.Do(func() {
			c := make(chan os.Signal, 1)
			signal.Notify(c, irqSignal)
			go dispatchIRQs(c)
		})
		return q, nil
	}
	return nil, ErrNoVector
}

// RouteGSI programs the I/O APIC input gsi to deliver q's vector to the
// boot CPU, edge-triggered. Virtio devices raise their line while their
// interrupt status is non-zero and the driver acknowledges before it reaps,
// so an edge per 0->1 transition loses nothing.
func RouteGSI(q *IRQ, gsi int) error {
	io := ioapicFor(gsi)
	if io == nil {
		return fmt.Errorf("irq: no I/O APIC serves GSI %d", gsi)
	}
	io.EnableInterrupt(gsi, q.Vector)
	q.GSI = gsi
	return nil
}

func ioapicFor(gsi int) *ioapic.IOAPIC {
	for _, io := range M.IOAPICs {
		if gsi >= io.GSIBase && gsi < io.GSIBase+io.Entries() {
			return io
		}
	}
	return nil
}

// MSI message for q's vector to the boot CPU (Intel SDM vol. 3A, 11.11.1
// "Message Address Register Format", 11.11.2 "Message Data Register
// Format"): physical destination APIC 0, fixed delivery, edge.
func (q *IRQ) MSIAddress() uint64 { return 0xfee00000 }
func (q *IRQ) MSIData() uint32    { return uint32(q.Vector) }

// IRQs lists the allocated vectors.
func IRQs() []*IRQ {
	var out []*IRQ
	for i := range irqs {
		if q := irqs[i].Load(); q != nil {
			out = append(out, q)
		}
	}
	return out
}

// dispatchIRQs runs the handler of every pending vector each time the
// entry relays the signal. A vector that fires again after the swap sets
// its bit and relays again, so nothing is lost between the swap and the
// next receive.
func dispatchIRQs(c <-chan os.Signal) {
	for range c {
		p := atomic.SwapUint64(&irqPending, 0)
		for p != 0 {
			i := bits.TrailingZeros64(p)
			p &^= 1 << i
			if i >= irqVectors {
				continue
			}
			if q := irqs[i].Load(); q != nil {
				q.count.Add(1)
				q.handler()
			}
		}
	}
}
