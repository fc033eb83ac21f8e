// Fixed physical layout of the board's boot data (see doc.go).

// RamStart: the runtime's memory region starts here (16 MiB); the image is
// linked 64 KiB above it (-T 0x1010000).
#define RAM_START	0x1000000

// Boot area: page tables, GDT, IDT and the entry stack, in the MiB below
// the runtime's region, never handed to the Go heap.
#define BOARD_AREA	0xe00000
#define PML4		(BOARD_AREA+0x00000)
#define PDPT		(BOARD_AREA+0x01000)
#define PD0		(BOARD_AREA+0x02000)	// MAPPED_GIB page directories
#define PT0		(BOARD_AREA+0x42000)	// 4 KiB pages of the first 2 MiB
#define GDT		(BOARD_AREA+0x43000)
#define GDTR		(BOARD_AREA+0x43020)
#define IDTR		(BOARD_AREA+0x43030)
#define ENTRY_TSC	(BOARD_AREA+0x45000)	// outside AREA_CLEAR
// Warm boot record, outside AREA_CLEAR so that it survives a reset: WARM_MAGIC
// at WARM_MARK once any boot got this far (fresh VMM memory reads zero), then
// the count of warm boots since.
#define WARM_MARK	(BOARD_AREA+0x45008)
#define WARM_COUNT	(BOARD_AREA+0x45010)
#define WARM_MAGIC	0x6d7261776c666d64	// "dmflwarm"
#define IDT		(BOARD_AREA+0x44000)	// 256 gates of 16 bytes
#define AREA_CLEAR	0x45000			// bytes zeroed at entry
#define STACK32		(BOARD_AREA+0x80000)	// entry stack, grows down
#define SI_COPY		(BOARD_AREA+0x46000)	// copy of hvm_start_info (outside AREA_CLEAR)
#define MEMMAP_COPY	(BOARD_AREA+0x46100)	// copy of its memory map
#define MEMMAP_COPY_MAX	256			// entries (board.MaxMemmapEntries)

// Identity-mapped address space: 64 GiB with 2 MiB pages.
#define MAPPED_GIB	64

// Where the toolchain's PVH entry saved the start_info address (EBX), see
// toolchain/README.md and runtime/rt0_tamago_amd64.s.
#define BOOTINFO_SLOT	0x3ff8

// hvm_start_info fields (Xen arch-x86/hvm/start_info.h).
#define SI_MAGIC	0x336ec578
#define SI_VERSION	0x04
#define SI_MEMMAP	0x28
#define SI_MEMMAP_N	0x30
#define SI_SIZE_V1	0x38
#define MEMMAP_ENTRY	24
#define E820_RAM	1

// Memory kept out of the Go heap at the top of the runtime's region for the
// tamago dma package (virtio rings and buffers).
#define DMA_SIZE	0x1000000
// Smallest heap accepted; below it RamSize keeps its link-time default.
#define MIN_HEAP	0x2000000

#define MSR_EFER	0xc0000080
