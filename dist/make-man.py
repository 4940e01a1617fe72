#!/usr/bin/env python3
"""Writes svedbg.1 from dist/svedbg.1.in and the program's own --help, at build
time, so the man page cannot go stale (dist/CMakeLists.txt runs it):
    make-man.py TEMPLATE OUTPUT VERSION SVEDBG [EMULATOR...]
The commands are those `svedbg --help` lists under "Subcommands:" (a new
subcommand appears by itself). CLI11's help becomes roff: each option an
indented paragraph (.TP) with its name in bold, a footer as literal text."""
import re
import subprocess
import sys

template, output, version, *program = sys.argv[1:]


def help_of(*args):
    r = subprocess.run(program + list(args) + ["--help"], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        sys.exit(f"make-man: {' '.join(program + list(args))} --help failed ({r.returncode}): {r.stderr}")
    # CLI11 names the program by its path in "Usage:".
    return r.stdout.replace(program[-1], "svedbg")


def esc(text):
    """Text as roff: backslashes and minus signs escaped, a leading . or ' protected."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + text if text[:1] in (".", "'") else text


def to_roff(text):
    out, footer, state = [], [], "preamble"
    for line in text.rstrip("\n").split("\n"):
        if state == "footer":
            footer.append(line)
        elif re.fullmatch(r"(Options|Subcommands|Positionals):", line):
            out += [".PP", f".B {line}"]
            state = "list"
        elif state == "gap" and line:  # text after the lists: the footer
            footer.append(line)
            state = "footer"
        elif state in ("list", "gap"):
            if line == "":
                state = "gap"
            elif line.startswith("   "):  # a description on the line below a long option
                out.append(esc(line.strip()))
            else:
                m = re.fullmatch(r"  (\S.*?)(?: {2,}(\S.*))?", line)
                name = esc(m.group(1)).replace('"', '\\(dq')
                out += [".TP", f'.B "{name}"'] + ([esc(m.group(2))] if m.group(2) else [])
        elif line:
            out += [".PP" if line.startswith("Usage:") else ".br", esc(line)]
    while footer and not footer[0]:
        footer.pop(0)
    if footer:
        out += [".PP", ".nf"] + [esc(line) for line in footer] + [".fi"]
    return "\n".join(out)


main = help_of()
listing = re.search(r"^Subcommands:\n((?:  .*\n?)+)", main, re.M)
commands = re.findall(r"^  ([a-z][a-z0-9-]*)\s", listing.group(1), re.M) if listing else []
if not commands:
    sys.exit(f"make-man: no subcommands in `svedbg --help`:\n{main}")

synopsis = "".join(f".B svedbg {c}\n.RI [ options ]\n.br\n" for c in commands) + ".B svedbg \\-\\-version"
sections = [".SS svedbg", to_roff(main)]
for c in commands:
    sections += [f".SS \"svedbg {c}\"", to_roff(help_of(c))]
with open(template) as f:
    page = f.read()
page = (page.replace("@SVEDBG_VERSION@", version).replace("@SVEDBG_MAN_SYNOPSIS@", synopsis)
        .replace("@SVEDBG_MAN_COMMANDS@", "\n".join(sections)))
with open(output, "w") as f:
    f.write(page)
