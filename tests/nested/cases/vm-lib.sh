# Shell functions for the VM-side scripts of the nested cases (busybox sh).
# run-guest ships this file as /guest/lib.sh next to RUN_GUEST_SCRIPT;
# a script uses it with `. /guest/lib.sh`.

# After the VMM has died: if svedbg (pid $1) still runs, a new client sends
# `?` and the reply is shown (the guest is gone: an X stop reply is due).
ask_after_vmm_exit() {
  sleep 5
  if kill -0 "$1" 2>/dev/null; then
    echo "watcher: svedbg still runs; a new client sends '?'"
    { printf '+$?#3f'; sleep 3; } | nc 127.0.0.1 1234 >/tmp/reply 2>&1 &
    sleep 5
    echo "watcher: the new client got: $(tr -d '\n' </tmp/reply)"
  else
    echo "watcher: svedbg exited"
  fi
}

# The pid written to file $1 by the script's main part, once it is there.
pid_from() {
  i=0; while [ ! -s "$1" ] && [ $i -lt 600 ]; do usleep 100000; i=$((i + 1)); done
  cat "$1"
}

# Starts Debian's qemu-system-aarch64 with KVM (-cpu host,sve=on) on the
# vl512 image, its console in /tmp/qemu-serial.out and its stderr in
# /tmp/qemu.err, with the case's own arguments "$@" (-machine, -smp, -m,
# ...), and waits for the guest's "vl512: ready". Sets QEMU_PID; exits the
# script with QEMU's stderr if QEMU dies first or the guest is silent for
# 120 s. From then on a watcher says "qemu: EXITED" should QEMU die later
# (gdb's output shows why svedbg lost its VMM).
start_qemu() {
  qemu-system-aarch64 -nodefaults -no-user-config -display none -monitor none -accel kvm -cpu host,sve=on \
    -serial file:/tmp/qemu-serial.out -kernel /guest/image "$@" >/tmp/qemu.err 2>&1 &
  QEMU_PID=$!
  _t0=$(cut -d' ' -f1 /proc/uptime)
  _i=0
  while ! grep -q "vl512: ready" /tmp/qemu-serial.out 2>/dev/null; do
    if ! kill -0 "$QEMU_PID" 2>/dev/null; then
      wait "$QEMU_PID"; echo "qemu: exited with status $? before the guest was ready:"; cat /tmp/qemu.err; exit 1
    fi
    _i=$((_i + 1))
    [ $_i -lt 1200 ] || { echo "qemu: no \"vl512: ready\" on its serial within 120 s:"; cat /tmp/qemu.err; exit 1; }
    usleep 100000
  done
  echo "qemu: pid $QEMU_PID, guest says \"$(tr -d '\r\n' </tmp/qemu-serial.out)\" $(awk -v a="$_t0" '{ printf "%.1f", $1 - a }' /proc/uptime) s after start"
  (while kill -0 "$QEMU_PID" 2>/dev/null; do sleep 1; done; echo "qemu: EXITED"; cat /tmp/qemu.err) &
}
