#!/usr/bin/env python3
"""Checks the layers of docs/architecture.md against the code.

Fails (exit 1, one line per finding) when a file in src/<module>/ includes
"<other>/..." for a module its row does not list (tests may also include
testing/), when CMakeLists.txt links a module to other modules than its row
lists, or when a module folder has no row.

    scripts/check_layers.py [SOURCE_DIR]
"""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parent.parent)
doc = root / "docs" / "architecture.md"
row = re.compile(r"^\|\s*`([a-z_]+)/`\s*\|([^|]*)\|")
allowed = {}
for line in doc.read_text().splitlines():
    m = row.match(line)
    if m:
        allowed[m.group(1)] = {d.strip() for d in m.group(2).split(",") if d.strip()}

problems = []
src = root / "src"
modules = sorted(p.name for p in src.iterdir() if p.is_dir())
include = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/', re.M)
for module in modules:
    if module not in allowed:
        problems.append(f"{doc}: no row for src/{module}/")
        continue
    for f in sorted((src / module).iterdir()):
        if f.suffix not in (".h", ".cc"):
            continue
        ok = allowed[module] | {module}
        # Tests, and headers only tests include (a shared fixture), may use testing/.
        if f.name.endswith("_test.cc") or f.name.endswith("_test.h"):
            ok = ok | {"testing"}
        text = f.read_text(errors="replace")
        for m in include.finditer(text):
            dep = m.group(1)
            if dep in modules and dep not in ok:
                line = text.count("\n", 0, m.start()) + 1
                problems.append(f"src/{module}/{f.name}:{line}: includes {dep}/, "
                                f"which {doc.name} does not let {module}/ use")

cmake = (root / "CMakeLists.txt").read_text()
for m in re.finditer(r"anthill_module\((\w+)([^)]*)\)", cmake):
    name, args = m.group(1), m.group(2)
    deps = re.search(r"DEPS\s+(.*?)(?:\s+LIBS\b|$)", args.strip())
    linked = set(deps.group(1).split()) if deps else set()
    if name in allowed and linked != allowed[name]:
        problems.append(f"CMakeLists.txt: {name} links {sorted(linked)}, "
                        f"{doc.name} says {sorted(allowed[name])}")

for p in problems:
    print(p)
print(f"layers: {len(modules)} modules, {len(problems)} problem(s)")
sys.exit(1 if problems else 0)
