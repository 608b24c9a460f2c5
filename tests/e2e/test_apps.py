"""Lua apps in a real swarm-node: start order (every init_* before the first routine_*),
swarm.sleep never blocking RPC, app commands (plain, waiting, streams), swarm.call, value
conversion both ways, failure policies (restart with back-off, reset and its cancellation),
broken and endless apps, sys.eval, sys.load after an edit, proxies and sys.unproxy.

Each test starts its own node on a temporary root holding the apps it needs; the root, the
process and its log are removed even when the test fails."""
import os
import random
import re
import shutil
import tempfile
import time
import unittest

from swarmtest import NODATA, SRC, Node, Proxy, RemoteError, pack

# A test app exercising the API surface; the examples (apps/blink, apps/counter) are copied in
# from the source tree too.
T_APP = r'''
local M = {}
local ticks = 0
local log = {}

function M.init_a()
  swarm.sleep(200)
  swarm.log("init_a done")
end

function M.init_b()
  swarm.sleep(50)
  swarm.log("init_b done")
end

function M.routine_main()
  swarm.log("routine_main first line")
  while true do
    ticks = ticks + 1
    swarm.sleep(100)
  end
end

swarm.command("echo", function(args) return args end, "returns its argument")
swarm.command("ticks", function() return ticks end)
swarm.command("later", function(args)
  swarm.sleep(args.ms)
  return "slept " .. args.ms
end)
swarm.command("fail", function(args) error(args.msg or "failed on purpose", 0) end)
local steps = 0
swarm.command("steps", function(args)
  steps = steps + 1
  if steps > args.n then
    steps = 0
    return swarm.END
  end
  return steps
end)
swarm.command("sleepy_stream", function() swarm.sleep(10) return 1 end)
swarm.command("ping_via_call", function(args)
  return swarm.call("ping", { m = args.m })
end)
swarm.command("call_error", function()
  local ok, err = pcall(swarm.call, "no.such.command")
  return { ok = ok, err = err }
end)
swarm.command("make_fn", function(args)
  local k = args.k
  return function(x) return x * k end
end)
swarm.command("apply", function(args)
  if type(args.f) ~= "function" then return "not a function: " .. type(args.f) end
  return args.f(args.x)
end)
swarm.command("is_none", function(args) return args.v == swarm.NONE end)
swarm.command("binary", function() return "\255\0\1" end)
swarm.command("cyclic", function()
  local t = { name = "loop" }
  t.self = t
  return t
end)
swarm.command("config", function(args) return swarm.config(args.p) end)
swarm.command("info", function()
  return { app = swarm.app, host = swarm.host, now = swarm.now() }
end)
swarm.command("version", function() return 1 end)

return M
'''

FAILING_APP = r'''
local runs = 0
function routine_fail()
  runs = runs + 1
  swarm.log("fail run " .. runs)
  swarm.sleep(50)
  error("boom " .. runs)
end
function routine_steady()
  while true do swarm.sleep(1000) end
end
swarm.command("runs", function() return runs end)
'''

LOOP_APP = r'''
function routine_spin()
  swarm.log("spin starts")
  -- an endless loop that even catches errors: only the instruction budget stops it
  while true do pcall(function() while true do end end) end
end
function routine_alive()
  while true do swarm.sleep(200) end
end
swarm.command("alive", function() return true end)
'''

BROKEN_APP = "function routine_x(\n  -- a syntax error\n"


def write(root, rel, text):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


class AppNode(unittest.TestCase):
    """A node with the test apps on a fresh root. APP names the app it starts; CFG is merged
    into the config file before boot."""

    APP = "t"
    CFG = {}

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="swarm-apps-")
        self.addCleanup(shutil.rmtree, self.root, True)
        for name in ("blink", "counter"):
            shutil.copytree(os.path.join(SRC, "apps", name), os.path.join(self.root, "apps", name))
        write(self.root, "apps/t/main.lua", T_APP)
        write(self.root, "apps/failing/main.lua", FAILING_APP)
        write(self.root, "apps/loop/main.lua", LOOP_APP)
        write(self.root, "apps/broken/main.lua", BROKEN_APP)
        if self.CFG:
            with open(os.path.join(self.root, "swarm.cfg"), "wb") as f:
                f.write(pack(self.CFG))
        self.node = Node(root=self.root, app=self.APP)
        self.addCleanup(self.node.stop)
        self.node.start()
        self.c = self.node.client()
        self.addCleanup(self.c.close)

    def log(self):
        return self.node.read_log()

    def wait_for(self, fn, timeout=10.0, what="condition"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            v = fn()
            if v:
                return v
            time.sleep(0.05)
        self.fail("timed out waiting for %s; log:\n%s" % (what, self.log()[-3000:]))

    def eval(self, code):
        return self.c.call("sys.eval", {"code": code})


class StartOrder(AppNode):
    APP = "counter"

    def test_inits_run_concurrently_and_finish_before_routines(self):
        self.node.wait_log("counting from")
        log = self.log()
        a = log.index("init_config done")
        b = log.index("init_slow done")
        r = log.index("counting from")
        self.assertLess(a, b)  # 300 ms before 800 ms
        self.assertLess(b, r)  # every init_* before the first routine_ line
        self.assertLess(log.index("all init_* finished"), r)
        # concurrent, not sequential: ready after ~800 ms, not 300 + 800
        ready = int(re.search(r"ready at (\d+) ms", log).group(1))
        self.assertGreaterEqual(ready, 750)
        self.assertLess(ready, 1050 + 500)  # generous for slow machines, still < the sum + slack

    def test_counter_commands(self):
        self.node.wait_log("counting from")
        n0 = self.c.call("counter.get")
        self.assertEqual(self.c.call("counter.add", {"n": 10}), n0 + 10)
        self.assertEqual(self.c.call("counter.later", {"ms": 100})["waited"], 100)
        d = self.c.call("counter._dir")
        self.assertEqual(sorted(d["c"]), ["add", "get", "later"])
        self.assertIn("count", d["h"]["get"])


class Blink(AppNode):
    APP = "blink"

    def test_blinks_reports_and_status(self):
        self.node.wait_log("init: temperature")
        self.node.wait_log("LED off")
        log = self.log()
        self.assertLess(log.index("init: temperature"), log.index("LED on"))
        time.sleep(1.2)
        st = self.c.call("blink.status")
        self.assertIsInstance(st["temp"], float)
        self.assertTrue(15.0 < st["temp"] < 30.0)
        self.assertGreaterEqual(st["blinks"], 2)
        self.assertIsInstance(st["led"], bool)
        self.assertIn("temperature", log)
        self.assertIsInstance(self.c.call("board.led"), bool)
        info = self.c.call("board.info")
        self.assertEqual(info["name"], "posix-sim")
        self.assertIn("temp", info["sensors"])

    def test_rpc_is_not_blocked_by_sleeping_routines(self):
        """blink toggles the LED (a log line) and then sleeps 500 ms. If a sleep blocked the
        loop, every ping would wait for a sleep to end, so the LED would toggle between any
        two answers; answered by a loop that keeps running, a burst of pings fits between two
        toggles. The order of events, not a time, is the check."""
        self.node.wait_log("LED on")
        toggles = lambda: self.log().count("LED o")
        for attempt in range(20):
            before = toggles()
            for k in range(10):
                self.assertEqual(self.c.call("ping", {"m": k}), "R:%d" % k)
            if toggles() == before:
                return
        self.fail("the LED toggled during every burst of 10 pings: sleeping routines block RPC")


class Commands(AppNode):
    def setUp(self):
        super().setUp()
        self.node.wait_log("routine_main first line")

    def test_order_of_the_test_app(self):
        log = self.log()
        self.assertLess(log.index("init_b done"), log.index("init_a done"))
        self.assertLess(log.index("init_a done"), log.index("routine_main first line"))

    def test_echo_round_trips(self):
        values = [
            True, False, 0, 1, -1, 127, 128, -33, 2**31, -2**31, 2**62, -2**63, 2**63 - 1,
            1.5, -0.25, 1e300, 3.0, "", "text", "ünïcødé ✓", b"\x00\xffbin", [1, 2, 3],
            [[1, [2, [3]]]], {"a": 1, "b": [True, "x"]}, {"nested": {"deep": {"er": 1.0}}},
            {1: "int key", "s": 2}, {-5: "negative key", 2.5: "float key"},
        ]
        for v in values:
            got = self.c.call("t.echo", {"v": v})
            self.assertEqual(got, {"v": v}, v)
            if isinstance(v, float):
                self.assertIsInstance(got["v"], float, v)  # floats stay floats
        # a lone value as d (not a map) reaches the function as that value
        self.assertEqual(self.c.call("t.echo", 42), 42)
        self.assertEqual(self.c.call("t.echo", "s"), "s")
        self.assertEqual(self.c.call("t.echo", [1, 2]), [1, 2])
        # Lua has one table type and no nil in tables: these come back changed, as documented
        self.assertEqual(self.c.call("t.echo", []), {})                 # empty → empty map
        self.assertEqual(self.c.call("t.echo", {"v": None}), {})        # a nil value is no entry
        self.assertEqual(self.c.call("t.echo", [1, None, 3]), {1: 1, 3: 3})  # a hole → a map
        self.assertEqual(self.c.call("t.echo", {"b": b"valid utf-8"}), {"b": "valid utf-8"})

    def test_echo_property(self):
        # random values that Lua represents exactly come back unchanged (fixed seed, pipelined)
        rng = random.Random(20261121)

        def gen(depth):
            k = rng.randrange(9 if depth < 4 else 6)
            if k == 0:
                return rng.choice([True, False])
            if k == 1:
                return rng.randrange(-2**63, 2**63)
            if k == 2:
                return rng.randrange(-300, 300)
            if k == 3:
                return rng.uniform(-1e9, 1e9)
            if k == 4:
                return "".join(rng.choice("az é✓€\u00ff\U0001F600") for _ in range(rng.randrange(10)))
            if k == 5:  # 0xff is never UTF-8: stays bin
                return b"\xff" + bytes(rng.randrange(256) for _ in range(rng.randrange(8)))
            if k == 6:
                return [gen(depth + 1) for _ in range(rng.randrange(1, 5))]
            keys = ["k%d" % rng.randrange(100) for _ in range(rng.randrange(5))]
            keys += [-rng.randrange(1, 50) for _ in range(rng.randrange(2))]
            return {key: gen(depth + 1) for key in keys}

        values = [gen(0) for _ in range(300)]
        seqs = [self.c.request("t.echo", {"v": v}) for v in values]
        for v, s in zip(values, seqs):
            m = self.c.answer(s)
            self.assertEqual(m.get("d"), {"v": v})

    def test_special_values(self):
        self.assertTrue(self.c.call("t.is_none", {"v": NODATA}))
        self.assertEqual(self.c.call("t.echo", {"v": NODATA}), {"v": NODATA})
        self.assertEqual(self.c.call("t.binary"), b"\xff\x00\x01")  # not UTF-8 → bin
        cyc = self.c.call("t.cyclic")
        self.assertEqual(cyc["name"], "loop")
        self.assertIsInstance(cyc["self"], Proxy)  # a cycle becomes a proxy
        # an unknown proxy comes back as itself (a placeholder on the node)
        self.assertEqual(self.c.call("t.echo", {"p": Proxy("zz")}), {"p": Proxy("zz")})
        info = self.c.call("t.info")
        self.assertEqual(info["app"], "t")
        self.assertEqual(info["host"], "t1")
        self.assertGreater(info["now"], 0)
        self.assertEqual(self.c.call("t.config", {"p": "board.host_name"}), "t1")
        self.assertIsNone(self.c.call("t.config", {"p": "no.such.key"}))

    def test_deep_and_large_results(self):
        v = "leaf"
        for _ in range(24):
            v = [v]
        got = self.c.call("t.echo", v)
        depth = 0
        while isinstance(got, list):
            got = got[0]
            depth += 1
        self.assertEqual(depth, 16)              # tables deeper than 16 levels …
        self.assertIsInstance(got, Proxy)        # … travel as a proxy
        with self.assertRaises(RemoteError) as e:
            self.eval("string.rep('x', 20000)")  # more than limits.msg
        self.assertIn("too large", str(e.exception))
        self.assertEqual(len(self.eval("string.rep('x', 5000)")[0]), 5000)

    def test_errors_become_error_replies(self):
        with self.assertRaises(RemoteError) as e:
            self.c.call("t.fail", {"msg": "nope"})
        self.assertEqual(str(e.exception), "nope")
        with self.assertRaises(RemoteError) as e:
            self.c.call("t.fail")
        self.assertIn("failed on purpose", str(e.exception))
        self.assertEqual(self.c.call("ping", {"m": 1}), "R:1")

    def test_waiting_command_does_not_block(self):
        t0 = time.monotonic()
        slow = self.c.request("t.later", {"ms": 400})
        fast = self.c.request("ping", {"m": "quick"})
        m = self.c.read()
        self.assertEqual(m["i"], fast)  # the ping overtakes the sleeping command
        self.assertEqual(m["d"], "R:quick")
        m = self.c.answer(slow)
        self.assertEqual(m["d"], "slept 400")
        self.assertGreaterEqual(time.monotonic() - t0, 0.38)

    def test_many_waiting_commands_at_once(self):
        seqs = [self.c.request("t.later", {"ms": 100 + 10 * k}) for k in range(20)]
        for k, s in enumerate(seqs):
            self.assertEqual(self.c.answer(s)["d"], "slept %d" % (100 + 10 * k))

    def test_swarm_call(self):
        self.assertEqual(self.c.call("t.ping_via_call", {"m": "via"}), "R:via")
        r = self.c.call("t.call_error")
        self.assertFalse(r["ok"])
        self.assertIn("no.such.command", r["err"])

    def test_stream_with_interval_and_cancel(self):
        seq = self.c.request("t.ticks", r=50)
        vals = [self.c.answer(seq) for _ in range(3)]
        self.assertEqual([m["n"] for m in vals], [1, 2, 3])
        self.c.send({"i": seq})
        self.assertEqual(self.c.call("ping", {"m": "after"}), "R:after")

    def test_stream_ended_by_swarm_end(self):
        seq = self.c.request("t.steps", {"n": 3}, r=20)
        got = [self.c.answer(seq) for _ in range(4)]
        self.assertEqual([m.get("d") for m in got[:3]], [1, 2, 3])
        self.assertEqual([m.get("n") for m in got[:3]], [1, 2, 3])
        self.assertEqual(got[3], {"i": seq, "r": False})  # swarm.END: the stream has ended

    def test_waiting_stream_handler_is_an_error(self):
        seq = self.c.request("t.sleepy_stream", r=50)
        m = self.c.answer(seq)
        self.assertIn("must return at once", m["e"])

    def test_proxies_and_unproxy(self):
        f = self.c.call("t.make_fn", {"k": 3})
        self.assertIsInstance(f, Proxy)
        self.assertTrue(f.name.startswith("p_"))
        # the proxy sent back is the same Lua function
        self.assertEqual(self.c.call("t.apply", {"f": f, "x": 5}), 15)
        self.assertIsNone(self.c.call("sys.unproxy", {"p": f}))
        with self.assertRaises(RemoteError):
            self.c.call("sys.unproxy", {"p": f.name})  # already released
        # now unknown: it arrives as a placeholder, not a function
        self.assertIn("not a function", self.c.call("t.apply", {"f": f, "x": 5}))
        with self.assertRaises(RemoteError):
            self.c.call("sys.unproxy", {"p": "_RemErr"})  # well-known names stay
        with self.assertRaises(RemoteError):
            self.c.call("sys.unproxy", {"p": NODATA})

    def test_proxy_table_is_bounded(self):
        names = set()
        with self.assertRaises(RemoteError) as e:
            for k in range(200):
                names.add(self.c.call("t.make_fn", {"k": k}).name)
        self.assertIn("too many proxies", str(e.exception))
        self.assertEqual(len(names), 64)  # limits.proxies default
        for n in names:
            self.assertIsNone(self.c.call("sys.unproxy", {"p": n}))
        self.assertIsInstance(self.c.call("t.make_fn", {"k": 1}), Proxy)

    def test_sys_eval(self):
        self.assertEqual(self.eval("1 + 1"), [2, "2"])
        self.assertEqual(self.eval("return 'a' .. 'b'"), ["ab", '"ab"'])
        v, r = self.eval("{1, 2, x = 'y'}")
        self.assertEqual(v, {1: 1, 2: 2, "x": "y"})
        self.assertEqual(r, '{1, 2, x="y"}')
        self.assertEqual(self.eval("'\\255'")[0], b"\xff")
        self.assertEqual(self.eval("ticks")[0], None)  # a local of the app is not a global
        self.eval("shared = 41")
        self.assertEqual(self.eval("shared + 1")[0], 42)  # eval runs in the app's environment
        self.assertEqual(self.eval("swarm.app")[0], "t")
        v, r = self.eval("function() end")
        self.assertIsInstance(v, Proxy)
        self.assertTrue(r.startswith("function: "))
        with self.assertRaises(RemoteError) as e:
            self.eval("error('bad')")
        self.assertIn("bad", str(e.exception))
        with self.assertRaises(RemoteError) as e:
            self.eval("this is not lua")
        self.assertIn("syntax error", str(e.exception))
        # waiting code answers later
        t0 = time.monotonic()
        self.assertEqual(self.eval("swarm.sleep(200) return swarm.call('t.ticks') > 0")[0], True)
        self.assertGreaterEqual(time.monotonic() - t0, 0.18)
        # v0 form: the code as the whole d, and as "val"
        self.assertEqual(self.c.call("sys.eval", "2 * 21")[0], 42)
        self.assertEqual(self.c.call("sys.eval", {"val": "7"})[0], 7)

    def test_sandbox(self):
        for name in ("io", "os", "package", "dofile", "loadfile"):
            self.assertIsNone(self.eval(name)[0], name)
        self.assertEqual(self.eval("type(debug.traceback)")[0], "function")
        self.assertIsNone(self.eval("debug.getinfo")[0])
        with self.assertRaises(RemoteError) as e:
            self.eval("load(string.dump(function() end))()")
        with self.assertRaises(RemoteError) as e:
            self.eval("setmetatable({}, {__gc = print})")
        self.assertIn("__gc", str(e.exception))
        with self.assertRaises(RemoteError) as e:
            self.eval("require('../../swarm')")
        self.assertIn("bad module name", str(e.exception))

    def test_require_inside_the_app(self):
        write(self.root, "apps/t/lib/util.lua", "local M = {}\nfunction M.twice(x) return 2 * x end\nreturn M\n")
        self.assertEqual(self.eval("require('lib.util').twice(21)")[0], 42)
        self.assertTrue(self.eval("require('lib.util') == require('lib.util')")[0])
        with self.assertRaises(RemoteError) as e:
            self.eval("require('nosuch')")
        self.assertIn("not found", str(e.exception))

    def test_memory_cap(self):
        with self.assertRaises(RemoteError) as e:
            self.eval("local t = {} for i = 1, 1e8 do t[i] = i end")
        self.assertIn("not enough memory", str(e.exception))
        self.assertEqual(self.eval("1")[0], 1)
        self.assertEqual(self.c.call("t.ticks") > 0, True)

    def test_sys_load_after_an_edit(self):
        self.assertEqual(self.c.call("t.version"), 1)
        self.assertFalse(self.c.call("sys.load", {"n": "t"}))  # runs already, r not set
        write(self.root, "apps/t/main.lua", T_APP.replace("return 1 end", "return 2 end"))
        self.assertTrue(self.c.call("sys.load", {"n": "t", "r": True}))
        self.assertEqual(self.c.call("t.version"), 2)
        self.node.wait_log("t: stopped")
        # another app: the old commands go, the new ones come
        self.assertTrue(self.c.call("sys.load", {"n": "counter"}))
        with self.assertRaises(RemoteError):
            self.c.call("t.version")
        self.wait_for(lambda: "counting from" in self.log(), what="counter routines")
        self.assertIsInstance(self.c.call("counter.get"), int)
        with self.assertRaises(RemoteError) as e:
            self.c.call("sys.load", {"n": "nosuch"})
        self.assertIn("main.lua", str(e.exception))

    def test_requester_gone_before_the_answer(self):
        # A waiting command whose client disconnects must not answer into freed memory, nor
        # into a new connection that happens to reuse the old one's slot and seq numbers.
        for _ in range(3):
            c1 = self.node.client()
            c1.request("t.later", {"ms": 300})
            c1.close()
            time.sleep(0.05)
            c2 = self.node.client()
            try:
                seq = c2.request("t.later", {"ms": 700})  # the same seq as c1's request
                m = c2.answer(seq, timeout=5)
                self.assertEqual(m["d"], "slept 700")
                self.assertEqual(c2.call("ping", {"m": "x"}), "R:x")
            finally:
                c2.close()
        self.assertEqual(self.c.call("ping", {"m": "alive"}), "R:alive")

    def test_reloads_under_load(self):
        # reloads while waiting commands, evals and streams are in flight: every request gets
        # an answer (its value, or "cancelled"), streams of the old app end, the node lives on
        rng = random.Random(7)
        streams = [self.c.request("t.ticks", r=30) for _ in range(3)]
        for round_ in range(6):
            seqs = [self.c.request("t.later", {"ms": rng.randrange(0, 200)}) for _ in range(10)]
            seqs += [self.c.request("sys.eval", {"code": "swarm.sleep(%d) return 1" % rng.randrange(0, 200)})
                     for _ in range(3)]
            time.sleep(rng.random() * 0.1)
            self.assertTrue(self.c.call("sys.load", {"n": "t", "r": True}))
            for s in seqs:
                m = self.c.answer(s, timeout=5)
                self.assertTrue(m.get("d") is not None or "cancelled" in m.get("e", ""), m)
        for s in streams:
            self.c.send({"i": s})
        self.c.backlog.clear()
        self.assertEqual(self.c.call("ping", {"m": "ok"}), "R:ok")
        self.node.wait_log("routine_main first line")
        self.assertIsInstance(self.c.call("t.ticks"), int)

    def test_stop_cancels_waiting_commands(self):
        seq = self.c.request("t.later", {"ms": 5000})
        time.sleep(0.1)
        self.assertTrue(self.c.call("sys.load", {"n": "t", "r": True}))
        m = self.c.answer(seq, timeout=3)
        self.assertIn("cancelled", m["e"])


class RestartBackoff(AppNode):
    APP = "failing"

    def test_failing_routine_restarts_with_backoff(self):
        self.node.wait_log("restarting in 2 s", timeout=10)
        log = self.log()
        self.assertIn("routine_fail failed", log)
        self.assertIn("boom 1", log)
        self.assertIn("stack traceback", log)
        self.assertLess(log.index("restarting in 1 s"), log.index("restarting in 2 s"))
        # the back-off is real: runs 1 and 2 are ~1 s apart, 2 and 3 ~2 s
        self.assertEqual(self.c.call("failing.runs"), 2)
        self.assertEqual(self.c.call("ping", {"m": "x"}), "R:x")


class ResetPolicy(AppNode):
    APP = "failing"
    CFG = {"app": {"on_error": "reset", "reset_delay_ms": 1500}}

    def test_reset_is_announced_and_stopping_cancels_it(self):
        self.node.wait_log("resetting in 2 s")
        # the app's tasks are cancelled: no more runs
        self.assertIn("NoPath", self._err(lambda: self.c.call("failing.runs")))
        self.assertTrue(self.c.call("sys.load", {"n": "counter"}))
        self.node.wait_log("pending reset is cancelled")
        time.sleep(2.0)
        self.assertNotIn("reset: app error", self.log())
        self.assertEqual(self.c.call("ping", {"m": 1}), "R:1")

    def test_reset_happens(self):
        self.node.wait_log("reset: app error", timeout=6)

    def _err(self, fn):
        try:
            fn()
        except RemoteError as e:
            return str(e)
        return ""


class BrokenApp(AppNode):
    APP = "broken"

    def test_broken_main_leaves_the_node_working(self):
        self.node.wait_log("cannot load main.lua")
        self.assertIn("broken/main.lua:", self.log())
        self.assertEqual(self.c.call("ping", {"m": "ok"}), "R:ok")
        self.assertEqual(self.c.call("sys.info")["host_name"], "t1")
        self.assertEqual(self.eval("1 + 2")[0], 3)
        with self.assertRaises(RemoteError) as e:
            self.c.call("sys.load", {"n": "broken", "r": True})
        self.assertIn("expected", str(e.exception))
        write(self.root, "apps/broken/main.lua", 'swarm.command("fixed", function() return "yes" end)\n')
        self.assertTrue(self.c.call("sys.load", {"n": "broken", "r": True}))
        self.assertEqual(self.c.call("broken.fixed"), "yes")


class EndlessLoop(AppNode):
    APP = "loop"
    CFG = {"limits": {"lua_instr": 5000000}}

    def test_endless_loop_is_aborted(self):
        self.node.wait_log("instruction limit exceeded")
        self.assertIn("routine_spin failed", self.log())
        self.assertIn("routine_spin restarting in 1 s", self.log())
        self.assertTrue(self.c.call("loop.alive"))
        self.assertEqual(self.c.call("ping", {"m": 1}), "R:1")
        with self.assertRaises(RemoteError) as e:
            self.eval("while true do end")
        self.assertIn("instruction limit", str(e.exception))
        with self.assertRaises(RemoteError):
            self.eval("coroutine.wrap(function() while true do end end)()")
        self.assertEqual(self.eval("2")[0], 2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
