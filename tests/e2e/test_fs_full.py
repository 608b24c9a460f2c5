"""Mode W on a full file system (issue 10 item 6): a write that fails must stick, `f.cl` must
refuse to commit the temp file (the target keeps its old content), the error says ENOSPC (not
EIO), and no temp file stays behind. The full disk is real: a small tmpfs this test mounts
as the node's root (root only) and unmounts when it ends, also when it fails."""
import os
import shutil
import subprocess
import tempfile
import unittest

from swarmtest import Node, RemoteError

CHUNK = 8192


@unittest.skipUnless(os.geteuid() == 0, "mounting a tmpfs needs root")
class FullDisk(unittest.TestCase):
    def setUp(self):
        self.mnt = tempfile.mkdtemp(prefix="swarm-full-")
        self.addCleanup(shutil.rmtree, self.mnt, True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k,mode=0755", "swarm-full", self.mnt],
                       check=True)
        self.addCleanup(subprocess.run, ["umount", "-l", self.mnt], check=False)
        self.node = Node(root=self.mnt)
        self.addCleanup(self.node.stop)
        self.node.start()
        self.c = self.node.client()
        self.addCleanup(self.c.close)
        with open(os.path.join(self.mnt, "target"), "wb") as f:
            f.write(b"old content\n")

    def fill(self):
        """Fills the file system with a file of the test's own; returns its path."""
        path = os.path.join(self.mnt, "filler")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            while os.write(fd, b"\0" * 4096) > 0:
                pass
        except OSError:
            pass
        finally:
            os.close(fd)
        return path

    def leftovers(self):
        return [n for n in os.listdir(self.mnt) if ".swtmp" in n or n.endswith(".tmp")]

    def test_failed_write_sticks_and_close_refuses_to_commit(self):
        h = self.c.call(["f", "open"], {"p": "target", "m": "W"})
        self.c.call(["f", "wr"], {"fd": h, "data": b"A" * CHUNK, "off": 0})
        filler = self.fill()
        off = CHUNK
        err = None
        for _ in range(200):  # a page or two may still fit: write until the disk says no
            try:
                self.c.call(["f", "wr"], {"fd": h, "data": b"B" * CHUNK, "off": off})
                off += CHUNK
            except RemoteError as e:
                err = str(e)
                break
        self.assertIsNotNone(err, "the full disk never refused a write")
        self.assertTrue(err.startswith("ENOSPC"), err)
        # room again: the lost chunk is still lost, so the handle must stay failed
        os.unlink(filler)
        with self.assertRaises(RemoteError) as cm:
            self.c.call(["f", "wr"], {"fd": h, "data": b"C" * CHUNK, "off": off + CHUNK})
        self.assertTrue(str(cm.exception).startswith("ENOSPC"), cm.exception)
        with self.assertRaises(RemoteError) as cm:
            self.c.call(["f", "cl"], {"fd": h})
        self.assertIn("not committed", str(cm.exception))
        self.assertTrue(str(cm.exception).startswith("ENOSPC"), cm.exception)
        with open(os.path.join(self.mnt, "target"), "rb") as f:
            self.assertEqual(f.read(), b"old content\n")
        self.assertEqual(self.leftovers(), [])
        # the handle is gone
        with self.assertRaises(RemoteError):
            self.c.call(["f", "cl"], {"fd": h})

    def test_open_on_a_full_disk_leaves_no_temp_file(self):
        self.fill()
        try:
            h = self.c.call(["f", "open"], {"p": "target", "m": "W"})
        except RemoteError as e:  # no room even for an empty temp file's inode: also fine
            self.assertTrue(str(e).startswith("ENOSPC"), e)
        else:
            with self.assertRaises(RemoteError) as cm:
                self.c.call(["f", "wr"], {"fd": h, "data": b"x" * CHUNK, "off": 0})
            self.assertTrue(str(cm.exception).startswith("ENOSPC"), cm.exception)
            with self.assertRaises(RemoteError):
                self.c.call(["f", "cl"], {"fd": h})
        self.assertEqual(self.leftovers(), [])
        with open(os.path.join(self.mnt, "target"), "rb") as f:
            self.assertEqual(f.read(), b"old content\n")

    def test_config_write_on_a_full_disk_keeps_the_old_file(self):
        cfg = os.path.join(self.mnt, "swarm.cfg")
        with open(cfg, "rb") as f:
            before = f.read()
        self.fill()
        with self.assertRaises(RemoteError) as cm:
            self.c.call(["sys", "cfg"], {"p": ["app", "big"], "d": "y" * 8000})
        self.assertIn("ENOSPC", str(cm.exception))
        with open(cfg, "rb") as f:
            self.assertEqual(f.read(), before)
        self.assertEqual(self.leftovers(), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
