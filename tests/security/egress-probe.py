#!/usr/bin/env python3
# The attacker inside an --allow-host sandbox (tests/security/egress-attacks.bats):
# each subcommand tries one way past the guard and prints one line per try,
# "NAME: reply" when the server outside saw its bytes, else how it failed.
import errno
import os
import socket
import struct
import sys
import time


def err(e):
    return errno.errorcode.get(e.errno, e.__class__.__name__) if e.errno else e.__class__.__name__


def exchange(name, family, addr, data, fastopen=False, proto=0, half_close=False):
    """Sends DATA to ADDR over TCP; "reply" if anything comes back."""
    try:
        s = socket.socket(family, socket.SOCK_STREAM, proto)
        if fastopen:
            # Data in the SYN (MSG_FASTOPEN), from a blocking socket.
            s.sendto(data, 0x20000000, addr)
            s.settimeout(10)
        else:
            s.settimeout(10)
            s.connect(addr)
            s.sendall(data)
            if half_close:
                try:
                    s.shutdown(socket.SHUT_WR)
                except OSError as e:
                    # a reset that came first: shutdown() says ENOTCONN,
                    # recv() below the reset itself
                    if e.errno != errno.ENOTCONN:
                        raise
        got = s.recv(64)
        print(f"{name}: {'reply' if got else 'eof'}")
    except OSError as e:
        print(f"{name}: {err(e)}")


# --- TLS ClientHellos ---------------------------------------------------------

def sni_ext(entries):
    lst = b"".join(bytes([t]) + struct.pack(">H", len(n)) + n for t, n in entries)
    data = struct.pack(">H", len(lst)) + lst
    return struct.pack(">HH", 0, len(data)) + data


def client_hello(exts):
    body = b"\x03\x03" + bytes(32) + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00"
    ext = b"".join(exts)
    body += struct.pack(">H", len(ext)) + ext
    return b"\x01" + struct.pack(">I", len(body))[1:] + body


def records(hs, cut=None):
    parts = [hs] if cut is None else [hs[:cut], hs[cut:]]
    return b"".join(b"\x16\x03\x01" + struct.pack(">H", len(p)) + p for p in parts)


def tls_variants(ok, bad):
    pad = struct.pack(">HH", 21, 17000) + bytes(17000)  # padding extension
    return {
        "tls-ok": records(client_hello([sni_ext([(0, ok)])])),
        "tls-bad": records(client_hello([sni_ext([(0, bad)])])),
        # The hello split over two records, the name in the second.
        "tls-fragmented-bad": records(client_hello([sni_ext([(0, bad)])]), cut=40),
        "tls-fragmented-ok": records(client_hello([sni_ext([(0, ok)])]), cut=40),
        "tls-nul": records(client_hello([sni_ext([(0, ok + b"\0." + bad)])])),
        "tls-second-entry": records(client_hello([sni_ext([(1, ok), (0, bad)])])),
        "tls-two-entries": records(client_hello([sni_ext([(0, ok), (0, bad)])])),
        "tls-two-extensions": records(client_hello([sni_ext([(0, ok)]), sni_ext([(0, bad)])])),
        # A hello longer than the relay reads ahead, the name at its end.
        "tls-huge": b"".join(
            b"\x16\x03\x01" + struct.pack(">H", len(p)) + p
            for p in (lambda h: [h[i:i + 16384] for i in range(0, len(h), 16384)])(
                client_hello([pad, sni_ext([(0, bad)])]))),
    }


def http_variants(ok, bad):
    o, b = ok.decode(), bad.decode()
    return {
        "http-ok": f"GET / HTTP/1.1\r\nHost: {o}\r\n\r\n",
        "http-bad": f"GET / HTTP/1.1\r\nHost: {b}\r\n\r\n",
        "http-bad-case": f"GET / HTTP/1.1\r\nhOsT: {b.upper()}.\r\n\r\n",
        "http-two-hosts": f"GET / HTTP/1.1\r\nHost: {o}\r\nHost: {b}\r\n\r\n",
        "http-absolute": f"GET http://{b}/ HTTP/1.1\r\nHost: {o}\r\n\r\n",
        "http-absolute-ok": f"GET http://{o}:80/x HTTP/1.1\r\nHost: {o}\r\n\r\n",
        "http-leading-crlf": f"\r\nGET / HTTP/1.1\r\nHost: {b}\r\n\r\n",
        "http-nul": f"GET / HTTP/1.1\r\nHost: {o}\0{b}\r\n\r\n",
    }


def shared(host, port, ok, bad):
    """Names on a shared address: SNI and Host tricks."""
    addr = (host, int(port))
    for name, data in {**tls_variants(ok, bad), **{k: v.encode() for k, v in http_variants(ok, bad).items()}}.items():
        exchange(name, socket.AF_INET, addr, data)


# --- DNS ------------------------------------------------------------------------

def question(labels, qtype=1, qd=1, flags=0x0100, qid=0x1234):
    q = struct.pack(">HHHHHH", qid, flags, qd, 0, 0, 0)
    for label in labels:
        q += bytes([len(label)]) + label
    return q + b"\0" + struct.pack(">HH", qtype, 1)


def ask(name, q, server):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    try:
        s.sendto(q, (server, 53))
        r = s.recv(4096)
        print(f"{name}: rcode={r[3] & 15} answers={struct.unpack('>H', r[6:8])[0]}")
    except OSError as e:
        print(f"{name}: {err(e)}")


def dns(server, ok):
    o = ok.encode()
    labels = o.split(b".")
    ask("dns-ok", question(labels), server)
    ask("dns-upper-trailing-dot", question(o.upper().split(b".")), server)
    ask("dns-dot-in-label", question([o]), server)
    ask("dns-nul-in-label", question([labels[0] + b"\0x"] + labels[1:]), server)
    ask("dns-long-label", question([b"a" * 64] + labels), server)
    ask("dns-long-name", question([b"a" * 60] * 5 + labels), server)
    ask("dns-two-questions", question(labels, qd=2) + question(labels)[12:], server)
    pointer = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + b"\xc0\x0c" + struct.pack(">HH", 1, 1)
    ask("dns-pointer", pointer, server)
    ask("dns-response", question(labels, flags=0x8180), server)


# --- spoofed resolver replies ---------------------------------------------------

def h6(b):
    return "".join("%08X" % struct.unpack("<I", b[i:i + 4])[0] for i in range(0, 16, 4))


def spoof(resolver, me, target, port, name):
    """Asks NAME through the guard, then answers for the resolver (its
    address with IPV6_FREEBIND, port 53) with TARGET, and connects there."""
    q = question(name.encode().split(b"."), qid=0x4242)
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    c.settimeout(8)
    c.sendto(q, ("10.0.2.3", 53))
    want = h6(socket.inet_pton(socket.AF_INET6, resolver)) + ":0035"
    local = None
    for _ in range(200):
        for line in open("/proc/net/udp6").read().splitlines()[1:]:
            f = line.split()
            if f[2] == want:
                local = f[1]
        if local:
            break
        time.sleep(0.05)
    if not local:
        print("spoof: no query to the resolver")
        return
    r = bytearray(q)
    r[2:4] = b"\x81\x80"
    r[6:8] = b"\x00\x01"
    r += b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + socket.inet_aton(target)
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, 78, 1)  # IPV6_FREEBIND
    try:
        s.bind((resolver, 53))
        s.sendto(bytes(r), (me, int(local.split(":")[1], 16)))
        print("spoof: sent")
    except OSError as e:
        print(f"spoof: {err(e)}")
    exchange("after-spoof", socket.AF_INET, (target, int(port)), b"GET / HTTP/1.0\r\n\r\n")


# --- sockets the command may not have ---------------------------------------------

def sockets():
    tries = {
        "raw4": (socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW),
        "raw4-tcp": (socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP),
        "raw6": (socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW),
        "packet": (socket.AF_PACKET, socket.SOCK_RAW, 0),
        "ping4": (socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP),
        "ping6": (socket.AF_INET6, socket.SOCK_DGRAM, socket.IPPROTO_ICMPV6),
    }
    for name, args in tries.items():
        try:
            socket.socket(*args)
            print(f"{name}: made")
        except OSError as e:
            print(f"{name}: {err(e)}")
    for name, level, opt in (("so-mark", socket.SOL_SOCKET, 36), ("ip-transparent", socket.SOL_IP, 19)):
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(level, opt, 0x63736e64 if name == "so-mark" else 1)
            print(f"{name}: set")
        except OSError as e:
            print(f"{name}: {err(e)}")


# --- the guard ------------------------------------------------------------------------

def proc(pid, key):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(key + ":"):
            return line.split()[1]
    return None


def guard_pid():
    """Without a pid namespace: the monitor's other csand child."""
    mine, pid = set(), os.getpid()
    while pid > 1:
        mine.add(pid)
        parent = int(proc(pid, "PPid"))
        if proc(pid, "Name") == "csand" and proc(parent, "Name") != "csand":
            monitor = pid
            break
        pid = parent
    else:
        return None
    for p in os.listdir("/proc"):
        if p.isdigit() and int(p) not in mine:
            try:
                if proc(p, "PPid") == str(monitor) and proc(p, "Name") == "csand":
                    return int(p)
            except OSError:
                pass
    return None


def guard(action):
    pid = guard_pid()
    if pid is None:
        print("guard: not visible")
        return
    print("guard: visible")
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    for name, fn in (
            ("ptrace", lambda: libc.ptrace(16, pid, 0, 0)),  # PTRACE_ATTACH
            ("pidfd_getfd", lambda: libc.syscall(438, libc.syscall(434, pid, 0), 3, 0)),
    ):
        r = fn()
        print(f"{name}: {'ok' if r >= 0 else errno.errorcode[ctypes.get_errno()]}")
    try:
        os.listdir(f"/proc/{pid}/fd")
        print("proc-fd: listed")
    except OSError as e:
        print(f"proc-fd: {err(e)}")
    if action == "kill":
        os.kill(pid, 9)
        for _ in range(200):
            if proc(pid, "State") in (None, "Z"):
                break
            time.sleep(0.05)
        print("guard: killed")


# --- a resolver and a server of the test's (in a network namespace it made) ---

def wire(name):
    return b"".join(bytes([len(label)]) + label for label in name.split(b".")) + b"\0"


def fakedns(good, bad, ready):
    """On 127.0.0.1:53: cname.* is a CNAME to bad.test, with bad.test's
    address BAD; any other name has the address GOOD, and BAD for bad.test
    in the additional section."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 53))
    open(ready, "w").close()
    a_rr = lambda addr: struct.pack(">HHIH", 1, 1, 60, 4) + socket.inet_aton(addr)
    while True:
        q, peer = s.recvfrom(512)
        i = 12
        while q[i]:
            i += 1 + q[i]
        r = bytearray(q[:i + 5])
        r[2:4] = b"\x81\x80"
        if q[12:18].lower() == b"\x05cname":
            body = b"\xc0\x0c" + struct.pack(">HHIH", 5, 1, 60, len(wire(b"bad.test"))) + wire(b"bad.test")
            body += wire(b"bad.test") + a_rr(bad)
            r[6:12] = struct.pack(">HHH", 2, 0, 0)
        else:
            body = b"\xc0\x0c" + a_rr(good) + wire(b"bad.test") + a_rr(bad)
            r[6:12] = struct.pack(">HHH", 1, 0, 1)
        s.sendto(bytes(r) + body, peer)


def serve(addr, port, ready):
    s = socket.socket()
    s.bind((addr, int(port)))
    s.listen()
    open(ready, "w").close()
    while True:
        c, _ = s.accept()
        c.recv(100)
        c.sendall(b"seen\n")
        c.close()


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "tcp":  # NAME HOST PORT: a plain request
        host = args[1]
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        exchange(args[0], family, (host, int(args[2])), b"GET / HTTP/1.0\r\n\r\n", half_close=True)
    elif cmd == "fastopen":  # NAME HOST PORT [SNI]
        data = tls_variants(b"x", args[3].encode())["tls-bad"] if len(args) > 3 else b"GET / HTTP/1.0\r\n\r\n"
        exchange(args[0], socket.AF_INET, (args[1], int(args[2])), data, fastopen=True)
    elif cmd == "mptcp":  # NAME HOST PORT
        exchange(args[0], socket.AF_INET, (args[1], int(args[2])), b"GET / HTTP/1.0\r\n\r\n", proto=262)
    elif cmd == "shared":
        shared(args[0], args[1], args[2].encode(), args[3].encode())
    elif cmd == "dns":
        dns(args[0], args[1])
    elif cmd == "spoof":
        spoof(*args)
    elif cmd == "sockets":
        sockets()
    elif cmd == "guard":
        guard(args[0])
    elif cmd == "fakedns":
        fakedns(*args)
    elif cmd == "serve":
        serve(*args)
    elif cmd == "many":  # HOST PORT N: holds N connections open
        held = []
        for _ in range(int(args[2])):
            try:
                held.append(socket.create_connection((args[0], int(args[1])), timeout=10))
            except OSError:
                break
        print(f"held: {len(held)}")
        exchange("while-full", socket.AF_INET, (args[0], int(args[1])), b"GET / HTTP/1.0\r\n\r\n")
    else:
        sys.exit(f"unknown {cmd}")


main()
