// Package tcp is Damselfly's TCP (RFC 9293) for one protocol thread.
//
// # Threading and time
//
// A Stack holds the TCP state of one protocol thread (one per CPU, as in
// DragonFly's netisr design: a connection belongs to exactly one thread,
// chosen by the stack layer from the 4-tuple). A Stack is not safe for
// concurrent use: every method of Stack, Conn and Listener runs on the
// owning thread. The package owns no goroutines, never sleeps and reads the
// clock only through Config.Now. The owning thread:
//
//   - passes every received segment to Deliver (IP header stripped),
//   - passes ICMP errors quoting our segments to DeliverICMP,
//   - sleeps until NextDeadline (or the next packet or message) and then
//     calls Advance,
//   - runs user requests (Listen, Connect, Read, Write, Close...) as
//     messages on the same thread.
//
// Segments leave through Config.Output with the checksum filled in; the
// slice is valid only during the call (it is the Stack's scratch buffer).
// When the link offers checksum offload and TSO (Config.Offload, set by the
// stack layer from net/link.Offloader), they leave through
// Config.OutputOffload instead, with the pseudo-header sum in the checksum
// field, and a TSO segment carries up to 64 KiB in whole MSS pieces with
// the MSS to cut it into (offload.go); the pieces are exactly the segments
// the per-MSS path would send. Deliver's twin DeliverValidated skips the
// checksum of segments the device verified.
// Readiness is reported through Conn.SetNotify and Listener.SetNotify
// callbacks, which run on the owning thread after the current call has
// finished its work, so a callback may call back into the Stack.
//
// # What is implemented
//
// Wire format (header.go) as a typed view over []byte with MSS, window
// scale, SACK-permitted, SACK, timestamp, NOP and EOL options. The full
// RFC 9293 state machine (state.go) including simultaneous open and close,
// TIME-WAIT for 2*MSL with recycling by a newer SYN (RFC 6191), and the
// RFC 5961 defences: RST and SYN validation, ACK range check, challenge
// ACKs limited per Stack per second. Window scaling, timestamps and PAWS
// (RFC 7323). ISNs per RFC 6528 (SipHash of the 4-tuple plus a 4 µs clock;
// isn.go). Send side (snd.go): Nagle and TCP_NODELAY, sender SWS
// avoidance, RTO per RFC 6298 with Karn's rule and exponential backoff,
// initial window 10 (RFC 6928), fast retransmit with NewReno (RFC 6582),
// SACK-based loss recovery (RFC 6675; sack.go) with RACK's time-based
// loss detection (RFC 8985 §6; rack.go) in place of DupThresh, limited
// transmit (RFC 3042), zero-window probes, keepalive. Receive side
// (rcv.go): out-of-order queue, SACK generation (RFC 2018), delayed ACK
// (every second segment or Config.DelayedACK), receiver SWS avoidance,
// window updates on Read.
// Congestion control: CUBIC (RFC 9438; cubic.go, the default) or NewReno
// (reno.go). Listeners with a SYN backlog that falls back to SYN cookies
// (syncookie.go) on overflow; window scale and SACK survive a cookie when
// the client sends timestamps. PMTU from ICMP fragmentation-needed, with
// the quoted sequence number checked (RFC 5927).
//
// Reordering: the receiver reports duplicates with D-SACK (RFC 2883); the
// sender uses them to widen RACK's reordering window (RFC 8985 §6.2 step
// 4) and to undo a window reduction once every retransmission of an
// episode proved spurious. Tail loss probes (RFC 8985 §7; tlp.go).
//
// Not implemented: ECN, urgent data (URG is ignored; data is delivered
// inline), TCP Fast Open, IPv6.
//
// # Timers
//
// Advance runs each due timer once, in deadline order; a timer re-arms
// relative to the current time, so a thread that wakes late does not
// replay missed periods (a late RTO fires once, then backs off).
//
// # Contract with the stack layer
//
// The contract of the net issue, extended:
//
//   - Config gains buffer sizes, SynBacklog, NoSynCookies, NoSACK,
//     NoTimestamps, NoWindowScale, MSL, FinWait2Timeout, DelayedACK,
//     Min/Max/InitialRTO, SynRetries, DataRetries and ChallengeACKLimit
//     (zero values pick defaults). An unknown Congestion name means cubic.
//   - DeliverICMP's src and dst are the addresses of the quoted datagram,
//     that is ours and then the peer's; kind is ICMPFragNeeded (mtu set)
//     or ICMPUnreachable.
//   - Event is a bit set: EventReadable, EventWritable, EventConnected,
//     EventError, EventClosed. A Connect completes with EventConnected |
//     EventWritable or fails with EventError (Conn.Err says why:
//     ErrConnRefused, ErrTimeout, ErrUnreachable).
//   - Conn.Read returns ErrWouldBlock, io.EOF after the peer's FIN, or the
//     connection's error (ErrConnReset...). Conn.Write returns
//     ErrWouldBlock when the send buffer is full (EventWritable follows).
//     Conn.Close resets instead of closing if unread data remains (RFC
//     2525 §2.17). Conn.Err, Conn.Buffered and Conn.SendSpace are extra.
//   - Listener.Accept returns ErrWouldBlock or ErrClosed; Listener.Addr
//     and Listener.Pending are extra.
//   - Stats counts per Stack; the stack layer sums them over threads.
package tcp
