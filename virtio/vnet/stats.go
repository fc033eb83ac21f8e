package vnet

import "sync/atomic"

// Drop reasons. Every frame or buffer the driver refuses is counted under
// one of them; nothing malformed panics or reaches the stack.
const (
	DropShortHeader  = iota // rx: used length shorter than the virtio_net_hdr
	DropNumBuffers          // rx: num_buffers 0 or more than a frame can need
	DropMissingBufs         // rx: the device ended a frame short of num_buffers
	DropTooLong             // rx: frame longer than the link allows
	DropRunt                // rx: no room for an Ethernet header
	DropCsumOffsets         // rx: NEEDS_CSUM with start/offset outside the frame
	DropGSO                 // rx: coalesced frame without GUEST_TSO4, or unknown gso_type
	DropNoReceiver          // rx: no receiver installed
	DropTxFull              // tx: ring full after reclaiming
	DropTxTooLong           // tx: frame larger than the link allows
	DropTxBadOffload        // tx: offload request the device did not negotiate or out of range
	DropBroken              // the device broke the ring; the queue is dead
	numDrops
)

var dropNames = [numDrops]string{
	"rx_short_header", "rx_num_buffers", "rx_missing_buffers", "rx_too_long", "rx_runt",
	"rx_csum_offsets", "rx_gso", "rx_no_receiver", "tx_ring_full", "tx_too_long",
	"tx_bad_offload", "broken",
}

// pollHist buckets frames per poll round: 0, 1, 2-3, 4-7, ..., 64+.
const pollHistLen = 8

// queueStats are one queue pair's counters, written by the pair's poller
// and senders, read by anyone.
type queueStats struct {
	rxFrames, rxBytes atomic.Uint64
	txFrames, txBytes atomic.Uint64
	txTSO             atomic.Uint64
	rxMerged          atomic.Uint64 // frames spanning several buffers
	rxGSO             atomic.Uint64 // coalesced TCPv4 frames (GUEST_TSO4)
	rxCsumFixed       atomic.Uint64 // partial checksums completed in software (Options.FinishRxCsum)
	rxCsumPartial     atomic.Uint64 // partial checksums handed on as validated
	rxCsumValid       atomic.Uint64 // frames the device marked DATA_VALID
	rxHashed          atomic.Uint64 // frames with a device hash handed on
	refills           atomic.Uint64 // rx buffers posted
	interrupts        atomic.Uint64 // interrupts that scheduled a poll
	irqWhilePolling   atomic.Uint64 // interrupts that found the poll already scheduled
	polls             atomic.Uint64 // poll rounds
	budgetExhausted   atomic.Uint64 // rounds that ended with work left
	repolls           atomic.Uint64 // re-checks after re-enabling found work
	txReclaimed       atomic.Uint64
	txKicks           atomic.Uint64
	txDeferred        atomic.Uint64 // frames added without a kick (SendOffloadDeferred)
	pollHist          [pollHistLen]atomic.Uint64
	maxPerPoll        atomic.Uint64
	drops             [numDrops]atomic.Uint64
}

// QueueStats is a snapshot of one queue pair.
type QueueStats struct {
	Queue                    int
	RxFrames, RxBytes        uint64
	TxFrames, TxBytes, TxTSO uint64
	RxMerged, RxGSO          uint64
	RxCsumFixed, RxCsumValid uint64
	// RxCsumPartial: frames with NEEDS_CSUM handed on unfinished, marked
	// validated (the default; RxCsumFixed counts them with FinishRxCsum).
	RxCsumPartial                   uint64
	RxHashed                        uint64
	Refills                         uint64
	Interrupts, IrqWhilePolling     uint64
	Polls, BudgetExhausted, Repolls uint64
	TxReclaimed, TxKicks            uint64
	// TxDeferred: frames added without a kick of their own
	// (SendOffloadDeferred); a later kick covered them.
	TxDeferred uint64
	// FramesPerPoll[i] counts rounds that delivered 0, 1, 2-3, 4-7, 8-15,
	// 16-31, 32-63 and 64 or more frames.
	FramesPerPoll [pollHistLen]uint64
	MaxPerPoll    uint64
	Drops         map[string]uint64 // by reason, zero counts omitted
	// Device-level counters of the virtqueues (notifications sent and
	// avoided, bad used entries, clamped lengths).
	RxQueue, TxQueue QueueCounters
}

// QueueCounters mirror virtio.QueueStats.
type QueueCounters struct {
	Notifies, NotifyAvoid, Indirect, BadUsed, LenClamped, Completions uint64
}

// Stats is a snapshot of the device.
type Stats struct {
	Interrupts    uint64 // calls of Interrupt
	ConfigChanges uint64
	CtrlCommands  uint64
	CtrlErrors    uint64
	Queues        []QueueStats
}

func (s *queueStats) drop(reason int) { s.drops[reason].Add(1) }

func (s *queueStats) recordPoll(n int) {
	s.polls.Add(1)
	b := 0
	for v := n; v > 0 && b < pollHistLen-1; v >>= 1 {
		b++
	}
	s.pollHist[b].Add(1)
	for {
		m := s.maxPerPoll.Load()
		if uint64(n) <= m || s.maxPerPoll.CompareAndSwap(m, uint64(n)) {
			return
		}
	}
}

func (s *queueStats) snapshot(q int) QueueStats {
	r := QueueStats{
		Queue:    q,
		RxFrames: s.rxFrames.Load(), RxBytes: s.rxBytes.Load(),
		TxFrames: s.txFrames.Load(), TxBytes: s.txBytes.Load(), TxTSO: s.txTSO.Load(),
		RxMerged: s.rxMerged.Load(), RxGSO: s.rxGSO.Load(), RxCsumFixed: s.rxCsumFixed.Load(), RxCsumValid: s.rxCsumValid.Load(),
		RxCsumPartial: s.rxCsumPartial.Load(),
		RxHashed:      s.rxHashed.Load(), Refills: s.refills.Load(),
		Interrupts: s.interrupts.Load(), IrqWhilePolling: s.irqWhilePolling.Load(),
		Polls: s.polls.Load(), BudgetExhausted: s.budgetExhausted.Load(), Repolls: s.repolls.Load(),
		TxReclaimed: s.txReclaimed.Load(), TxKicks: s.txKicks.Load(), TxDeferred: s.txDeferred.Load(),
		MaxPerPoll: s.maxPerPoll.Load(),
		Drops:      map[string]uint64{},
	}
	for i := range s.pollHist {
		r.FramesPerPoll[i] = s.pollHist[i].Load()
	}
	for i := range s.drops {
		if v := s.drops[i].Load(); v != 0 {
			r.Drops[dropNames[i]] = v
		}
	}
	return r
}
