package icmp

import "net/netip"

// ipv4Broadcast is the limited broadcast address 255.255.255.255; a
// datagram from it has no host to report to.
var ipv4Broadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})
