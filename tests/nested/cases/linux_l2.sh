# The VM side of the Linux L2 cases (linux_*.args): boots Debian's arm64
# cloud kernel as a KVM guest of its own (L2) under Debian's
# qemu-system-aarch64 -accel kvm -cpu host,sve=on -smp 2, its initramfs
# running the svespin programs named by RUN_GUEST_LINUX_L2, then attaches
# `svedbg serve --pid` to that QEMU for the host's gdb. The functions are
# tests/nested/linux/l2-lib.sh (run-guest ships them as /guest/l2/lib.sh).
set -u
. /guest/l2/lib.sh
start_linux_l2
serve_linux_l2
