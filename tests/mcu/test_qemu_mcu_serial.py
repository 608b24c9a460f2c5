"""The mcu-serial image (build/fw/swarm-node-mps2-serial.elf: kernel, serial link, RPC, config,
watchdog; no files, Lua or network) in QEMU: ping over its UART in both link modes, and sys.info
(lossless) reports the profile and where its flash and RAM went (printed for bench/RESULTS.md).
Its budget (issue 13) is 48 KB of flash and 12 KB of RAM counted as static + the stack reserved
(not only its measured peak) + heap peak: both asserted for a lossless link after ping, sys.cfg
and sys.info; over a lossy link (where sys.info does not fit one Reliable payload) from sys.mem's
free heap, after ping and sys.cfg."""
import json
import os
import unittest

import qemu

FLASH_BUDGET = 48 * 1024
RAM_BUDGET = 12 * 1024


class McuSerial(unittest.TestCase):
    def setUp(self):
        if not os.path.exists(qemu.FIRMWARE_SERIAL):
            msg = "missing " + qemu.FIRMWARE_SERIAL + " (make firmware)"
            if os.environ.get("CI") == "true":
                self.fail(msg)
            self.skipTest(msg)

    def check(self, lossy):
        mode = "lossy" if lossy else "lossless"
        with qemu.Guest("serial=" + mode, firmware=qemu.FIRMWARE_SERIAL) as g:
            g.wait_line(r"link uart0: open \(%s\)" % ("lossy" if lossy else "stream"))
            rc, out, err = qemu.swarm("call", "--json", g.link(lossy), "ping", "m=small-" + mode)
            self.assertEqual(rc, 0, err + "\n".join(g.out[-10:]))
            self.assertEqual(json.loads(out), "R:small-" + mode)
            self.assertNotRegex("\n".join(g.out), r"(?m) I (beacon|mdns|rpc):")  # no network parts
            rc, out, err = qemu.swarm("call", "--json", g.link(lossy), "sys.cfg")
            self.assertEqual(rc, 0, err)
            rc, out, err = qemu.swarm("call", "--json", g.link(lossy), "sys.mem")
            self.assertEqual(rc, 0, err)
            mem = json.loads(out)
            # f is the heap still free, and the heap is what the 16 KB link leaves after static
            # data and the reserved stack: 16384 - f = static + stack reserved + heap in use
            print("mcu-serial %s: sys.mem used %d B (static + stack peak + heap %d B now); "
                  "static + stack reserved + heap = %d B" % (mode, mem["used"], mem["heap"], 16384 - mem["f"]))
            self.assertLessEqual(16384 - mem["f"], RAM_BUDGET)
            return g

    def test_ping_lossy(self):
        self.check(True)

    def test_watchdog(self):
        # the CMSDK watchdog is part of this image: a loop that stops (boot argument hang=) is
        # reset after wdt/2, and the image boots again
        with qemu.Guest("serial=lossy wdt=2000 hang=1500", firmware=qemu.FIRMWARE_SERIAL) as g:
            g.wait_line(r"link uart0: open")
            i = g.wait_line_index(r"^hang: loop stopped")
            j = g.wait_line_index(r"^watchdog: the main loop stopped; reset follows", start=i)
            g.wait_line(r"swarm-node 0\.1\.0 starting", start=j)

    def test_ping_lossless_and_info(self):
        with qemu.Guest("serial=lossless", firmware=qemu.FIRMWARE_SERIAL) as g:
            g.wait_line(r"link uart0: open \(stream\)")
            rc, out, err = qemu.swarm("call", "--json", g.link(False), "ping", "m=small")
            self.assertEqual((rc, out.strip()), (0, '"R:small"'), err)
            rc, out, err = qemu.swarm("call", "--json", g.link(False), "sys.cfg")
            self.assertEqual(rc, 0, err)
            self.assertIn("serial", out)  # the config tree's top keys
            rc, out, err = qemu.swarm("call", "--json", g.link(False), "sys.info")
            self.assertEqual(rc, 0, err)
            hw = json.loads(out)["hw"]
            self.assertEqual(hw["profile"], "mcu-serial")
            ram = hw["ram"]
            self.assertEqual(ram["size"], 16384)
            self.assertNotIn("pools", ram)  # no Lua in this image: one pool
            total = ram["static"] + ram["stack_size"] + ram["heap_peak"]
            print("mcu-serial: flash %d B; RAM: static %d + stack %d reserved (peak %d) + heap peak %d = %d B"
                  % (hw["flash"]["used"], ram["static"], ram["stack_size"], ram["stack_peak"], ram["heap_peak"],
                     total))
            self.assertLessEqual(hw["flash"]["used"], FLASH_BUDGET)
            self.assertLess(ram["stack_peak"], ram["stack_size"])  # the reserve held
            self.assertLessEqual(total, RAM_BUDGET)


if __name__ == "__main__":
    qemu.require()
    unittest.main()
