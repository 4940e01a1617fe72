# Issue 7 on real KVM: `svedbg dump --pid` (the CLI, no gdb) of a running
# plain svedbg-vmm (vl512: one vCPU at VL 512 of max 2048, spinning in
# `add x20, x20, #1`). The JSON dump is shown; the ELF core (with guest RAM)
# goes to the raw disk /dev/vda (RUN_GUEST_DISK), which gdb opens on the
# host with `core-file` after comparing the live registers (dump_pid.gdb).
set -u
if /bin/svedbg dump --pid "$VMM_PID" --format json -o /tmp/d.json 2>/tmp/json.err; then
  echo "json dump: ok"
  grep -E '"(kind|effective_vl|max_vl|vls)"|"zcr_el1"' /tmp/d.json | sed -e 's/"detail": .*//' -e 's/"sctlr_el1.*//'
else
  echo "json dump failed:"; cat /tmp/json.err
fi
# Straight onto the block device: written in place, not renamed over it.
if /bin/svedbg dump --pid "$VMM_PID" --format elf --memory -o /dev/vda 2>/tmp/elf.err; then
  echo "elf dump: ok, written to $(ls -l /dev/vda | cut -c1) /dev/vda"
else
  echo "elf dump failed:"; cat /tmp/elf.err
fi
echo "VMM state after the dumps: $(grep '^State:' /proc/$VMM_PID/status | cut -f2), TracerPid $(sed -n 's/^TracerPid:[[:space:]]*//p' /proc/$VMM_PID/status)"
exec /bin/svedbg serve --pid "$VMM_PID" --listen 0.0.0.0:1234 --allow-remote-unauthenticated
