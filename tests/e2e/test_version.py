#!/usr/bin/env python3
"""`svedbg --version` prints the project version (CMakeLists.txt's) and exits 0."""
import os
import re
import subprocess
import sys

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
with open(os.path.join(root, "CMakeLists.txt")) as f:
    version = re.search(r"project\(svedbg\b[^)]*\bVERSION ([0-9.]+)", f.read()).group(1)
r = subprocess.run([os.environ["SVEDBG"], "--version"], capture_output=True, text=True, timeout=30)
if r.returncode != 0 or r.stdout.strip() != f"svedbg {version}":
    print(f"FAIL: --version: status {r.returncode}, stdout {r.stdout!r}, stderr {r.stderr!r}; want 'svedbg {version}'")
    sys.exit(1)
print(f"e2e version: svedbg --version prints 'svedbg {version}'")
