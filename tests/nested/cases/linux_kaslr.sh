# The VM side of case linux_kaslr: the Linux L2 guest of linux_l2.sh booted
# without `nokaslr` (L2_KASLR=1, tests/nested/linux/l2-lib.sh), so its
# kernel runs at a random offset from the vmlinux's link addresses; and
# with arm64.nopauth, so that gdb 13.1 can unwind the kernel's stack (it
# cannot strip a kernel return address's PAC: docs/linux-guests.md).
set -u
. /guest/l2/lib.sh
L2_KASLR=1
L2_APPEND_EXTRA=arm64.nopauth
start_linux_l2
serve_linux_l2
