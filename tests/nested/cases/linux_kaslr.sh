# The VM side of case linux_kaslr: the Linux L2 guest of linux_l2.sh booted
# without `nokaslr` (L2_KASLR=1, tests/nested/linux/l2-lib.sh), so its
# kernel runs at a random offset from the vmlinux's link addresses.
set -u
. /guest/l2/lib.sh
L2_KASLR=1
start_linux_l2
serve_linux_l2
