# The VM side of case multi_two_vmms: svedbg-vmm runs vl512 (started by
# run-guest, VMM_PID); QEMU runs it too, on 2 vCPUs; then one
# `svedbg serve --multi` daemon serves both. Before the host's gdb comes, a
# client as uid 65534 (busybox su; busybox's setpriv cannot change uids)
# on loopback TCP lists the
# VMMs (none: both are root's) and tries to attach each (refused, with the
# reason). run-guest prefixes "vm: "; the daemon's banner and log follow
# (tail -f), which is what run-guest waits for.
set -u
. /guest/lib.sh
mib=64
start_qemu -name vl512,debug-threads=on -machine virt,gic-version=3,memory-backend=ram -smp 2 -m "$mib" \
  -object memory-backend-memfd,id=ram,size="${mib}M"
echo "pids: svedbg-vmm $VMM_PID, qemu $QEMU_PID"
# An unprivileged user for su (the initramfs has no user database).
mkdir -p /etc
grep -q '^root:' /etc/passwd 2>/dev/null || echo 'root:x:0:0:root:/:/bin/sh' >>/etc/passwd
echo 'nobody:x:65534:65534:nobody:/:/bin/sh' >>/etc/passwd
printf 'root:x:0:\nnogroup:x:65534:\n' >>/etc/group
/bin/svedbg serve --multi --listen 0.0.0.0:1234 --allow-remote-unauthenticated >/tmp/multi.out 2>&1 &
i=0
while ! grep -q "serving this host" /tmp/multi.out && [ $i -lt 600 ]; do usleep 100000; i=$((i + 1)); done
pkt() {  # the packet $1, framed ("$payload#checksum")
  s=0
  for c in $(printf %s "$1" | od -An -tu1); do s=$((s + c)); done
  printf '$%s#%02x' "$1" $((s % 256))
}
{
  pkt '!'; sleep 1
  pkt 'qXfer:osdata:read:processes:0,fff'; sleep 1
  pkt "vAttach;$(printf %x "$VMM_PID")"; sleep 1
  pkt "vAttach;$(printf %x "$QEMU_PID")"; sleep 2
} | su -s /bin/sh nobody -c 'id; timeout 10 nc 127.0.0.1 1234' >/tmp/nobody.out 2>&1
tr '$' '\n' </tmp/nobody.out | sed 's/^/nobody: /'
echo
exec tail -n +1 -f /tmp/multi.out
