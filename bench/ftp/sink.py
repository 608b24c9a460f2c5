#!/usr/bin/python3
"""Sink server of the FTP bench: the "raw TCP copy" the node's FTP upload is compared with.

Usage: sink.py PORT DIR MODE   (MODE: file = write into DIR, fsync, rename over the target, as
the node's atomic upload does; null = read and discard). Accepts one connection at a time,
forever; after each it prints "done BYTES" on stdout (flushed) once the data is where MODE puts
it. Prints "ready" once listening.
"""
import os
import socket
import sys

port, where, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(4)
print("ready", flush=True)
buf = bytearray(1 << 20)
view = memoryview(buf)
while True:
    c, _ = srv.accept()
    total = 0
    fd = -1
    if mode == "file":
        tmp = os.path.join(where, ".raw.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    while True:
        n = c.recv_into(buf)
        if not n:
            break
        total += n
        if fd >= 0:
            os.write(fd, view[:n])
    if fd >= 0:
        os.fsync(fd)
        os.close(fd)
        os.rename(tmp, os.path.join(where, "raw.bin"))
        dfd = os.open(where, os.O_RDONLY | os.O_DIRECTORY)
        os.fsync(dfd)
        os.close(dfd)
    c.close()
    print("done %d" % total, flush=True)
