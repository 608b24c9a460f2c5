#!/usr/bin/python3
"""The push bench's sample project, generated deterministically (same bytes on every machine).

    gen.py DIR [--files 100] [--bytes 2097152] [--app bench] [--version V] [--tiny]

writes DIR/apps/APP/: main.lua (registers APP.ver, which answers V) and FILES - 1 more files
(Lua modules under lib/, binary data under data/dNN/) whose sizes add up to BYTES with main.lua.
--tiny writes only main.lua (the "before" state of a full push).

As a module: generate(dir, ...) and edit(dir, app, k, seed) (changes k files: one edited in
place, one added, one deleted per three; returns the bytes of the new content).
"""
import os
import random
import shutil
import sys

MAIN = """-- the push bench's app ({files} files): answers its version
local VERSION = "{version}"

function init_ready()
  swarm.log("bench app", VERSION, "ready")
end

swarm.command("ver", function() return VERSION end, "the version of this app")
"""


def _main_lua(version, files):
    return MAIN.format(version=version, files=files).encode()


def _lua_module(rng, size, k):
    text = "-- generated module %d\nlocal M = {}\n" % k
    n = 0
    while len(text) < size - 60:
        text += "function M.f%d(x) return x * %d + %d end\n" % (n, rng.randrange(1000), rng.randrange(1000))
        n += 1
    text += "return M\n"
    text += " " * max(0, size - len(text))
    return text.encode()[:size]


def generate(top, files=100, total=2 * 1024 * 1024, app="bench", version="1", tiny=False, seed=7,
             typical=False, random_only=False):
    """Writes top/apps/app/ (replacing it); returns {relative path: bytes}. typical: a typical
    app project instead (Lua sources, every tenth file an asset of random bytes, as images and
    other already-compressed data are), for the compression bench (bench/push/shaped).
    random_only: every file but main.lua random bytes (incompressible; bench/push/lab100)."""
    d = os.path.join(top, "apps", app)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    out = {"main.lua": _main_lua(version, 1 if tiny else files)}
    if not tiny:
        rng = random.Random(seed)
        rest = files - 1
        left = total - len(out["main.lua"])
        weights = [rng.uniform(0.2, 1.8) for _ in range(rest)]
        scale = left / sum(weights)
        sizes = [max(1, int(w * scale)) for w in weights]
        sizes[-1] += left - sum(sizes)
        for k, size in enumerate(sizes):
            if not random_only and ((k % 10 != 9) if typical else (k % 5 == 0)):
                rel = "lib/m%02d.lua" % k
                data = _lua_module(rng, size, k)
            else:
                rel = "data/d%02d/f%03d.bin" % (k % 7, k)
                data = rng.randbytes(size)
            out[rel] = data
    for rel, data in out.items():
        p = os.path.join(d, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)
    return out


def edit(top, app="bench", k=3, seed=11):
    """Changes k files of top/apps/app: edits one in place, adds one, deletes one, in turn.
    Returns (bytes of new or changed content, [paths changed], [paths deleted])."""
    rng = random.Random(seed)
    d = os.path.join(top, "apps", app)
    names = sorted(os.path.relpath(os.path.join(r, f), d) for r, _, fs in os.walk(d) for f in fs
                   if f != "main.lua")
    changed, deleted, nbytes = [], [], 0
    for i in range(k):
        if i % 3 == 0 and names:
            rel = names.pop(rng.randrange(len(names)))
            data = rng.randbytes(os.path.getsize(os.path.join(d, rel)) or 1)
        elif i % 3 == 1:
            rel = "lib/new%03d_%d.lua" % (rng.randrange(1000), i)
            # valid Lua (swarm push checks the syntax of every .lua file before it sends any)
            data = ("-- added\nlocal t = {}\n" + "t[#t + 1] = %d\n" % rng.randrange(10 ** 6) * 200
                    + "return t\n").encode()
        else:
            if names:
                rel = names.pop(rng.randrange(len(names)))
                os.unlink(os.path.join(d, rel))
                deleted.append(rel)
            continue
        p = os.path.join(d, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)
        changed.append(rel)
        nbytes += len(data)
    return nbytes, changed, deleted


def main(argv):
    args = list(argv)
    if not args or args[0].startswith("-"):
        sys.exit(__doc__)
    top, files, total, app, version, tiny = args.pop(0), 100, 2 * 1024 * 1024, "bench", "1", False
    while args:
        a = args.pop(0)
        if a == "--files":
            files = int(args.pop(0))
        elif a == "--bytes":
            total = int(args.pop(0))
        elif a == "--app":
            app = args.pop(0)
        elif a == "--version":
            version = args.pop(0)
        elif a == "--tiny":
            tiny = True
        else:
            sys.exit(__doc__)
    out = generate(top, files, total, app, version, tiny)
    print("%s/apps/%s: %d files, %d bytes" % (top, app, len(out), sum(len(x) for x in out.values())))


if __name__ == "__main__":
    main(sys.argv[1:])
