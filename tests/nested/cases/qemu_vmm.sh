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
. /guest/lib.sh
mib=80
start_qemu -machine virt,gic-version=3 -smp 1 -m "$mib" -gdb tcp::1235
echo "qemu: vCPU fds: $(ls -l /proc/$QEMU_PID/fd | grep -c 'anon_inode:kvm-vcpu')"
[ -s /tmp/qemu.err ] && sed 's/^/qemu: stderr: /' /tmp/qemu.err
mem="0x40000000:${mib}M"
echo "qemu: guest RAM given as --mem $mem"
exec /bin/svedbg serve --pid "$QEMU_PID" --listen 0.0.0.0:1234 --allow-remote-unauthenticated --mem "$mem"
