package vnet

// Feature bits of the network device (virtio 1.2 §5.1.3). The reserved
// transport bits (VERSION_1, EVENT_IDX, INDIRECT_DESC) are in package virtio.
const (
	FeatureCsum        = 1 << 0  // VIRTIO_NET_F_CSUM: device completes partial tx checksums
	FeatureGuestCsum   = 1 << 1  // VIRTIO_NET_F_GUEST_CSUM: rx frames may carry partial checksums
	FeatureCtrlOffload = 1 << 2  // VIRTIO_NET_F_CTRL_GUEST_OFFLOADS (not used)
	FeatureMTU         = 1 << 3  // VIRTIO_NET_F_MTU: config mtu is valid
	FeatureMAC         = 1 << 5  // VIRTIO_NET_F_MAC: config mac is valid
	FeatureGuestTSO4   = 1 << 7  // VIRTIO_NET_F_GUEST_TSO4: rx may carry coalesced TCPv4
	FeatureGuestTSO6   = 1 << 8  // (not used: the stack is IPv4 only)
	FeatureGuestECN    = 1 << 9  // (not used)
	FeatureGuestUFO    = 1 << 10 // (not used)
	FeatureHostTSO4    = 1 << 11 // VIRTIO_NET_F_HOST_TSO4: device segments TCPv4 on tx
	FeatureHostTSO6    = 1 << 12 // (not used)
	FeatureHostECN     = 1 << 13 // (not used)
	FeatureHostUFO     = 1 << 14 // (not used)
	FeatureMrgRxBuf    = 1 << 15 // VIRTIO_NET_F_MRG_RXBUF: a frame may span rx buffers
	FeatureStatus      = 1 << 16 // VIRTIO_NET_F_STATUS: config status is valid
	FeatureCtrlVQ      = 1 << 17 // VIRTIO_NET_F_CTRL_VQ: control queue
	FeatureCtrlRx      = 1 << 18 // (not used)
	FeatureCtrlVLAN    = 1 << 19 // (not used)
	FeatureAnnounce    = 1 << 21 // VIRTIO_NET_F_GUEST_ANNOUNCE (not used)
	FeatureMQ          = 1 << 22 // VIRTIO_NET_F_MQ: several queue pairs
	FeatureCtrlMAC     = 1 << 23 // (not used)
	FeatureHashReport  = 1 << 57 // VIRTIO_NET_F_HASH_REPORT: rx header carries the hash
	FeatureRSS         = 1 << 60 // VIRTIO_NET_F_RSS: Toeplitz steering programmed by the driver
)

// struct virtio_net_config offsets (§5.1.4).
const (
	CfgMAC            = 0  // u8 mac[6]
	CfgStatus         = 6  // le16 status
	CfgMaxPairs       = 8  // le16 max_virtqueue_pairs
	CfgMTU            = 10 // le16 mtu
	CfgSpeed          = 12 // le32 speed
	CfgDuplex         = 16 // u8 duplex
	CfgRSSMaxKey      = 17 // u8 rss_max_key_size
	CfgRSSMaxTable    = 18 // le16 rss_max_indirection_table_length
	CfgSupportedHash  = 20 // le32 supported_hash_types
	StatusLinkUp      = 1  // VIRTIO_NET_S_LINK_UP
	StatusAnnounce    = 2  // VIRTIO_NET_S_ANNOUNCE
	maxPairsSpecLimit = 0x8000
)

// Hash types (§5.1.6.4.3): bits of supported_hash_types and of the
// hash_types field of the RSS and hash configurations.
const (
	HashTypeIPv4  = 1 << 0
	HashTypeTCPv4 = 1 << 1
	HashTypeUDPv4 = 1 << 2
	HashTypeIPv6  = 1 << 3
	HashTypeTCPv6 = 1 << 4
	HashTypeUDPv6 = 1 << 5
)

// hash_report values in the received header (§5.1.6.4.3).
const (
	HashReportNone  = 0
	HashReportIPv4  = 1
	HashReportTCPv4 = 2
	HashReportUDPv4 = 3
)

// Control queue (§5.1.6.5): struct virtio_net_ctrl { u8 class; u8
// command; u8 data[]; u8 ack; }.
const (
	CtrlClassMQ       = 4
	CtrlMQPairsSet    = 0 // le16 virtqueue_pairs
	CtrlMQRSSConfig   = 1 // struct virtio_net_rss_config
	CtrlMQHashConfig  = 2 // struct virtio_net_hash_config
	CtrlAckOK         = 0
	CtrlAckErr        = 1
	MQPairsMin        = 1
	MQPairsMax        = 0x8000
	rssTableLen       = 128 // the stack's partition masks the hash with 127
	rssKeyLen         = 40
	ctrlHeaderLen     = 2
	hashConfigFixed   = 4 + 2*4 + 1 // hash_types, reserved[4], hash_key_length
	rssConfigFixedLen = 4 + 2 + 2   // hash_types, indirection_table_mask, unclassified_queue
)

// Queue indices (§5.1.2): receiveqN is 2(N-1), transmitqN is 2(N-1)+1, the
// control queue comes after the last pair the device offers.
func rxIndex(pair int) int       { return 2 * pair }
func txIndex(pair int) int       { return 2*pair + 1 }
func ctrlIndex(maxPairs int) int { return 2 * maxPairs }
