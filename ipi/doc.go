// Package ipi carries inter-processor messages between the CPUs of one Damselfly system, in the
// manner of DragonFly BSD's lwkt_ipiq.c.
//
// Every ordered pair of CPUs (source, target) owns one bounded single-producer/single-consumer
// FIFO of {func, arg} entries, so a system of N CPUs has an N x N matrix of FIFOs and no locks:
// only the source CPU writes a FIFO and only the target CPU reads it. Sending to yourself is a
// direct call. A sender that finds its FIFO at least half full processes its own incoming FIFOs
// while it waits for room; because every waiting CPU keeps draining, two CPUs filling each
// other's FIFOs cannot deadlock.
//
// The target is told about new entries through a Doorbell (on the host a channel of capacity
// one; in the guest a LAPIC fixed-vector IPI) only when it is not polling: a running CPU
// checks its FIFOs at every scheduling point and announces that by keeping its npoll word set,
// so most doorbells are avoided and counted as such. Passive sends never ring.
//
// IPI functions run in the target CPU's context between threads (or inside a FIFO-full or
// completion wait of a thread on that CPU). They must not block and must not switch threads.
//
// Memory ordering: every shared word is a sync/atomic value, which Go's memory model makes
// sequentially consistent. An entry's plain fields are written by the producer before the
// atomic store of the write index and read by the consumer after the atomic load of that
// index (release/acquire through the index), and a slot is reused by the producer only after
// it has loaded a read index the consumer stored after it finished copying the slot.
package ipi
