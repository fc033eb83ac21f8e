// Package stack assembles the protocol layers into a TCP/IP stack with one
// protocol thread per CPU, as DragonFly BSD's netisr threads: every TCP
// connection belongs to exactly one thread, chosen from the packet alone
// by a symmetric Partition, so both directions of a connection are handled
// by the thread that owns its state and no connection state is locked.
//
// Threads and their rules:
//   - Each thread (proto) owns a tcp.Stack, an ARP cache replica, an IPv4
//     reassembler and its counters, and runs on a Loop: a single-owner
//     event loop fed through an inbox of functions and one timer.
//   - Received frames are steered before any protocol work: by the
//     device's RSS hash if it has one (the queue the NIC chose), otherwise
//     by the Partition over the frame's 4-tuple (software steering, as an
//     RPS-style dispatcher would). A packet that reaches a thread that does
//     not own it (an RSS queue disagreeing with netpart=ports, reassembled
//     fragments, ICMP errors about a connection) is handed to the owner and
//     counted as a cross-thread hop.
//   - A listening socket is entered into every thread's tcp.Stack; each
//     thread completes the handshakes that land on it.
//   - An outgoing connection picks a local port that makes the 4-tuple
//     land on the thread chosen for it, so its packets never hop.
//   - ARP caches are replicated per thread (DragonFly keeps per-CPU ARP
//     state too): ARP frames go to every thread, and only thread 0 answers
//     requests.
//   - Callers outside the threads (user goroutines) talk to a thread with
//     Loop.Do for control calls and reads and writes (lwkt_domsg) and
//     Loop.Post for asynchronous sends (lwkt_sendmsg).
package stack
