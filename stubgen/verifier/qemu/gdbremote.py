"""A small client of the GDB remote serial protocol, enough to drive qemu-user's
gdbstub: packets with checksums and acks, registers (g/G/p/P), memory (m/M), single
steps (s), continue (c) and software breakpoints (Z0/z0), and qXfer for the target's
register description.

Why our own: the PyPI candidates either drive the gdb binary (pygdbmi: the machine
would need gdb-multiarch and its MI) or are unmaintained and unfinished (gdbremote,
pyrsp, last releases years ago, no tests against qemu). The protocol subset we use
is a few dozen lines and is tested against a fake server and real qemu
(tests/test_qemu_engine.py)."""
from __future__ import annotations

import socket


class ProtocolError(Exception):
    """The stub answered something the protocol does not allow, or an error (Exx)."""


def checksum(payload: bytes) -> int:
    return sum(payload) & 0xFF


def escape(payload: bytes) -> bytes:
    """Binary-safe payload: '#', '$', '}' and '*' are sent as '}' then the byte xor 0x20."""
    if not any(c in payload for c in (b"#", b"$", b"}", b"*")):
        return payload  # hex, as almost every packet is
    out = bytearray()
    for b in payload:
        if b in b"#$}*":
            out += bytes((0x7D, b ^ 0x20))
        else:
            out.append(b)
    return bytes(out)


def frame(payload: bytes) -> bytes:
    """$payload#cc, cc the checksum of the escaped payload in two hex digits."""
    body = escape(payload)
    return b"$" + body + b"#" + b"%02x" % checksum(body)


def unescape(body: bytes) -> bytes:
    """A received payload: escapes undone and run-length encoding (X*n) expanded."""
    if b"}" not in body and b"*" not in body:
        return body
    out = bytearray()
    i = 0
    while i < len(body):
        b = body[i]
        if b == 0x7D:
            out.append(body[i + 1] ^ 0x20)
            i += 2
        elif b == 0x2A:  # '*': the previous byte repeated (n - 29) more times
            out += bytes((out[-1],)) * (body[i + 1] - 29)
            i += 2
        else:
            out.append(b)
            i += 1
    return bytes(out)


class Client:
    """One connection to a gdbstub. Every request waits for its reply; acks are sent
    and checked until the stub agrees to drop them (QStartNoAckMode)."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buf = b""
        self.acks = True
        self._ack = b""  # the ack of the last reply, sent with the next packet (one write fewer)

    @classmethod
    def unix(cls, path: str, timeout: float = 10.0) -> Client:
        import time

        deadline = time.monotonic() + timeout
        while True:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(timeout)
            try:
                s.connect(path)
                break
            except (ConnectionRefusedError, FileNotFoundError):
                # the socket's file exists from bind(), before the stub listens
                s.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.005)
        c = cls(s)
        if c.request(b"QStartNoAckMode") == b"OK":
            c.acks = False
        return c

    def close(self) -> None:
        if self._ack:
            self.sock.sendall(self._ack)
        self.sock.close()

    def _more(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ProtocolError("the stub closed the connection")
        self.buf += data

    def _read_packet(self) -> bytes:
        while True:
            start = self.buf.find(b"$")
            if start >= 0:
                # Bytes before a packet are acks ('+') or nothing we asked for.
                junk = self.buf[:start].replace(b"+", b"")
                if junk:
                    raise ProtocolError(f"unexpected bytes before a packet: {junk!r}")
                end = self.buf.find(b"#", start)
                if end >= 0 and len(self.buf) >= end + 3:
                    body, cc = self.buf[start + 1:end], self.buf[end + 1:end + 3]
                    self.buf = self.buf[end + 3:]
                    if int(cc, 16) != checksum(body):
                        if not self.acks:
                            raise ProtocolError("bad checksum")
                        self.sock.sendall(self._ack + b"-")
                        self._ack = b""
                        continue
                    if self.acks:
                        self._ack = b"+"
                    return unescape(body)
            self._more()

    def send(self, payload: bytes) -> None:
        packet = frame(payload)
        for _ in range(3):
            self.sock.sendall(self._ack + packet)
            self._ack = b""
            if not self.acks:
                return
            while not self.buf:
                self._more()
            ack, self.buf = self.buf[:1], self.buf[1:]
            if ack == b"+":
                return
            if ack != b"-":
                raise ProtocolError(f"expected an ack, got {ack!r}")
        raise ProtocolError("the stub refused the packet three times")

    def request(self, payload: bytes) -> bytes:
        self.send(payload)
        return self._read_packet()

    def _ok(self, payload: bytes) -> None:
        reply = self.request(payload)
        if reply != b"OK":
            raise ProtocolError(f"{payload[:16]!r}: {reply!r}")

    @staticmethod
    def _data(payload: bytes, reply: bytes) -> bytes:
        if reply.startswith(b"E") and len(reply) == 3 or not reply:
            raise ProtocolError(f"{payload[:16]!r}: {reply!r}")
        return bytes.fromhex(reply.decode())

    # registers: raw bytes in the target's order, as the stub sends them
    def read_registers(self) -> bytes:
        return self._data(b"g", self.request(b"g"))

    def write_registers(self, data: bytes) -> None:
        self._ok(b"G" + data.hex().encode())

    def read_register(self, n: int) -> bytes:
        return self._data(b"p", self.request(b"p%x" % n))

    def write_register(self, n: int, data: bytes) -> None:
        self._ok(b"P%x=" % n + data.hex().encode())

    # memory
    def read_memory(self, addr: int, size: int) -> bytes:
        out = b""
        while len(out) < size:
            n = min(size - len(out), 0x600)
            out += self._data(b"m", self.request(b"m%x,%x" % (addr + len(out), n)))
        return out

    def write_memory(self, addr: int, data: bytes) -> None:
        for off in range(0, len(data), 0x600):
            chunk = data[off:off + 0x600]
            self._ok(b"M%x,%x:" % (addr + off, len(chunk)) + chunk.hex().encode())

    # execution: each returns the stop reply (T05..., S0b, W00, X..)
    def step(self) -> bytes:
        return self.request(b"s")

    def cont(self) -> bytes:
        return self.request(b"c")

    def insert_breakpoint(self, addr: int, kind: int) -> None:
        self._ok(b"Z0,%x,%x" % (addr, kind))

    def remove_breakpoint(self, addr: int, kind: int) -> None:
        self._ok(b"z0,%x,%x" % (addr, kind))

    def xfer(self, obj: str, annex: str) -> bytes:
        """A qXfer object (features target.xml...), read to its end."""
        out = b""
        while True:
            reply = self.request(b"qXfer:%s:read:%s:%x,%x" % (obj.encode(), annex.encode(), len(out), 0x1000))
            if not reply or reply[:1] not in b"ml":
                raise ProtocolError(f"qXfer {obj} {annex}: {reply[:40]!r}")
            out += reply[1:]
            if reply[:1] == b"l":
                return out


def signal_of(stop: bytes) -> int | None:
    """The signal of a stop reply (T05 / S0b), None where the process ended (W / X)."""
    if stop[:1] in b"TS" and len(stop) >= 3:
        return int(stop[1:3], 16)
    return None
