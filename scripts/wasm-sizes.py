#!/usr/bin/env python3
"""Sizes of a .wasm file's sections and of its code by crate (from the name section), to see what
makes the web verifier's bundle large:

    scripts/wasm-sizes.py target/wasm32-unknown-unknown/wasm-release/permit_web.wasm

Crates are read from legacy-mangled function names; with LTO, generic code is counted under the
crate that defines the generic (e.g. `core` for `drop_in_place` of any type)."""
import re
import sys
from collections import Counter


def leb(b, i):
    r = s = 0
    while True:
        x = b[i]
        i += 1
        r |= (x & 0x7F) << s
        s += 7
        if x < 0x80:
            return r, i


def crate_of(name):
    """The crate of a legacy-mangled Rust name (`_ZN5image2io…`, `_ZN…_$LT$rxing..x$u20$as…`)."""
    if name.startswith("_ZN"):
        m = re.match(r"(\d+)", name[3:])
        if m:
            first = name[3 + len(m.group(1)):3 + len(m.group(1)) + int(m.group(1))]
            first = first.replace("_$LT$", "").replace("$LT$", "").lstrip("&").replace("$RF$", "")
            first = first.replace("mut$u20$", "")
            return re.split(r"\.\.|\$", first)[0] or "?"
    m = re.match(r"[A-Za-z_][A-Za-z0-9_]*", name)
    return m.group(0) if m else "?"


def main(path, top=25):
    b = open(path, "rb").read()
    assert b[:4] == b"\0asm"
    i = 8
    sections = []
    imported_funcs = 0
    bodies = []
    names = {}
    while i < len(b):
        sid = b[i]
        size, j = leb(b, i + 1)
        end = j + size
        label = {0: "custom", 1: "type", 2: "import", 3: "function", 5: "memory", 6: "global",
                 7: "export", 9: "elem", 10: "code", 11: "data"}.get(sid, str(sid))
        if sid == 0:
            nlen, k = leb(b, j)
            cname = b[k:k + nlen].decode()
            label = f"custom:{cname}"
            if cname == "name":
                p = k + nlen
                while p < end:
                    sub = b[p]
                    ssize, q = leb(b, p + 1)
                    if sub == 1:
                        count, r = leb(b, q)
                        for _ in range(count):
                            idx, r = leb(b, r)
                            ln, r = leb(b, r)
                            names[idx] = b[r:r + ln].decode("utf-8", "replace")
                            r += ln
                    p = q + ssize
        if sid == 2:
            count, k = leb(b, j)
            for _ in range(count):
                for _ in range(2):
                    ln, k = leb(b, k)
                    k += ln
                kind = b[k]
                k += 1
                if kind == 0:
                    _, k = leb(b, k)
                    imported_funcs += 1
                elif kind == 1:
                    k += 1
                    flags = b[k]; k += 1
                    _, k = leb(b, k)
                    if flags & 1:
                        _, k = leb(b, k)
                elif kind == 2:
                    flags = b[k]; k += 1
                    _, k = leb(b, k)
                    if flags & 1:
                        _, k = leb(b, k)
                elif kind == 3:
                    k += 2
        if sid == 10:
            count, k = leb(b, j)
            for n in range(count):
                sz, k2 = leb(b, k)
                bodies.append((imported_funcs + n, k2 - k + sz))
                k = k2 + sz
        sections.append((label, size))
        i = end
    total = len(b)
    print(f"{path}: {total} bytes")
    for label, size in sorted(sections, key=lambda x: -x[1]):
        print(f"  {label:24} {size:9} {100 * size / total:5.1f} %")
    if not names:
        print("  (no name section: function names unknown)")
        return
    by_crate = Counter()
    for idx, size in bodies:
        name = names.get(idx, "?")
        crate = crate_of(name)
        by_crate[crate] += size
    code = sum(s for _, s in bodies)
    print(f"code by crate (first path segment of the function name), of {code} bytes of code:")
    for crate, size in by_crate.most_common(top):
        print(f"  {crate:24} {size:9} {100 * size / code:5.1f} %")


if __name__ == "__main__":
    main(sys.argv[1])
