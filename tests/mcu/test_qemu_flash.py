"""Files on flash: the firmware mounts flashfs (src/flashfs) on a host file through semihosting
(boot argument flash=PATH), formatting it when new. A config value set with `swarm cfg` (sys.cfg)
and a file put with `swarm fs put` are there again after QEMU is killed and started on the same
file; a guest without flash= still refuses to store a file. Over TCP, in a namespace the test
creates (the serial link of a loaded machine loses requests now and then: PORTING.md, status)."""
import json
import os
import tempfile
import unittest

import qemu

MAC = "52:54:00:5a:00:21"


class Flash(unittest.TestCase):
    def test_config_and_files_survive_a_restart(self):
        with tempfile.TemporaryDirectory() as d, qemu.NetLab() as lab:
            img = os.path.join(d, "flash.img")
            local = os.path.join(d, "data.bin")
            payload = bytes((i * 7 + 3) & 255 for i in range(5000))  # more than one flash block
            with open(local, "wb") as f:
                f.write(payload)
            args = "serial=lossy flash=" + img
            g = lab.guest(MAC, args)
            g.wait_line(r"^flash .*: formatted$")
            link = "tcp://" + g.address()
            rc, out, err = lab.swarm("cfg", link, "set", "test.kept", "42")
            self.assertEqual(rc, 0, err)
            rc, out, err = lab.swarm("fs", link, "mkdir", "data")
            self.assertEqual(rc, 0, err)
            rc, out, err = lab.swarm("fs", link, "put", local, "data/x.bin")
            self.assertEqual(rc, 0, err + "\nguest output:\n" + "\n".join(g.out[-15:]))
            g.stop()  # killed (no orderly stop): only what flashfs committed is in the file
            self.assertEqual(os.path.getsize(img), 256 * 4096)

            g = lab.guest(MAC, args)
            g.wait_line(r"^flash .*: mounted$")
            link = "tcp://" + g.address()
            rc, out, err = lab.swarm("cfg", "--json", link, "get", "test.kept")
            self.assertEqual(rc, 0, err)
            self.assertEqual(json.loads(out), 42)
            back = os.path.join(d, "back.bin")
            rc, out, err = lab.swarm("fs", link, "get", "data/x.bin", back)
            self.assertEqual(rc, 0, err)
            with open(back, "rb") as f:
                self.assertEqual(f.read(), payload)

    def test_no_flash_no_files(self):
        with tempfile.TemporaryDirectory() as d, qemu.NetLab() as lab:
            local = os.path.join(d, "a.txt")
            with open(local, "wb") as f:
                f.write(b"hello\n")
            g = lab.guest(MAC, "serial=lossy")
            rc, out, err = lab.swarm("fs", "tcp://" + g.address(), "put", local, "a.txt")
            self.assertNotEqual(rc, 0, "a guest without flash= stored a file")


if __name__ == "__main__":
    qemu.require()
    qemu.require_netns()
    unittest.main()
