#!/usr/bin/python3
# A MoaT v0 satellite's RPC in Python asyncio + python3-msgpack: the peer the RPC bench puts
# beside swarm-node. Same wire as the running original (moat-wire.md §1.6, §10): on connect it
# sends {"d":true,"a":"link"}; a request {"a":action,"d":data,"i":seq} is dispatched like v0's
# BaseCmd (string action → cmd_<action>, else the first character picks a sub-dispatcher; a
# list walks sub-dispatchers), "d" a map → keyword arguments, else one positional; the reply
# is {"d":result,"i":seq}, an error {"e":repr(exc),"i":seq}.
#
# Written to be quick for Python, not a straw man: asyncio.Protocol (no stream wrappers),
# one streaming Unpacker per connection, one Packer, and all replies to the requests of one
# read go out in one write. Several clients at once.
#
# Usage: bench/peers/moat_peer.py PORT [ADDR]      (ADDR default 127.0.0.1)
import asyncio
import sys

import msgpack


class RemoteError(Exception):
    pass


class BaseCmd:
    def dispatch(self, action, data):
        if isinstance(action, str):
            if not action:
                return self.cmd(data)
            fn = getattr(self, "cmd_" + action, None) if len(action) > 1 else None
            if fn is None:
                sub = getattr(self, "dis_" + action[0], None)
                if sub is None:
                    raise AttributeError(action)
                return sub.dispatch(action[1:], data)
            return call(fn, data)
        if not action:
            return self.cmd(data)
        if len(action) == 1:
            return self.dispatch(action[0], data)
        sub = getattr(self, "dis_" + action[0], None)
        if sub is None:
            raise AttributeError(action[0])
        return sub.dispatch(action[1:], data)

    def cmd(self, data):
        raise RemoteError("no default command")


def call(fn, data):
    if isinstance(data, dict):
        return fn(**data)
    return fn(data)


class SysCmd(BaseCmd):
    def cmd_is_up(self):
        return None


class Root(BaseCmd):
    dis_sys = SysCmd()

    def cmd_ping(self, m=None):
        return "R:" + str(m)

    def cmd__dir(self):
        return {"d": ["sys"], "c": ["ping"]}


ROOT = Root()
LINK_UP = msgpack.packb({"d": True, "a": "link"})


class Link(asyncio.Protocol):
    def connection_made(self, transport):
        self.t = transport
        self.u = msgpack.Unpacker(raw=False)
        self.p = msgpack.Packer()
        transport.write(LINK_UP)

    def data_received(self, data):
        self.u.feed(data)
        out = []
        pack = self.p.pack
        for msg in self.u:
            if not isinstance(msg, dict):
                continue
            i = msg.get("i")
            a = msg.get("a")
            if a is None or i is None:
                continue  # replies and notifications: a server in this bench has none to act on
            try:
                r = ROOT.dispatch(a, msg.get("d"))
            except RemoteError as e:
                out.append(pack({"e": e.args[0], "i": i}))
            except Exception as e:
                out.append(pack({"e": repr(e), "i": i}))
            else:
                out.append(pack({"d": r, "i": i}))
        if out:
            self.t.write(b"".join(out))


async def main(port, addr):
    loop = asyncio.get_running_loop()
    srv = await loop.create_server(Link, addr, port, reuse_address=True)
    async with srv:
        await srv.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: moat_peer.py PORT [ADDR]")
    try:
        asyncio.run(main(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"))
    except KeyboardInterrupt:
        pass
