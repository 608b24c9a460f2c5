"""Soak: calls, streams and pushes against one QEMU node (the firmware, over its UART through a
`swarm mux`, files on flash) for SW_SOAK_SECONDS (default 60; bench/RESULTS.md records a 600 s run), with the heap
and stack high-water marks read from sys.info (hw.ram) after every round.

Asserted flat after a warm-up (the first third of the rounds, at least two pushes each way):
- the heap in use between rounds does not keep rising (a leak would),
- the heap's peak, each pool's peak and the stack's high-water mark reached by the end are the
  ones reached after the warm-up (within SLACK bytes: the same work can land in differently
  sized blocks, e.g. a Lua table that grows at another moment).
The figures are printed (one line per round and a summary) for bench/RESULTS.md.
"""
import json
import os
import subprocess
import tempfile
import time
import unittest

import qemu
from test_qemu_push import version, write_project

SECONDS = float(os.environ.get("SW_SOAK_SECONDS", "60"))
SLACK = 512  # bytes


class Soak(unittest.TestCase):
    def test_soak(self):
        with tempfile.TemporaryDirectory() as d:
            img = os.path.join(d, "flash.img")
            proj = os.path.join(d, "proj")
            sock = os.path.join(d, "mux.sock")
            g = qemu.Guest("serial=lossless net=off flash=" + img).start()
            mux = None
            try:
                g.wait_line(r" I ready$")
                # one host process owns the UART for the whole soak (swarm mux): short-lived
                # processes opening the pty one after another may read what the node sent to
                # the one before (a stream value after its cancel), which is not the node's doing
                mux = subprocess.Popen([qemu.SWARM_BIN, "mux", "--link", g.link(False), "--socket", sock],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                for _ in range(300):  # until the mux serves its socket (at most ~30 s)
                    if os.path.exists(sock) or mux.poll() is not None:
                        break
                    time.sleep(0.1)
                self.assertTrue(os.path.exists(sock), "swarm mux did not start")
                self.run_soak(g, "unix://" + sock, proj)
            finally:
                if mux:
                    mux.terminate()  # by PID: the mux this test started
                    mux.wait(timeout=10)
                g.stop()

    def run_soak(self, g, link, proj):
        def sw(*args, expect=0):
            rc, out, err = qemu.swarm(*args, timeout=120)
            self.assertEqual(rc, expect, "swarm %s: %s%s\nguest:\n%s" %
                             (" ".join(args), out, err, "\n".join(g.out[-20:])))
            return out

        def push(v, app=False):
            write_project(proj, version(v))
            out = sw("push", "--json", proj, "--link", link, *(["--app", "demo"] if app else []))
            return json.loads(out)["devices"][0]

        self.assertEqual(push(1, app=True)["result"], "ok")
        rows = []
        pushes = 0
        end = time.monotonic() + SECONDS  # how long to go on, not an assertion
        r = 0
        while time.monotonic() < end or r < 6:
            r += 1
            self.assertEqual(json.loads(sw("call", "--json", link, "ping", "m=soak%d" % r)), "R:soak%d" % r)
            v = json.loads(sw("call", "--json", link, "demo.v"))
            self.assertIn(v, (1, 2))
            # a stream: five values, then cancelled by the host
            lines = sw("call", "--json", "--every", "100ms", "--count", "5", link, "sys.mem").splitlines()
            self.assertEqual(len(lines), 5, lines)
            if r % 2 == 0:  # an incremental push, alternating between two versions
                target = 2 if pushes % 2 == 0 else 1  # version 1 is there at the start
                d = push(target)
                pushes += 1
                self.assertEqual(d["result"], "ok", d)
                self.assertEqual(json.loads(sw("call", "--json", link, "demo.v")), target)
            ram = json.loads(sw("call", "--json", link, "sys.info"))["hw"]["ram"]
            rows.append(ram)
            print("round %d: heap used %d peak %d, node %s lua %s, stack peak %d" %
                  (r, ram["heap_used"], ram["heap_peak"], ram["pools"]["node"], ram["pools"]["lua"],
                   ram["stack_peak"]), flush=True)
        warm = max(len(rows) // 3, 4)
        self.assertGreater(len(rows), warm + 1, "too few rounds for a soak")
        w, last = rows[warm - 1], rows[-1]
        used_mid = max(x["heap_used"] for x in rows[warm:2 * len(rows) // 3 + 1])
        used_end = max(x["heap_used"] for x in rows[2 * len(rows) // 3:])
        print("soak: %d rounds, %d pushes in %.0f s; after warm-up (round %d) -> end: heap peak %d -> %d, "
              "node pool peak %d -> %d, lua pool peak %d -> %d, stack peak %d -> %d; heap in use "
              "(max, middle third -> last third) %d -> %d" %
              (len(rows), pushes, SECONDS, warm, w["heap_peak"], last["heap_peak"],
               w["pools"]["node"][1], last["pools"]["node"][1], w["pools"]["lua"][1],
               last["pools"]["lua"][1], w["stack_peak"], last["stack_peak"], used_mid, used_end), flush=True)
        self.assertLessEqual(used_end, used_mid + SLACK, "the heap in use keeps rising")
        self.assertLessEqual(last["heap_peak"], w["heap_peak"] + SLACK, "the heap's peak keeps rising")
        for p in ("node", "lua"):
            self.assertLessEqual(last["pools"][p][1], w["pools"][p][1] + SLACK, "the %s pool's peak keeps rising" % p)
        self.assertLessEqual(last["stack_peak"], w["stack_peak"] + SLACK, "the stack's high-water mark keeps rising")
        self.assertLess(last["stack_peak"], last["stack_size"])
        self.assertLessEqual(last["heap_peak"], last["heap_size"])


if __name__ == "__main__":
    qemu.require()
    unittest.main()
