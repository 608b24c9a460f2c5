"""Shared bits of the hostile-client tests: the e2e harness (tests/e2e/swarmtest.py) and a node
whose swarm.cfg a test writes first."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))

import swarmtest  # noqa: E402,F401
from swarmtest import Node, RemoteError, pack  # noqa: E402,F401


def cfg_node(cfg, **kw):
    """A Node (not started) on a fresh root whose swarm.cfg is cfg (LAN services off unless cfg
    turns them on)."""
    import tempfile
    root = tempfile.mkdtemp(prefix="swarm-hostile-")
    boot = {"FTPD_ENABLE": False, "TELNET_ENABLE": False, "REMOTE_EVAL_ENABLE": False}
    boot.update(cfg.pop("boot", {}))
    cfg["boot"] = boot
    # the tests wait for link events ("link …: open", "…: closed"), logged at debug level
    cfg.setdefault("log", {"level": "debug"})
    with open(os.path.join(root, "swarm.cfg"), "wb") as f:
        f.write(pack(cfg))
    n = Node(root=root, **kw)
    n.own_root = True  # removed at stop()
    return n
