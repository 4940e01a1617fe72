# At each stop, each vCPU in a svespin's spin loop (EL0, x21 = one of their
# pids, as the L2 /init printed them) must show that task's own state:
# x22 its VL, $vg = VL / 64, z0-z31 / p0-p15 / ffr the values svespin wrote
# (derived from pid and VL; zero above the VL), and its own g_state at the
# same virtual address 0x490080-ish on every vCPU (each vCPU's page tables).
python
import os, sys
sys.path.insert(0, os.path.join(os.environ["RUN_GUEST_SRC"], "tests/nested/linux"))
import l2gdb
progs = {p["pid"]: p for p in l2gdb.programs()}
print("programs: " + ", ".join(f"pid {p['pid']} VL {p['vl']}" for p in progs.values()))
l2gdb.check("three svespin programs, VLs 128/256/512",
            sorted(p["vl"] for p in progs.values()) == [128, 256, 512] and
            len({p["state"] for p in progs.values()}) == 1)
state_va = next(iter(progs.values()))["state"]
l2gdb.connect()
seen = {}          # vCPU -> set of VLs seen there
pids_seen = set()
checked = 0
both_user = 0
last_counter = {}
for rnd in range(14):
    per_vcpu = {}
    for t in l2gdb.threads():
        t.switch()
        vcpu = t.num - 1
        el = (l2gdb.reg("cpsr") >> 2) & 3
        pid = l2gdb.reg("x21")
        if el != 0 or pid not in progs:
            print(f"round {rnd}: vCPU {vcpu}: EL{el}, pc {l2gdb.reg('pc'):#x}: not in a svespin")
            continue
        vl = progs[pid]["vl"]
        ok = True
        ok &= l2gdb.check(f"round {rnd} vCPU {vcpu} pid {pid}: x22 is the VL {vl}", l2gdb.reg("x22") == vl)
        ok &= l2gdb.check(f"round {rnd} vCPU {vcpu} pid {pid}: vg {vl // 64}", l2gdb.reg("vg") == vl // 64,
                          f"vg {l2gdb.reg('vg')}")
        lanes = vl // 64
        bad = [n for n in range(32) if l2gdb.read_z(n, 32) !=
               [l2gdb.z_expected(pid, vl, n, i) for i in range(lanes)] + [0] * (32 - lanes)]
        ok &= l2gdb.check(f"round {rnd} vCPU {vcpu} pid {pid}: z0-z31 are the task's", not bad, f"differ: {bad}")
        pbad = [n for n in range(17) if l2gdb.read_p("ffr" if n == 16 else f"p{n}", 32) !=
                l2gdb.pred_bytes(l2gdb.p_expected_bits(pid, vl, n), vl) + [0] * (32 - vl // 64)]
        ok &= l2gdb.check(f"round {rnd} vCPU {vcpu} pid {pid}: p0-p15, ffr are the task's", not pbad,
                          f"differ: {pbad}")
        magic, mpid, mvl, ctr = (int(gdb.parse_and_eval(f"((unsigned long *){state_va:#x})[{i}]")) for i in range(4))
        x19 = l2gdb.reg("x19")
        ok &= l2gdb.check(f"round {rnd} vCPU {vcpu} pid {pid}: g_state at {state_va:#x} is the task's own",
                          magic == 0x314e495053455653 and mpid == pid and mvl == vl and ctr in (x19, x19 - 1),
                          f"{magic:#x} {mpid} {mvl} {ctr} (x19 {x19})")
        if pid in last_counter:
            ok &= l2gdb.check(f"round {rnd} pid {pid}: its counter grew", ctr > last_counter[pid])
        last_counter[pid] = ctr
        seen.setdefault(vcpu, set()).add(vl)
        pids_seen.add(pid)
        per_vcpu[vcpu] = (pid, mpid)
        checked += ok
    if len(per_vcpu) == 2 and len({p for p, _ in per_vcpu.values()}) == 2:
        both_user += 1
    l2gdb.reconnect(0.3)
print(f"checked {checked} vCPU stops in a svespin; VLs seen per vCPU: "
      + ", ".join(f"vCPU {v}: {sorted(s)}" for v, s in sorted(seen.items())))
l2gdb.check("at least 8 vCPU stops in a svespin were checked", checked >= 8, f"{checked}")
l2gdb.check("every svespin was seen on a vCPU", pids_seen == set(progs), f"{sorted(pids_seen)}")
l2gdb.check("a vCPU was seen with two different VLs", any(len(s) >= 2 for s in seen.values()))
l2gdb.check("both vCPUs in different svespins at one stop (same address, own data)", both_user >= 1)
end
detach
