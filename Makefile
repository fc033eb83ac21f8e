# Damselfly build and test entry points. README.md documents them.
#
#   make run    build the default appliance and boot it in QEMU (serial on this terminal)
#   make test   install what is missing, then every test: host (-race), tamago std, QEMU boots
#
# The GOOS=tamago toolchain is ours (toolchain/): built from the machine's Go source on first
# use and cached under ~/.cache/damselfly/toolchain by a hash of its inputs.

SHELL        := /bin/bash
GO           ?= go
TAMAGO_GO    := $(CURDIR)/toolchain/go
BUILD        := $(CURDIR)/build
KERNEL       := $(BUILD)/kernel.elf
APP          ?= ./kernel/cmd/damselfly
# Load address of the kernel image (16 MiB + 64 KiB: RamStart is 16 MiB, see docs/boot.md);
# -R aligns sections to pages; -s -w leave out the symbol table and DWARF (3.4 MB: stack
# traces and the fault report use the runtime's own tables; build with
# KERNEL_LDFLAGS="-T 0x1010000 -R 0x1000" to debug with gdb). The tags select our board's
# cpuinit and RamStart over the tamago module's, and leave net/http's bundled HTTP/2 out
# (nethttpomithttp2: HTTP/2 needs TLS or an explicit h2c setup, neither of which the
# appliance has; 381 KB of the ELF, 165 KB packed). ci/kernel.go builds with the same flags,
# and the Linux guest's httpd-linux with the same net/http.
KERNEL_LDFLAGS ?= -s -w -T 0x1010000 -R 0x1000
KERNEL_TAGS    ?= linkramstart,linkcpuinit,nethttpomithttp2
TAMAGO_ENV   := GOOS=tamago GOARCH=amd64 GOOSPKG=github.com/usbarmory/tamago
SMP          ?= 2
MEM          ?= 512M
APPEND       ?= shell
HOST_PKGS     = $$($(GO) list ./... | grep -v -e '/ci$$' -e '/toolchain/')

.PHONY: all deps toolchain kernel image disk run test test-host test-fuzz test-tamago-std test-boot bench bench-go vet clean

all: kernel

deps:
	@bash ci/deps.sh

toolchain:
	@bash toolchain/build.sh

kernel: $(KERNEL)

# The bootable image is packed (kernel/pack, docs/boot.md "Packed image"): a 32-bit stub,
# built here with $(STUB_CC), decompresses the kernel's LZ4-compressed segments and enters it,
# as Linux's vmlinuz does. The unpacked ELF stays beside it as <name>.raw.elf (for gdb,
# and for PACK=0, which boots it directly).
STUB_CC ?= gcc
PACK   ?= 1
MKIMAGE = $(GO) run ./kernel/cmd/mkimage -cc "$(STUB_CC)"
# pack RAW OUT: pack (or, with PACK=0, copy) a kernel ELF and print its size.
define pack
	@if [ "$(PACK)" = 1 ]; then $(MKIMAGE) -in $(1) -out $(2); else cp $(1) $(2); fi
	@ls -l $(2) | awk '{print "damselfly: built " $$NF " (" $$5 " bytes)"}'
endef

# Always rebuilt: the go command's own cache makes an unchanged build quick.
.PHONY: $(KERNEL)
$(KERNEL): toolchain
	@mkdir -p $(BUILD)
	$(TAMAGO_ENV) $(TAMAGO_GO) build -trimpath -tags $(KERNEL_TAGS) -ldflags "$(KERNEL_LDFLAGS)" -o $(KERNEL:.elf=.raw.elf) $(APP)
	$(call pack,$(KERNEL:.elf=.raw.elf),$@)

# make image APP=./apps/<name>: any Go main that calls kernel.Run, built as a bootable image
# (build/<name>.elf, packed; the default appliance is build/kernel.elf).
IMAGE = $(BUILD)/$(notdir $(abspath $(APP))).elf
image: toolchain
	@mkdir -p $(BUILD)
	$(TAMAGO_ENV) $(TAMAGO_GO) build -trimpath -tags $(KERNEL_TAGS) -ldflags "$(KERNEL_LDFLAGS)" \
	  -o $(IMAGE:.elf=.raw.elf) $(APP)
	$(call pack,$(IMAGE:.elf=.raw.elf),$(IMAGE))

# make disk DIR=<folder>: an ext2 image of the folder (build/disk.img), twice its size
# plus 16 MiB of room; boot it with root=/dev/vda (rw to accept PUT/DELETE).
DISK ?= $(BUILD)/disk.img
disk: deps
	@test -n "$(DIR)" -a -d "$(DIR)" || { echo "usage: make disk DIR=<folder>" >&2; exit 2; }
	@mkdir -p $(BUILD)
	@kb=$$(du -sk "$(DIR)" | cut -f1); size=$$(( (kb * 2 + 16384) ))k; \
	  rm -f $(DISK); mke2fs -q -F -t ext2 -b 4096 -d "$(DIR)" $(DISK) $$size && \
	  echo "damselfly: built $(DISK) ($$size) from $(DIR)"

# make run: the appliance with user networking, port 80 forwarded to 127.0.0.1:$(HTTP_PORT),
# echo (7) to $(ECHO_PORT); DISK=<image> attaches a disk (add root=/dev/vda to APPEND).
HTTP_PORT ?= 8080
ECHO_PORT ?= 8007
RUN_DISK   = $(if $(wildcard $(DISK)),--disk $(DISK),)
run: deps $(KERNEL)
	$(GO) run ./qemu/cmd/vmrun --kernel $(KERNEL) --smp $(SMP) --mem $(MEM) --append "$(APPEND)" \
	  --hostfwd tcp:127.0.0.1:$(HTTP_PORT)-:80 --hostfwd tcp:127.0.0.1:$(ECHO_PORT)-:7 $(RUN_DISK) --timeout 0

vet:
	$(GO) vet $(HOST_PKGS)

test: deps test-host test-tamago-std test-boot

test-host:
	$(GO) vet $(HOST_PKGS)
	$(GO) test -race -count=1 -timeout 20m $(HOST_PKGS)

# Short runs of every fuzz target, to catch regressions in the parsers.
test-fuzz:
	@bash ci/fuzz.sh

test-tamago-std: toolchain
	@bash toolchain/test-std.sh

# Boots the image make kernel built (DAMSELFLY_KERNEL) over the test matrix, then checks
# that make bench works (BENCH=smoke: one short round of each guest, about a minute).
# TestBootBlk (its 5 GiB disk takes minutes under TCG) runs in a second go test process
# started first, so that it overlaps the others (in one process go test would start it,
# a top-level parallel test, only after every sequential one); its log follows theirs.
# At most 2 QEMUs run at once: the blk process runs one at a time (DAMSELFLY_VMS=1) and
# holds $$tmp/blk.lock (taken here, fd 9, before either starts) while it lives; the
# other process keeps one of its two slots for it until the lock is free
# (ci/boot_test.go, acquireVM).
test-boot: deps $(KERNEL)
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	exec 9>"$$tmp/blk.lock"; flock 9; \
	echo "test-boot: TestBootBlk runs beside the other boot tests; its log follows theirs"; \
	DAMSELFLY_REQUIRE_QEMU=1 DAMSELFLY_KERNEL=$(KERNEL) DAMSELFLY_VMS=1 \
	  $(GO) test -count=1 -timeout 30m -v -run '^TestBootBlk$$' ./ci/ >"$$tmp/blk.log" 2>&1 & blk=$$!; \
	exec 9>&-; \
	DAMSELFLY_REQUIRE_QEMU=1 DAMSELFLY_KERNEL=$(KERNEL) DAMSELFLY_VMS_SHARED_LOCK="$$tmp/blk.lock" \
	  $(GO) test -count=1 -timeout 30m -v -skip '^TestBootBlk$$' ./ci/; rest=$$?; \
	wait $$blk; blkst=$$?; \
	echo "test-boot: TestBootBlk's go test process (exit status $$blkst):"; cat "$$tmp/blk.log"; \
	test $$rest -eq 0 -a $$blkst -eq 0
	$(MAKE) --no-print-directory bench BENCH=smoke

# make bench: the Damselfly appliance against a Linux guest running the same handler
# (apps/httpd/cmd/httpd-linux in a Debian cloud kernel + busybox initramfs), booted
# alternately in the same QEMU; medians and ratios on stdout, build/bench/report.html and
# results.json. BENCH=smoke boots each once with a short load and checks that every figure
# was measured (not the figures). BENCH_RUNS boots of each (full mode). docs/bench.md.
BENCH      ?= full
BENCH_RUNS ?= 3
BENCH_DIR   = $(BUILD)/bench
BENCH_LINUX = $(BENCH_DIR)/linux
bench: deps $(KERNEL) $(BENCH_LINUX)/initrd.img $(BENCH_DIR)/disk.img
	$(GO) run ./qemu/cmd/bench --mode $(BENCH) --runs $(BENCH_RUNS) --smp $(SMP) --mem $(MEM) \
	  --kernel $(KERNEL) --linux $(BENCH_LINUX) --disk $(BENCH_DIR)/disk.img --out $(BENCH_DIR) \
	  --command "make bench BENCH=$(BENCH) BENCH_RUNS=$(BENCH_RUNS) SMP=$(SMP) MEM=$(MEM)"

$(BENCH_DIR)/httpd-linux: $(wildcard apps/httpd/*.go apps/httpd/*.html apps/httpd/cmd/httpd-linux/*.go)
	@mkdir -p $(BENCH_DIR)
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -tags nethttpomithttp2 -ldflags "-s -w" -o $@ ./apps/httpd/cmd/httpd-linux

$(BENCH_LINUX)/initrd.img: qemu/linuxguest/build.sh qemu/linuxguest/bench-init.sh $(BENCH_DIR)/httpd-linux
	bash qemu/linuxguest/build.sh --modules "virtio_mmio virtio_net virtio_blk" \
	  --add $(BENCH_DIR)/httpd-linux:/bin/httpd-linux --init qemu/linuxguest/bench-init.sh $(BENCH_LINUX)

$(BENCH_DIR)/disk.img: $(wildcard qemu/bench/site/*)
	@$(MAKE) --no-print-directory disk DIR=qemu/bench/site DISK=$@

# The Go benchmarks of the host-testable packages.
bench-go:
	$(GO) test -run='^$$' -bench=. -benchtime=200ms ./sched/ ./ipi/ ./net/... ./vm/ ./blk/ ./vfs/...

# make bench-storage: the block and file workloads in Damselfly (selftest=blkbench,
# selftest=fsbench) and in the Debian cloud-kernel guest (qemu/linuxguest/storagebench),
# alternately, same QEMU, fresh 1 GiB disks; table in build/bench/storage.md
# (BENCH_RUNS runs each, default 3, shared with make bench). Needs apt access for the
# Debian packages.
.PHONY: bench-storage
bench-storage: deps $(KERNEL)
	DAMSELFLY_BENCH=1 DAMSELFLY_BENCH_RUNS=$(BENCH_RUNS) DAMSELFLY_BENCH_OUT=$(BUILD)/bench/storage.md \
	  DAMSELFLY_REQUIRE_QEMU=1 DAMSELFLY_KERNEL=$(KERNEL) \
	  $(GO) test -count=1 -timeout 120m -v -run '^TestStorageBench$$' ./ci/

clean:
	rm -rf $(BUILD)
