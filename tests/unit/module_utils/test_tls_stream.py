"""tls_stream: disk data between two clusters' nodes over TLS, for real on loopback: both
certificates verified, the magic checked before a byte is written, a killed sender an error,
a stranger's connection dropped while the receiver waits for the real sender."""

from __future__ import annotations

import datetime
import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ansible_collections.gnt.cluster.plugins.module_utils.tls_stream import (
    MAGIC_ENV,
    stream_argv,
    stream_env,
)
from gnt.core import certs


def _pair(directory: Path, name: str, expired: bool = False) -> tuple[str, str]:
    """A key file and certificate file made as a node makes its per-move key (or one that
    expired yesterday)."""
    pem = certs.make_self_signed(name, ["127.0.0.1"]) if not expired else _expired(name)
    start = pem.index(b"-----BEGIN CERTIFICATE-----")
    key, cert = directory / f"{name}.key", directory / f"{name}.crt"
    key.write_bytes(pem[:start])
    cert.write_bytes(pem[start:])
    return str(key), str(cert)


def _expired(name: str) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=2))
            .not_valid_after(now - datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption()) + \
        cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture
def ends(tmp_path):
    src = _pair(tmp_path, "source")
    dst = _pair(tmp_path, "dest")
    return tmp_path, src, dst


def _receiver(tmp_path, dst, peer_cert, magic="m4gic", timeout=20):
    port_file = tmp_path / "port"
    out = open(tmp_path / "received", "wb")
    proc = subprocess.Popen(stream_argv(sys.executable, "receive", "127.0.0.1", 0, dst[1], dst[0],
                                        peer_cert, timeout, str(port_file)),
                            stdout=out, stderr=subprocess.PIPE, env=stream_env(magic))
    out.close()
    deadline = time.monotonic() + 10
    while not port_file.exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return proc, int(port_file.read_text())


def _send(port, src, peer_cert, data: bytes, magic="m4gic", timeout=20):
    return subprocess.run(stream_argv(sys.executable, "send", "127.0.0.1", port, src[1], src[0],
                                      peer_cert, timeout),
                          input=data, capture_output=True, env=stream_env(magic), timeout=60,
                          check=False)


def test_stream_with_both_certificates_verified(ends):
    tmp_path, src, dst = ends
    data = os.urandom(3 * 1024 * 1024 + 17)
    receiver, port = _receiver(tmp_path, dst, src[1])
    sent = _send(port, src, dst[1], data)
    assert sent.returncode == 0, sent.stderr
    assert receiver.wait(30) == 0, receiver.stderr.read()
    assert hashlib.sha256((tmp_path / "received").read_bytes()).digest() == \
        hashlib.sha256(data).digest()


def test_wrong_magic_refused_before_a_byte_is_written(ends):
    tmp_path, src, dst = ends
    receiver, port = _receiver(tmp_path, dst, src[1])
    _send(port, src, dst[1], b"x" * 100000, magic="other")
    assert receiver.wait(30) == 1
    assert b"wrong magic, nothing written" in receiver.stderr.read()
    assert (tmp_path / "received").read_bytes() == b""


def test_stranger_dropped_real_sender_accepted(ends):
    tmp_path, src, dst = ends
    stranger = _pair(tmp_path, "stranger")
    receiver, port = _receiver(tmp_path, dst, src[1])
    refused = _send(port, stranger, dst[1], b"evil", timeout=5)
    assert refused.returncode == 1                     # its certificate is not the source's
    sent = _send(port, src, dst[1], b"good data")
    assert sent.returncode == 0, sent.stderr
    assert receiver.wait(30) == 0
    assert (tmp_path / "received").read_bytes() == b"good data"
    assert b"refused a connection from 127.0.0.1" in receiver.stderr.read()


def test_sender_refuses_a_receiver_it_does_not_trust(ends):
    tmp_path, src, dst = ends
    stranger = _pair(tmp_path, "stranger")
    receiver, port = _receiver(tmp_path, dst, src[1], timeout=5)
    sent = _send(port, src, stranger[1], b"secret data")   # expects another certificate
    assert sent.returncode == 1 and b"TLS with 127.0.0.1" in sent.stderr
    assert receiver.wait(30) == 1
    assert (tmp_path / "received").read_bytes() == b""


def test_expired_certificate_refused(ends):
    tmp_path, _src, dst = ends
    old = _pair(tmp_path, "old", expired=True)              # valid until yesterday
    receiver, port = _receiver(tmp_path, dst, old[1], timeout=5)
    sent = _send(port, old, dst[1], b"late")
    assert sent.returncode == 1
    assert receiver.wait(30) == 1
    assert (tmp_path / "received").read_bytes() == b""


def test_killed_sender_is_an_error_not_a_short_disk(ends):
    tmp_path, src, dst = ends
    receiver, port = _receiver(tmp_path, dst, src[1])
    sender = subprocess.Popen(stream_argv(sys.executable, "send", "127.0.0.1", port, src[1],
                                          src[0], dst[1], 20),
                              stdin=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=stream_env("m4gic"))
    sender.stdin.write(b"y" * 2 * 1024 * 1024)
    sender.stdin.flush()
    time.sleep(1)
    sender.kill()
    sender.wait()
    assert receiver.wait(30) == 1
    assert b"stream from 127.0.0.1 broken after" in receiver.stderr.read()


def test_frames_larger_than_the_senders_chunk_arrive_whole(ends):
    """The receiver reads each frame into a buffer it reuses; a frame larger than the 1 MiB
    the sender writes (another sender's) still arrives whole, in order."""
    import socket
    import ssl
    import struct

    tmp_path, src, dst = ends
    receiver, port = _receiver(tmp_path, dst, src[1])
    frames = [os.urandom(3 * 1024 * 1024 + 5), os.urandom(100), os.urandom(2 * 1024 * 1024)]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_cert_chain(src[1], src[0])
    ctx.load_verify_locations(cafile=dst[1])
    with socket.create_connection(("127.0.0.1", port), timeout=20) as raw, \
            ctx.wrap_socket(raw) as conn:
        conn.sendall(b"GNT-RIE-MAGIC m4gic\n")
        for frame in frames:
            conn.sendall(struct.pack(">I", len(frame)) + frame)
        conn.sendall(struct.pack(">I", 0))
        answer = conn.recv(64)
    assert answer == b"OK %d\n" % sum(map(len, frames))
    assert receiver.wait(30) == 0, receiver.stderr.read()
    assert (tmp_path / "received").read_bytes() == b"".join(frames)


def test_magic_only_in_the_environment():
    argv = stream_argv("python3", "send", "h", 1, "c", "k", "p")
    assert "secret-magic" not in " ".join(argv)
    assert stream_env("secret-magic", {})[MAGIC_ENV] == "secret-magic"
    with pytest.raises(ValueError):
        stream_argv("python3", "copy", "h", 1, "c", "k", "p")
