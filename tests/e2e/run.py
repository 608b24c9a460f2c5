#!/usr/bin/python3
"""Runs one end-to-end test file as ctest's test e2e_<name> (tests/e2e/e2e.cmake), and fails it
for what a passing unittest run would hide:

  * the network guard: every swarm-node the test starts inherits SW_TEST_NET_GUARD=FILE and
    SW_TEST_NET_GUARD_NETNS (this runner's network namespace). A node of the test build
    (SW_TEST_HOOKS) that runs in this namespace (not in a lab namespace of the test) refuses
    to bind, listen or send anywhere but loopback and appends a line to FILE when it is asked to
    (src/port/posix/net_guard.c). A FILE that is not empty at the end fails the test, whatever
    unittest said.
  * skips: unittest's "skipped" lines are counted. With CI=true (or SWARM_NO_SKIPS=1) a skip
    fails the test; otherwise the test passes, says how many of its tests were skipped and why,
    and leaves the list in $SWARM_BUILD/test-skips/<name>.txt for the summary at the end of
    `make test` (scripts/test-summary).

usage: run.py tests/e2e/test_NAME.py [unittest arguments]
"""
import os
import re
import subprocess
import sys
import tempfile

SKIP_LINE = re.compile(r"^(.*) \.\.\. skipped '(.*)'$")   # unittest's verbose verdict
TEST_LINE = re.compile(r"^(\w+ \([\w.]+\))")                # its "test_x (mod.Class.test_x)"
SKIP_COUNT = re.compile(r"^(?:OK|FAILED) \(.*\bskipped=(\d+)")


def truthy(v):
    return (v or "").strip().lower() in ("1", "true", "yes", "on")


def main():
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(sys.argv) >= 2 else 2
    test = sys.argv[1]
    name = os.path.splitext(os.path.basename(test))[0]
    build = os.environ.get("SWARM_BUILD") or os.path.join(os.path.dirname(__file__), "..", "..", "build")
    skips_dir = os.path.join(build, "test-skips")
    os.makedirs(skips_dir, exist_ok=True)
    skips_file = os.path.join(skips_dir, "e2e_%s.txt" % name)
    if os.path.exists(skips_file):
        os.unlink(skips_file)

    fd, guard = tempfile.mkstemp(prefix="swarm-netguard-%s-" % name, suffix=".txt")
    os.close(fd)
    ns = os.stat("/proc/self/ns/net")  # nodes in this namespace are guarded, not those in labs
    env = dict(os.environ, SW_TEST_NET_GUARD=guard, PYTHONUNBUFFERED="1",
               SW_TEST_NET_GUARD_NETNS="%d:%d" % (ns.st_dev, ns.st_ino))
    skipped = []
    counted = 0
    last_test = ""
    try:
        p = subprocess.Popen([sys.executable, test] + sys.argv[2:], env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        # unittest writes its verdict lines to stderr, merged here; passed through as they come
        for raw in p.stdout:
            sys.stdout.buffer.write(raw)
            sys.stdout.buffer.flush()
            line = raw.decode(errors="replace").rstrip("\n")
            t = TEST_LINE.match(line)
            if t:
                last_test = t.group(1)
            m = SKIP_LINE.match(line)
            if m:  # a test with a docstring has its name on the line before
                tn = TEST_LINE.match(m.group(1))
                skipped.append("%s: %s" % (tn.group(1) if tn else last_test or m.group(1), m.group(2)))
            c = SKIP_COUNT.match(line)
            if c:
                counted = int(c.group(1))
        rc = p.wait()
        with open(guard, "rb") as f:
            report = f.read().decode(errors="replace")
    finally:
        os.unlink(guard)

    # unittest's own count (a skip in setUpClass covers the class's tests): trust the larger
    if counted > len(skipped):
        skipped.append("%d more skip(s) without a verdict line (see unittest's output above)"
                       % (counted - len(skipped)))
    if report:
        print("\nNET GUARD: a test node outside a namespace tried to reach beyond loopback "
              "(refused; every such node must use --listen 127.0.0.1 and loopback-only services):")
        print(report, end="")
        rc = rc or 1
    if skipped:
        with open(skips_file, "w") as f:
            f.write("".join(s + "\n" for s in skipped))
        ci = truthy(os.environ.get("CI")) or truthy(os.environ.get("SWARM_NO_SKIPS"))
        print("\nSKIPPED %d test(s) of e2e_%s%s:" % (len(skipped), name,
                                                   " (CI=true: a skip is a failure)" if ci else ""))
        for s in skipped:
            print("  " + s)
        if ci:
            rc = rc or 1
    return 1 if rc < 0 else rc


if __name__ == "__main__":
    sys.exit(main())
