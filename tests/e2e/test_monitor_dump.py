#!/usr/bin/env python3
"""`monitor dump json` through real gdb equals `svedbg dump --format json` of
the same guest (the way to snapshot a VMM that links libsvedbg), and output
larger than one packet arrives whole (qRcmd 'O' packets)."""
import json

from harness import *

c = Checker("e2e monitor dump")
# 16 vCPUs at 2048 bits: over 256 KiB of JSON, more than one reply holds.
GUEST = ["--sim-vcpus", "16", "--sim-vl", "2048"]
offline = subprocess.run([SVEDBG, "dump", "--sim", *GUEST, "--format", "json", "-o", "-"], capture_output=True,
                         text=True, check=True).stdout
with Svedbg(*GUEST) as stub:
    out = run_gdb(stub, ["echo JSON-BEGIN\\n", "monitor dump json", "echo JSON-END\\n", "detach"])
text = out[out.index("JSON-BEGIN\n") + len("JSON-BEGIN\n"):out.index("JSON-END")]
c.expect(len(text) > 0x20000, "the dump is larger than one packet", str(len(text)))
try:
    live = json.loads(text)
except json.JSONDecodeError as e:
    live = None
    c.expect(False, "monitor dump json is valid JSON", f"{e}\n{text[:300]}")
if live is not None:
    ref = json.loads(offline)
    c.expect(live["svedbg_dump"] == ref["svedbg_dump"], "same schema version", "")
    c.expect(live["vcpus"] == ref["vcpus"], "every vCPU's registers equal svedbg dump's",
             json.dumps(live["vcpus"])[:300])
    c.expect(live["source"]["kind"] == "sim", "source names the backend", json.dumps(live["source"]))
c.done()
