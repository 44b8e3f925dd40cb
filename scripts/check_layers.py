#!/usr/bin/env python3
"""Fails when the modules of a crate import each other in a circle.

A module's imports are its `crate::a::b` paths (and `super::x` in a
submodule); a name re-exported by a parent (`pub use context::Context` in
`pipeline/mod.rs`) counts as an import of the module that defines it, and a
parent's calls of `child::f(` as imports of its children. Tests (`#[cfg(test)]`
and `*_tests.rs`) are left out. Usage: check_layers.py CRATE_SRC_DIR...
"""

import glob
import os
import re
import sys


def modules(src):
    files = [f for f in glob.glob(os.path.join(src, "**/*.rs"), recursive=True)
             if not f.endswith("_tests.rs")]
    mods = {}
    for f in files:
        rel = os.path.relpath(f, src)[:-3]
        name = re.sub(r"(^|/)(mod|lib|main)$", "", rel).replace("/", "::")
        mods[name] = f
    return mods


def reexports(mods):
    """Names a parent re-exports from a child: {parent::Name: child}."""
    out = {}
    for m, f in mods.items():
        for child, names in re.findall(r"pub(?:\(crate\))? use (\w+)::\{?([\w,\s]+)\}?;", open(f).read()):
            target = f"{m}::{child}" if m else child
            if target in mods:
                for n in re.findall(r"\w+", names):
                    out[f"{m}::{n}" if m else n] = target
    return out


def resolve(path, mods, rex):
    """The module a path names (or a re-exported name comes from)."""
    parts = path.split("::")
    for k in range(len(parts), 0, -1):
        cand = "::".join(parts[:k])
        if cand in rex:
            return rex[cand]
        if cand in mods:
            return cand
    return None


def edges(mods):
    rex = reexports(mods)
    graph = {m: {} for m in mods}
    for m, f in mods.items():
        text = open(f).read()
        text = re.sub(r"//[^\n]*", "", text)
        cut = text.find("#[cfg(test)]")
        if cut >= 0:
            text = text[:cut]
        paths = re.findall(r"crate::([\w:]+(?:\{[^}]*\})?)", text)
        parent = m.rsplit("::", 1)[0] if "::" in m else ""
        paths += [f"{parent}::{p}" if parent else p
                  for p in re.findall(r"super::([\w:]*(?:\{[^}]*\})?)", text)]
        for p in paths:
            if "{" in p:
                head = p[:p.index("{")].strip(":")
                inner = p[p.index("{") + 1:].rstrip("}")
                names = [f"{head}::{n.strip()}".strip(":") for n in inner.split(",") if n.strip()]
            else:
                names = [p.strip(":")]
            for n in names:
                target = resolve(n, mods, rex)
                # A module's own descendants, and itself, are not imports
                # (every module descends from the crate root).
                if target is not None and target != m and m and not target.startswith(m + "::"):
                    graph[m].setdefault(target, n)
        prefix = f"{m}::" if m else ""
        for child in re.findall(r"\b(\w+)::\w+\(", text):
            t = prefix + child
            if t in mods and t != m:
                graph[m].setdefault(t, f"{child}::…(")
    return graph


def cycles(graph):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for v in graph:
        if v not in index:
            visit(v)
    return out


def main():
    bad = False
    for src in sys.argv[1:]:
        graph = edges(modules(src))
        for comp in cycles(graph):
            bad = True
            print(f"error: {src}: modules import each other in a circle: {', '.join(comp)}")
            for a in comp:
                for b, why in graph[a].items():
                    if b in comp:
                        print(f"  {a or 'crate root'} -> {b or 'crate root'} ({why})")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
