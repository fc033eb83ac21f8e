// Package stack assembles the protocol layers into a TCP/IP stack with one
// protocol thread per CPU, as DragonFly BSD's netisr threads: every TCP
// connection belongs to exactly one thread, chosen from the packet alone
// by a symmetric Partition, so both directions of a connection are handled
// by the thread that owns its state and no connection state is locked.
//
// Threads and their rules:
//   - Each thread (proto) owns a tcp.Stack, an ARP cache replica, an IPv4
//     reassembler and its counters. It is an LWKT thread (damselfly/sched)
//     pinned to CPU i mod NCPU at soft-interrupt priority, on the kernel's
//     system (SchedLoops) or, on the host, on a system of the stack's own
//     with one CPU per thread up to the real CPUs. It waits on its port.
//   - Received frames are steered before any protocol work: by the
//     device's RSS hash if it has one (the queue the NIC chose), otherwise
//     by the Partition over the frame's 4-tuple (software steering, as an
//     RPS-style dispatcher would). A packet that reaches a thread that does
//     not own it (an RSS queue disagreeing with netpart=ports, reassembled
//     fragments, ICMP errors about a connection) is handed to the owner and
//     counted as a cross-thread hop. Frames and hand-offs travel on the
//     packet path (Loop.Post: a batch inbox whose first entry kicks the
//     thread's port).
//   - A listening socket is entered into every thread's tcp.Stack; each
//     thread completes the handshakes that land on it.
//   - An outgoing connection picks a local port that makes the 4-tuple
//     land on the thread chosen for it, so its packets never hop.
//   - ARP caches are replicated per thread (DragonFly keeps per-CPU ARP
//     state too): ARP frames go to every thread, and only thread 0 answers
//     requests.
//   - Socket calls are typed messages on the owning thread's port
//     (sockmsg.go): control calls and reads wait for their reply (DoMsg;
//     an LWKT caller on the thread's CPU is served in its own context when
//     the thread is idle), writes and UDP sends are sent asynchronously
//     with a reply port, several in flight (SendMsg). User goroutines are
//     not LWKT threads: they send with a sched.ExternalSender and wait on
//     a reply-only port that hands the reply to a channel (msgwait.go).
package stack
