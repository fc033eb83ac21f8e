package vnet

import "encoding/binary"

// Header is struct virtio_net_hdr (virtio 1.2 §5.1.6), as a view over the
// bytes that precede every frame in both directions:
//
//	u8 flags; u8 gso_type; le16 hdr_len; le16 gso_size;
//	le16 csum_start; le16 csum_offset; le16 num_buffers;
//	le32 hash_value; le16 hash_report; le16 padding  (HASH_REPORT only)
//
// With VIRTIO_F_VERSION_1 num_buffers is always present (12 bytes); with
// VIRTIO_NET_F_HASH_REPORT the header is 20 bytes in both directions.
type Header []byte

// Header lengths.
const (
	HeaderLen     = 12
	HeaderHashLen = 20
)

// Header flags and GSO types (§5.1.6).
const (
	HdrFNeedsCsum = 1 // csum_start/csum_offset name a partial checksum
	HdrFDataValid = 2 // rx: the device validated the checksums
	HdrFRSCInfo   = 4 // (not negotiated)

	GSONone  = 0
	GSOTCPv4 = 1
	GSOUDP   = 3
	GSOTCPv6 = 4
	GSOECN   = 0x80
)

func (h Header) Flags() uint8          { return h[0] }
func (h Header) GSOType() uint8        { return h[1] }
func (h Header) HdrLen() uint16        { return binary.LittleEndian.Uint16(h[2:]) }
func (h Header) GSOSize() uint16       { return binary.LittleEndian.Uint16(h[4:]) }
func (h Header) CsumStart() uint16     { return binary.LittleEndian.Uint16(h[6:]) }
func (h Header) CsumOffset() uint16    { return binary.LittleEndian.Uint16(h[8:]) }
func (h Header) NumBuffers() uint16    { return binary.LittleEndian.Uint16(h[10:]) }
func (h Header) HashValue() uint32     { return binary.LittleEndian.Uint32(h[12:]) }
func (h Header) HashReport() uint16    { return binary.LittleEndian.Uint16(h[16:]) }
func (h Header) SetFlags(f uint8)      { h[0] = f }
func (h Header) SetGSOType(t uint8)    { h[1] = t }
func (h Header) SetHdrLen(n uint16)    { binary.LittleEndian.PutUint16(h[2:], n) }
func (h Header) SetGSOSize(n uint16)   { binary.LittleEndian.PutUint16(h[4:], n) }
func (h Header) SetCsumStart(n uint16) { binary.LittleEndian.PutUint16(h[6:], n) }
func (h Header) SetCsumOffset(n uint16) {
	binary.LittleEndian.PutUint16(h[8:], n)
}
func (h Header) SetNumBuffers(n uint16) { binary.LittleEndian.PutUint16(h[10:], n) }
func (h Header) SetHash(v uint32, report uint16) {
	binary.LittleEndian.PutUint32(h[12:], v)
	binary.LittleEndian.PutUint16(h[16:], report)
	binary.LittleEndian.PutUint16(h[18:], 0)
}
