// Package microvm is Damselfly's machine support for QEMU microvm (and, by
// the data in board.Platform, QEMU q35 and pc, Firecracker and Cloud
// Hypervisor), for
// GOOS=tamago GOARCH=amd64 with GOOSPKG=github.com/usbarmory/tamago.
//
// It implements the runtime/goos hooks (RamStart, RamSize, CPUinit through
// its own cpuinit, Hwinit1, Nanotime, Printk, Exit) using the tamago
// module's amd64, lapic, ioapic, uart and dma packages but not its
// board/qemu/microvm, which cannot run under TCG: it has no time source
// there, miscounts CPUs and hard-codes the RAM size. Here:
//
//   - memory comes from the PVH start_info memory map (cpuinit_amd64.s sizes
//     the Go heap from it before the runtime starts; Init re-checks it);
//   - time is the TSC, its rate from CPUID or kvmclock when offered, else
//     measured against the i8254 PIT (board.Calibrate);
//   - CPUs are those the ACPI MADT lists, all started;
//   - the console is the 16550 at COM1;
//   - power-off writes isa-debug-exit, then the ACPI sleep register (or,
//     on q35 and pc, SLP_TYP|SLP_EN to the PM1a control block), then
//     triple-faults; the ACPI GED's power button event (microvm) or the
//     fixed power button in PM1a (q35, pc) calls a handler;
//   - PCI configuration space is reached through the MCFG's ECAM window,
//     else (pc) ports 0xcf8/0xcfc (PCIConfig); device windows above the
//     64 GiB boot map are mapped on demand (PhysWindow);
//   - CPU exceptions produce a register dump handed to a report handler.
//
// Physical layout (layout.h): boot page tables, GDT and IDT at 14 MiB; the
// runtime's memory from RamStart = 16 MiB, the image linked at 16 MiB + 64
// KiB (-T 0x1010000 -R 0x1000); DMA_SIZE (16 MiB) at the top of the RAM
// block for the dma package. Build tags: linkramstart, linkcpuinit.
//
// On the host this package is empty.
package microvm
