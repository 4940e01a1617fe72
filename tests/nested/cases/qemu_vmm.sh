# The VM side of case qemu_vmm: Debian's arm64 qemu-system-aarch64 (a VMM
# with no svedbg code in it) runs the vl512 image with KVM, its own gdbstub
# on :1235; then svedbg attaches to that QEMU process and serves :1234.
# run-guest (RUN_GUEST_SCRIPT without RUN_GUEST_ATTACH, RUN_GUEST_QEMU=1)
# prefixes each output line with "vm: ".
#
# QEMU loads a raw (non-ELF, non-Linux-Image) -kernel at RAM base + 0x80000 =
# 0x40080000 and starts it at EL1 with the MMU off, as the image expects; the
# image's console (a byte write to 0x09000000) is the virt board's PL011 data
# register: its "vl512: ready" appears on QEMU's serial. QEMU's RAM is an
# anonymous mapping nothing names: svedbg is told its guest address and size
# (--mem 0x40000000:80M; 64 MiB would be ambiguous: QEMU has three other
# read-write mappings of exactly 64 MiB, which svedbg lists and refuses) and finds the one mapping of that size itself.
set -u
mib=80
qemu-system-aarch64 -nodefaults -no-user-config -display none -monitor none \
  -machine virt,gic-version=3 -accel kvm -cpu host,sve=on -smp 1 -m "$mib" \
  -serial file:/tmp/qemu-serial.out -kernel /guest/image -gdb tcp::1235 >/tmp/qemu.err 2>&1 &
QEMU_PID=$!
t0=$(cut -d' ' -f1 /proc/uptime)
i=0
while ! grep -q "vl512: ready" /tmp/qemu-serial.out 2>/dev/null; do
  if ! kill -0 "$QEMU_PID" 2>/dev/null; then
    wait "$QEMU_PID"; echo "qemu: exited with status $? before the guest was ready:"; cat /tmp/qemu.err; exit 1
  fi
  i=$((i + 1))
  [ $i -lt 1200 ] || { echo "qemu: no \"vl512: ready\" on its serial within 120 s:"; cat /tmp/qemu.err; exit 1; }
  usleep 100000
done
echo "qemu: pid $QEMU_PID, guest says \"$(tr -d '\r\n' </tmp/qemu-serial.out)\" $(awk -v a="$t0" '{ printf "%.1f", $1 - a }' /proc/uptime) s after start"
echo "qemu: vCPU fds: $(ls -l /proc/$QEMU_PID/fd | grep -c 'anon_inode:kvm-vcpu')"
[ -s /tmp/qemu.err ] && sed 's/^/qemu: stderr: /' /tmp/qemu.err
mem="0x40000000:${mib}M"
echo "qemu: guest RAM given as --mem $mem"
# Say so if QEMU dies later (gdb's output shows it too).
(while kill -0 "$QEMU_PID" 2>/dev/null; do sleep 1; done; echo "qemu: EXITED"; cat /tmp/qemu.err) &
exec /bin/svedbg serve --pid "$QEMU_PID" --listen 0.0.0.0:1234 --mem "$mem"
