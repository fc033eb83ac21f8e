# /etc/init.sh of make bench's Linux guest (qemu/linuxguest/build.sh --init):
# brings eth0 up with the address the kernel command line gives
# (bench.ip=ADDR/LEN, bench.gw=ADDR: Linux's own ip= cannot be used because
# virtio_net is a module loaded after the kernel's autoconfiguration), mounts
# the ext2 disk read-only and runs httpd-linux on it as the appliance would:
# HTTP on 80, echo on 7, discard on 9.
addr= gw=
for w in $(cat /proc/cmdline); do
	case $w in
	bench.ip=*) addr=${w#bench.ip=} ;;
	bench.gw=*) gw=${w#bench.gw=} ;;
	esac
done
ip link set lo up
ip link set eth0 up || echo "linux: no eth0"
[ -z "$addr" ] || ip addr add "$addr" dev eth0
[ -z "$gw" ] || ip route add default via "$gw"
mkdir -p /srv
root=/srv
if ! mount -t ext2 -o ro /dev/vda /srv; then
	echo "linux: no disk on /dev/vda, serving /etc"
	root=/etc
fi
echo "linux: ready uptime=$(cut -d' ' -f1 /proc/uptime)"
# The Go garbage collector's setting of Damselfly's kernel (kernel.DefaultGOGC,
# checked by qemu/cmd/bench's tests), so that both guests run the handler alike.
GOGC=400 /bin/httpd-linux --root "$root"
echo "linux: httpd-linux exited with status $?"
poweroff -f
