#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.0-or-later
"""Fails when csand's modules depend on each other in a cycle.

A module is a pair utils/NAME.c + utils/NAME.h (sandbox.c is the module
"sandbox"). Module A depends on module B when A's .c or .h includes
"B.h". The graph must be acyclic: a cycle means two modules can't be
understood, tested or changed one without the other (ARCHITECTURE.md,
"Modules").

    tools/check-module-graph.py [SOURCE_DIR] [--graph]

Prints every cycle found (one strongly connected component per line)
and exits 1, or exits 0 when there is none. --graph prints the edges.
"""
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"(?:utils/)?([A-Za-z0-9_-]+)\.h"', re.M)


def modules(top):
    found = {}
    utils = os.path.join(top, "utils")
    for name in sorted(os.listdir(utils)):
        base, ext = os.path.splitext(name)
        if ext in (".c", ".h"):
            found.setdefault(base, []).append(os.path.join(utils, name))
    found["sandbox"] = [os.path.join(top, "sandbox.c")]
    return found


def edges(found):
    graph = {}
    for module, files in found.items():
        deps = set()
        for path in files:
            with open(path, encoding="utf-8") as f:
                deps.update(INCLUDE.findall(f.read()))
        deps.discard(module)
        graph[module] = sorted(d for d in deps if d in found)
    return graph


def cycles(graph):
    """Tarjan's strongly connected components with more than one module."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main(argv):
    top = next((a for a in argv[1:] if not a.startswith("--")), ".")
    graph = edges(modules(top))
    if "--graph" in argv:
        for module, deps in sorted(graph.items()):
            print(f"{module} -> {' '.join(deps)}")
    found = cycles(graph)
    for component in found:
        inner = {m: [d for d in graph[m] if d in component] for m in component}
        links = "; ".join(f"{m} -> {', '.join(d)}" for m, d in inner.items())
        print(f"check-module-graph: cycle between {', '.join(component)} ({links})")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
