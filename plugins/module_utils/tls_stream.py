# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031 -- Ansible module conventions (see docs/node-primitives.md)
"""Disk data between nodes of two clusters over TLS (remote export/import, move-instance).

The destination node runs :data:`PROGRAM` ``receive`` (a process stage of a
:mod:`disk_stream` chain: it writes the data to stdout), the source node ``send`` (reads stdin).
Both sides use the key and certificate they made for this move and trust exactly the other
side's certificate (the peer's self-signed certificate, passed between the clusters signed with
the cluster domain secret): each verifies the other (TLS with client certificates), so a third
party can neither read nor inject data.

After the handshake the sender's first line is ``GNT-RIE-MAGIC <magic>``; the receiver compares
it (constant time) with the magic the destination handed out for this disk and writes nothing
before it matched. A connection whose TLS handshake fails (unknown or expired certificate) is
dropped and the receiver waits on; an authenticated peer with the wrong magic ends the receive
with an error (a misrouted or replayed stream). The data follows in length-prefixed frames and
ends with an empty frame, which the receiver answers with ``OK <bytes>``: a sender killed
mid-stream is an error on the receiving side (never a short disk taken as whole), and the
sender succeeds only when the receiver confirmed every byte.

The magic is passed in the environment (:data:`MAGIC_ENV`), never on the command line. The
receiver writes the port it listens on to ``--port-file`` once it listens (``--port 0``: any free
port). No Ansible import.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

MAGIC_ENV = "GNT_RIE_MAGIC"
MAGIC_PREFIX = "GNT-RIE-MAGIC "
CONNECT_RETRY_S = 0.5

# Run as `python3 -c PROGRAM send|receive ...`; Python 3 standard library only.
PROGRAM = r'''
import argparse, hmac, os, socket, ssl, struct, sys, time

CHUNK = 1024 * 1024
PREFIX = b"GNT-RIE-MAGIC "


def context(server, cert, key, peer_ca):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cafile=peer_ca)
    return ctx


def die(message):
    sys.stderr.write(message + "\n")
    sys.exit(1)


def read_line(conn, limit):
    data = b""
    while not data.endswith(b"\n"):
        part = conn.recv(1)
        if not part:
            break
        data += part
        if len(data) > limit:
            break
    return data


def receive(args, magic):
    sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(4)
    with open(args.port_file + ".tmp", "w") as out:
        out.write("%d\n" % sock.getsockname()[1])
    os.rename(args.port_file + ".tmp", args.port_file)
    ctx = context(True, args.cert, args.key, args.peer_ca)
    deadline = time.monotonic() + args.timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            die("no authenticated sender connected within %d s" % args.timeout)
        sock.settimeout(left)
        try:
            raw, peer = sock.accept()
        except socket.timeout:
            continue
        raw.settimeout(max(1.0, min(60.0, left)))
        try:
            conn = ctx.wrap_socket(raw, server_side=True, suppress_ragged_eofs=False)
        except (ssl.SSLError, OSError) as err:
            sys.stderr.write("refused a connection from %s: %s\n" % (peer[0], err))
            raw.close()
            continue
        line = read_line(conn, len(PREFIX) + len(magic) + 1)
        if not hmac.compare_digest(line, PREFIX + magic + b"\n"):
            conn.close()
            die("connection from %s: wrong magic, nothing written" % peer[0])
        break
    sock.close()
    conn.settimeout(args.timeout)
    out = os.fdopen(sys.stdout.fileno(), "wb", buffering=0, closefd=False)
    total = 0
    reported = time.monotonic()
    frame = memoryview(bytearray(CHUNK))
    try:
        while True:
            size = struct.unpack(">I", read_exact(conn, 4))[0]
            if size == 0:
                break
            if size > len(frame):
                frame = memoryview(bytearray(size))
            read_into(conn, frame[:size])
            write_all(out, frame[:size])
            total += size
            if args.progress_file and time.monotonic() - reported >= 1:
                progress(args.progress_file, total)
                reported = time.monotonic()
        if args.progress_file:
            progress(args.progress_file, total)
        conn.sendall(b"OK %d\n" % total)
        conn.close()
    except (ssl.SSLError, OSError, EOFError) as err:
        die("stream from %s broken after %d bytes: %s" % (peer[0], total, err))
    sys.stderr.write("received %d bytes from %s\n" % (total, peer[0]))


def progress(path, total):
    with open(path + ".tmp", "w") as out:
        out.write("%d\n" % total)
    os.rename(path + ".tmp", path)


def read_into(conn, view):
    """Fill ``view`` from ``conn`` (TLS records arrive 16 KiB at a time: no copies)."""
    got = 0
    while got < len(view):
        part = conn.recv_into(view[got:])
        if not part:
            raise EOFError("the sender closed the connection before the end of the data")
        got += part


def write_all(out, view):
    done = 0
    while done < len(view):
        done += out.write(view[done:])


def read_exact(conn, size):
    data = bytearray(size)
    read_into(conn, memoryview(data))
    return bytes(data)


def send(args, magic):
    ctx = context(False, args.cert, args.key, args.peer_ca)
    deadline = time.monotonic() + args.timeout
    while True:
        try:
            raw = socket.create_connection((args.host, args.port), timeout=10)
            break
        except OSError as err:
            if time.monotonic() >= deadline:
                die("cannot connect to %s:%d: %s" % (args.host, args.port, err))
            time.sleep(@RETRY@)
    try:
        conn = ctx.wrap_socket(raw, server_side=False, suppress_ragged_eofs=False)
    except (ssl.SSLError, OSError) as err:
        die("TLS with %s:%d failed: %s" % (args.host, args.port, err))
    conn.settimeout(args.timeout)
    conn.sendall(PREFIX + magic + b"\n")
    source = os.fdopen(sys.stdin.fileno(), "rb", buffering=0, closefd=False)
    total = 0
    try:
        while True:
            data = source.read(CHUNK)
            if not data:
                break
            conn.sendall(struct.pack(">I", len(data)) + data)
            total += len(data)
        conn.sendall(struct.pack(">I", 0))
        answer = read_line(conn, 64)
    except (ssl.SSLError, OSError) as err:
        die("sending to %s:%d failed after %d bytes: %s" % (args.host, args.port, total, err))
    if answer != b"OK %d\n" % total:
        die("%s:%d did not confirm the %d bytes sent (answer %r)"
            % (args.host, args.port, total, answer))
    conn.close()
    sys.stderr.write("sent %d bytes to %s:%d\n" % (total, args.host, args.port))


def main():
    parser = argparse.ArgumentParser(prog="gnt-tls-stream")
    parser.add_argument("mode", choices=["send", "receive"])
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--port-file")
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--peer-ca", required=True)
    parser.add_argument("--timeout", type=int, default=600)
    parser.add_argument("--progress-file")
    args = parser.parse_args()
    magic = os.environ.get("@ENV@", "").encode()
    if not magic:
        die("no magic in the environment (@ENV@)")
    if args.mode == "receive":
        if not args.port_file:
            die("receive needs --port-file")
        receive(args, magic)
    else:
        send(args, magic)


main()
'''.replace("@RETRY@", repr(CONNECT_RETRY_S)).replace("@ENV@", MAGIC_ENV)


def stream_argv(python, mode, host, port, cert, key, peer_ca, timeout=600, port_file=None,
                progress_file=None):
    """argv of a ``send`` or ``receive`` stage (the magic goes in the environment); a
    receiver with ``progress_file`` writes the bytes received so far there every second."""
    if mode not in ("send", "receive"):
        raise ValueError("mode must be send or receive, not %r" % (mode,))
    argv = [python, "-c", PROGRAM, mode, "--host", str(host), "--port", str(int(port)),
            "--cert", cert, "--key", key, "--peer-ca", peer_ca, "--timeout", str(int(timeout))]
    if port_file:
        argv += ["--port-file", port_file]
    if progress_file:
        argv += ["--progress-file", progress_file]
    return argv


def stream_env(magic, base=None):
    """The environment of a stage: ``base`` (default: this process's) with the magic."""
    import os

    env = dict(os.environ if base is None else base)
    env[MAGIC_ENV] = magic
    return env
