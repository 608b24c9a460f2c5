"""Hostile Lua through sys.eval and the eval port: C code the script drives must stay inside
the instruction budget (limits.lua_instr), evals must not change what later evals and apps see,
and a loop that never returns to the event loop is ended by the watchdog thread (wdt.loop).
Each attack froze or changed the node for good before its fix (issue 10, items 1 and "Smaller")."""
import socket
import time
import unittest

from hostile import RemoteError, cfg_node, swarmtest

BUDGET = 10 ** 7  # a small budget keeps the runs short; the attacks need far more

# Each of these ran inside one C call (or C loop) for hours or for ever.
ATTACKS = {
    "pattern backtracking": "return string.find(string.rep('a', 40), string.rep('a*', 40) .. 'b')",
    "gmatch backtracking": "for x in string.gmatch(string.rep('a', 40), string.rep('a*', 40) .. 'b') do end",
    "gsub backtracking": "return string.gsub(string.rep('a', 40), string.rep('a*', 40) .. 'b', '')",
    "table.move range": "table.move({}, 1, 1e15, 2)",
    "table.insert with a lying __len":
        "table.insert(setmetatable({}, {__len = function() return 2^53 end}), 1, 1)",
    "table.remove with a lying __len":
        "table.remove(setmetatable({}, {__len = function() return 2^53 end}), 1)",
    "table.concat over a C __index":
        "return table.concat(setmetatable({}, {__index = table.concat}), '', 1, 1e15)",
    "table.sort with a lying comparator":
        "table.sort(setmetatable({}, {__len = function() return 2^30 end, __index = rawlen}), rawequal)",
    "full collections in a loop": "local t = {} for i = 1, 1e5 do t[i] = {} end while true do collectgarbage() end",
    "long scans in a loop": "local s = string.rep('a', 1e6) while true do utf8.len(s) end",
    "pcall swallowing the budget in C":
        "table.sort({3, 2, 1}, function(a, b) while true do pcall(function() while true do end end) end end)",
    "copies in a loop": "local s = string.rep('a', 1e6) while true do local t = s .. 'b' end",
}


class LuaBudget(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.eval_port = swarmtest.free_port()
        cls.node = cfg_node({"limits": {"lua_instr": BUDGET},
                             "boot": {"REMOTE_EVAL_ENABLE": True, "REMOTE_EVAL_PORT": cls.eval_port}})
        cls.node.start()
        cls.c = cls.node.client(timeout=120)

    @classmethod
    def tearDownClass(cls):
        cls.c.close()
        cls.node.stop()

    def test_attacks_end_with_the_budget(self):
        for name, code in ATTACKS.items():
            with self.subTest(name):
                with self.assertRaises(RemoteError) as e:
                    self.c.call("sys.eval", {"code": code})
                # the memory cap may end one first: either way the node answers at once
                self.assertRegex(e.exception.args[0], "instruction limit exceeded|not enough memory")
                self.assertEqual(self.c.call("ping", {"m": name}), "R:" + name)

    def test_eval_port(self):
        before = self.node.read_log().count("instruction limit exceeded")
        with socket.create_connection(("127.0.0.1", self.eval_port)) as s:
            s.sendall(ATTACKS["pattern backtracking"].encode())
            s.shutdown(socket.SHUT_WR)
            self.assertEqual(s.recv(10), b"")  # the node closes without a reply, then runs it
        self.node.wait_log("remote eval from", timeout=30)
        deadline_log = lambda: self.node.read_log().count("instruction limit exceeded") > before  # noqa: E731
        for _ in range(600):
            if deadline_log():
                break
            self.c.call("ping")  # answered all along: the loop is not stuck
        self.assertTrue(deadline_log(), self.node.read_log()[-3000:])

    def test_library_still_matches(self):
        cases = {
            "return ('hello world'):find('o w')": 5,
            "return select(2, ('hello world'):find('o w'))": 7,
            "return ('key = value'):match('^(%w+)%s*=%s*(%w+)$')": "key",
            "return (string.gsub('hello world', '(%w+)', '<%1>'))": "<hello> <world>",
            "return (('abc'):gsub('', '-'))": "-a-b-c-",
            "return ('f(a(b)c)'):match('%b()')": "(a(b)c)",
            "return (('THE (quick) fox'):gsub('%f[%a]%a+', 'W'))": "W (W) W",
            "local t = {} for k, v in ('a=1, b=2'):gmatch('(%w+)=(%w+)') do t[#t + 1] = k .. v end "
            "return table.concat(t, ',')": "a1,b2",
            "return ('x.y'):find('.', 1, true)": 2,
            "return ('  pad  '):match('^%s*(.-)%s*$')": "pad",
            "return ('abab'):match('(ab)%1')": "ab",
            "return ('hello'):match('()ll()')": 3,
            "local t = {5, 3, 1, 4, 2} table.sort(t) return table.concat(t)": "12345",
            "local t = {5, 3, 1, 4, 2} table.sort(t, function(a, b) return a > b end) return table.concat(t)": "54321",
            "local t = {1, 2, 3} table.insert(t, 1, 0) table.insert(t, 9) return table.concat(t, ',')": "0,1,2,3,9",
            "local t = {1, 2, 3} return table.remove(t, 1) + table.remove(t) * 10": 31,
            "return table.concat({1, 2, 3}, '-', 2)": "2-3",
            "return select('#', table.unpack({1, 2, 3}))": 3,
        }
        for code, want in cases.items():
            with self.subTest(code):
                self.assertEqual(self.c.call("sys.eval", {"code": code})[0], want)
        with self.assertRaises(RemoteError) as e:
            self.c.call("sys.eval", {"code": "return ('x'):find('[a')"})
        self.assertIn("malformed pattern", e.exception.args[0])

    def test_evals_cannot_change_the_shared_libraries(self):
        refused = ["string.rep = nil", "getmetatable('').__index = {}", "rawset(string, 'rep', 1)",
                   "_G.string = nil", "swarm.call = nil", "table.insert = nil",
                   "getmetatable(_ENV).__index = {}"]
        for code in refused:
            with self.subTest(code):
                with self.assertRaises(RemoteError):
                    self.c.call("sys.eval", {"code": code})
        # what an eval defines (even through load) is gone for the next one
        for code in ["swarm = nil", "string = nil", "x = 5", "load('string = nil')()"]:
            self.c.call("sys.eval", {"code": code})
        self.assertEqual(self.c.call("sys.eval", {"code": "return ('ab'):rep(2) .. swarm.host .. tostring(x)"})[0],
                         "abab" + self.node.name + "nil")
        self.assertEqual(self.c.call("sys.eval", {"code": "return string.rep('c', 2)"})[0], "cc")

    def test_load_mode(self):
        # a text chunk under mode "b" is refused, as the manual says
        msg = self.c.call("sys.eval", {"code": "local f, m = load('return 1', 'x', 'b') return tostring(f) .. m"})[0]
        self.assertIn("nilattempt to load a text chunk", msg)
        self.assertEqual(self.c.call("sys.eval", {"code": "return load('return 1', 'x', 'bt')()"})[0], 1)
        self.assertEqual(self.c.call("sys.eval", {"code": "return load(string.dump(load('return 1')))"})[0], None)


class TimeBackstop(unittest.TestCase):
    def test_long_string_comparisons(self):
        # one VM instruction compares 2 MB: neither instructions nor charges see the work, the
        # run's time limit (limits.lua_ms) ends it
        node = cfg_node({"limits": {"lua_instr": 10 ** 17, "lua_ms": 1000}})
        self.addCleanup(node.stop)
        node.start()
        with node.client(timeout=120) as c:
            for op in ("<", "=="):
                with self.subTest(op):
                    with self.assertRaises(RemoteError) as e:
                        c.call("sys.eval", {"code": "local a, b = string.rep('a', 2e6), string.rep('a', 2e6) "
                                                    "while true do local _ = a %s b end" % op})
                    self.assertIn("time limit exceeded", e.exception.args[0])
            self.assertEqual(c.call("ping", {"m": "ok"}), "R:ok")


class LoopWatchdog(unittest.TestCase):
    def test_stuck_loop_restarts_the_node(self):
        # no instruction budget to speak of: only the watchdog thread can end this
        node = cfg_node({"limits": {"lua_instr": 10 ** 17}, "wdt": {"loop": 5}})
        self.addCleanup(node.stop)
        node.start()
        c = node.client()
        self.addCleanup(c.close)
        pid = node.proc.pid
        c.request("sys.eval", {"code": "while true do end"})
        node.wait_log("watchdog: the event loop has not checked in", timeout=120)
        # the same process, re-executed, starts again (its old listener died with the old image)
        node.wait_log("ready\n", timeout=5)
        for _ in range(3000):
            if node.read_log().count("starting: host") == 2 and node.read_log().count("ready\n") == 2:
                break
            self.assertIsNone(node.proc.poll(), node.read_log()[-3000:])
            time.sleep(0.02)
        self.assertEqual(node.read_log().count("ready\n"), 2, node.read_log()[-3000:])
        self.assertEqual(node.proc.pid, pid)
        with node.client() as c2:
            self.assertEqual(c2.call("ping", {"m": "back"}), "R:back")


if __name__ == "__main__":
    unittest.main()
