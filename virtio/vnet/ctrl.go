package vnet

// The control virtqueue (virtio 1.2 §5.1.6.5): a command is a chain of a
// 2-byte class/command header and its data (device-readable) and a 1-byte
// ack (device-writable). Commands are rare (set-up, queue count changes),
// so the driver sends one at a time and polls for the ack.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"damselfly/virtio"
)

type ctrlq struct {
	mu  sync.Mutex
	q   *virtio.Queue
	ctl *irqCtl
}

// ctrlSpins bounds the wait for an ack; each spin yields the processor
// so a simulated device on the same machine can run.
const ctrlSpins = 1 << 22

var errCtrlNack = errors.New("vnet: control command refused")

func (d *Device) command(class, cmd uint8, data []byte) error {
	c := d.ctrl
	if c == nil {
		return fmt.Errorf("vnet: %s: no control queue", d.name)
	}
	d.ctrlCommands.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	hdr := []byte{class, cmd}
	ack := []byte{0xff}
	out := [][]byte{hdr}
	if len(data) > 0 {
		out = append(out, data)
	}
	if err := c.q.Add(out, [][]byte{ack}, ack); err != nil {
		d.ctrlErrors.Add(1)
		return fmt.Errorf("vnet: %s: control %d/%d: %w", d.name, class, cmd, err)
	}
	c.q.Kick()
	for i := 0; i < ctrlSpins; i++ {
		cs, err := c.q.Poll(nil)
		c.ctl.disable()
		if err != nil {
			d.ctrlErrors.Add(1)
			return fmt.Errorf("vnet: %s: control %d/%d: %w", d.name, class, cmd, err)
		}
		if len(cs) > 0 {
			if ack[0] != CtrlAckOK {
				d.ctrlErrors.Add(1)
				return fmt.Errorf("%w: %s: class %d command %d: ack %d", errCtrlNack, d.name, class, cmd, ack[0])
			}
			return nil
		}
		runtime.Gosched()
	}
	d.ctrlErrors.Add(1)
	return fmt.Errorf("vnet: %s: control %d/%d: no answer from device", d.name, class, cmd)
}

// programQueues tells the device how many pairs to use and how to steer.
// With RSS: one VIRTIO_NET_CTRL_MQ_RSS_CONFIG (it sets the pair count
// through max_tx_vq; §5.1.6.5.7, Receive-side scaling); a device that refuses it falls back to
// VQ_PAIRS_SET. Without RSS but with HASH_REPORT, HASH_CONFIG turns hash
// reporting on (§5.1.6.5, the MQ command class).
func (d *Device) programQueues(key []byte) error {
	n := len(d.pairs)
	if d.features&FeatureRSS != 0 {
		if tl, types, ok := d.rssCaps(); ok {
			if err := d.command(CtrlClassMQ, CtrlMQRSSConfig, rssConfig(types, tl, n, key)); err == nil {
				d.steering = true
				d.rssKey = key
				d.hashRep = d.features&FeatureHashReport != 0
				return nil
			} else if !errors.Is(err, errCtrlNack) {
				return err
			}
		}
	}
	if d.features&FeatureMQ != 0 && n > 1 {
		b := make([]byte, 2)
		binary.LittleEndian.PutUint16(b, uint16(n))
		if err := d.command(CtrlClassMQ, CtrlMQPairsSet, b); err != nil {
			return err
		}
	}
	if d.features&FeatureHashReport != 0 {
		types := d.t.ReadConfig32(CfgSupportedHash) & (HashTypeIPv4 | HashTypeTCPv4)
		if types&HashTypeTCPv4 != 0 && int(d.t.ReadConfig8(CfgRSSMaxKey)) >= len(key) {
			b := make([]byte, hashConfigFixed+len(key))
			binary.LittleEndian.PutUint32(b[0:], types)
			b[hashConfigFixed-1] = uint8(len(key))
			copy(b[hashConfigFixed:], key)
			if err := d.command(CtrlClassMQ, CtrlMQHashConfig, b); err == nil {
				d.hashRep = true
				d.rssKey = key
			} else if !errors.Is(err, errCtrlNack) {
				return err
			}
		}
	}
	return nil
}

// rssCaps checks the device can do what the partition needs: our 40-byte
// key, the TCPv4 hash, and an indirection table of a power-of-two length.
// A table shorter than 128 still works but may disagree with
// (hash & 127) mod N for N not dividing its length; the stack then steers
// by the reported hash and counts the hop.
func (d *Device) rssCaps() (tableLen int, types uint32, ok bool) {
	if int(d.t.ReadConfig8(CfgRSSMaxKey)) < rssKeyLen {
		return 0, 0, false
	}
	types = d.t.ReadConfig32(CfgSupportedHash) & (HashTypeIPv4 | HashTypeTCPv4)
	if types&HashTypeTCPv4 == 0 {
		return 0, 0, false
	}
	tableLen = min(int(d.t.ReadConfig16(CfgRSSMaxTable)), rssTableLen)
	for tableLen&(tableLen-1) != 0 {
		tableLen &= tableLen - 1
	}
	return tableLen, types, tableLen >= 1
}

// rssConfig encodes struct virtio_net_rss_config (§5.1.6.5.7):
//
//	le32 hash_types; le16 indirection_table_mask; le16 unclassified_queue;
//	le16 indirection_table[mask+1]; le16 max_tx_vq;
//	u8 hash_key_length; u8 hash_key_data[hash_key_length];
//
// Entry i names receive queue i mod n; unclassified frames go to queue 0.
func rssConfig(types uint32, tableLen, n int, key []byte) []byte {
	b := make([]byte, rssConfigFixedLen+2*tableLen+2+1+len(key))
	binary.LittleEndian.PutUint32(b[0:], types)
	binary.LittleEndian.PutUint16(b[4:], uint16(tableLen-1))
	binary.LittleEndian.PutUint16(b[6:], 0)
	off := rssConfigFixedLen
	for i := 0; i < tableLen; i++ {
		binary.LittleEndian.PutUint16(b[off:], uint16(i%n))
		off += 2
	}
	binary.LittleEndian.PutUint16(b[off:], uint16(n))
	b[off+2] = uint8(len(key))
	copy(b[off+3:], key)
	return b
}
