# Shell functions (busybox sh, in the nested VM) that boot the Linux L2 guest
# packed by tests/nested/linux-l2-pack and attach svedbg to it. run-guest
# ships them as /guest/l2/lib.sh when RUN_GUEST_LINUX_L2 is set; a case's VM
# script uses them as
#   . /guest/l2/lib.sh
#   start_linux_l2            # boots L2, prints its "l2: ..." lines
#   serve_linux_l2            # exec svedbg serve --pid QEMU (gdb connects)
# Knobs (environment): L2_SMP (vCPUs, 2), L2_MEM (MiB, 256), L2_APPEND
# (kernel command line, "console=ttyAMA0 nokaslr panic=-1 quiet loglevel=1 nowatchdog rcupdate.rcu_cpu_stall_suppress=1"),
# (loglevel=1, nowatchdog, no RCU stall reports: on a loaded machine the
# emulated L2 is slow enough to trigger both, and each console character is
# a trap to QEMU), L2_BOOT_TIMEOUT (seconds until the L2 /init says "l2: ready", 420),
# L2_KASLR=1 (drop `nokaslr` from the default command line: the kernel runs
# at a random offset from its link addresses, case linux_kaslr),
# L2_APPEND_EXTRA (appended to the default command line, e.g. arm64.nopauth).

# Starts Debian's qemu-system-aarch64 -accel kvm -cpu host,sve=on on the L2
# kernel and initramfs, RAM a memfd (so serve_linux_l2 can name it to svedbg
# with --mem), console in /tmp/l2.out, extra QEMU arguments "$@". Waits for
# "l2: ready" and prints the console's "l2: " lines (kernel version, the
# svespin programs' pid/VL/state lines). Sets L2_QEMU_PID. Exits the script
# with the console and QEMU's stderr if QEMU dies or the guest is not ready
# in time. A watcher prints "l2: qemu EXITED" should QEMU die later.
start_linux_l2() {
  _mem=${L2_MEM:-256}
  _kaslr=nokaslr
  if [ "${L2_KASLR:-0}" = 1 ]; then _kaslr=; fi
  qemu-system-aarch64 -nodefaults -no-user-config -display none -monitor none -no-reboot \
    -accel kvm -cpu host,sve=on -machine virt,gic-version=3,memory-backend=ram \
    -smp "${L2_SMP:-2}" -m "$_mem" -object memory-backend-memfd,id=ram,size="${_mem}M" \
    -kernel /guest/l2/Image -initrd /guest/l2/initrd.cpio \
    -append "${L2_APPEND:-console=ttyAMA0 $_kaslr panic=-1 quiet loglevel=1 nowatchdog rcupdate.rcu_cpu_stall_suppress=1${L2_APPEND_EXTRA:+ $L2_APPEND_EXTRA}}" \
    -serial file:/tmp/l2.out "$@" >/tmp/l2-qemu.err 2>&1 &
  L2_QEMU_PID=$!
  _t0=$(cut -d' ' -f1 /proc/uptime)
  _limit=${L2_BOOT_TIMEOUT:-420}
  _next=15
  while ! grep -q '^l2: ready' /tmp/l2.out 2>/dev/null; do
    if ! kill -0 "$L2_QEMU_PID" 2>/dev/null; then
      wait "$L2_QEMU_PID"
      echo "l2: qemu exited with status $? before the guest was ready; FAILED:"
      cat /tmp/l2-qemu.err; tr -d '\r' </tmp/l2.out; exit 1
    fi
    _el=$(awk -v a="$_t0" '{ printf "%d", $1 - a }' /proc/uptime)
    if [ "$_el" -ge "$_limit" ]; then
      echo "l2: not ready within $_limit s; FAILED:"; cat /tmp/l2-qemu.err; tr -d '\r' </tmp/l2.out; exit 1
    fi
    if [ "$_el" -ge "$_next" ]; then  # progress: the console's last line
      echo "l2: booting, $_el s: $(tr -d '\r' </tmp/l2.out | tail -1 | cut -c1-100)"; _next=$((_next + 15))
    fi
    usleep 200000
  done
  tr -d '\r' </tmp/l2.out | grep '^l2: '
  echo "l2: qemu pid $L2_QEMU_PID, ready $(awk -v a="$_t0" '{ printf "%.1f", $1 - a }' /proc/uptime) s after start"
  (while kill -0 "$L2_QEMU_PID" 2>/dev/null; do sleep 1; done; echo "l2: qemu EXITED"; cat /tmp/l2-qemu.err) &
}

# exec svedbg serve --pid on the L2 QEMU, its RAM (the memfd mapping in
# /proc/PID/maps) given as --mem 0x40000000:HVA:SIZE, listening on :1234
# for the host's gdb; extra svedbg arguments "$@".
serve_linux_l2() {
  _line=$(grep -m1 '/memfd:memory-backend-memfd' "/proc/$L2_QEMU_PID/maps")
  _range=${_line%% *}
  _start=$((0x${_range%-*})) _end=$((0x${_range#*-}))
  exec /bin/svedbg serve --pid "$L2_QEMU_PID" --listen 0.0.0.0:1234 --allow-remote-unauthenticated \
    --mem "$(printf '0x40000000:0x%x:0x%x' "$_start" $((_end - _start)))" "$@"
}
