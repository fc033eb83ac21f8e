# /etc/init.sh of the Linux storage comparison guest (qemu/linuxguest/build.sh
# --init): runs /bin/storagebench in the mode the kernel command line names
# (storagebench=blk or storagebench=fs), on /dev/vda, then powers off.
i=0
while [ ! -b /dev/vda ] && [ $i -lt 250 ]; do usleep 20000; i=$((i + 1)); done
mode=$(sed -n 's/.*storagebench=\([a-z]*\).*/\1/p' /proc/cmdline)
/bin/storagebench -mode "$mode" -dev /dev/vda -mnt /mnt > /dev/console 2>&1
poweroff -f
