"""The warm module interpreter's cache of compiled code (:mod:`gnt.nodes.modexec`'s server
imports it from beside itself, as ``modexec_cache``; the nodes' bundle installs both files).

A module task's payload carries the collection's modules and ``module_utils`` in a zip without
byte code, and zipimport compiles them anew in every fork: 2-3 s per task on a TCG guest node.
Standard library only; imports nothing of the coordinator.
"""

from __future__ import annotations

import os
import sys
from hashlib import sha256


def start(cache_dir: str) -> bool:
    """What a server does first: empty an overgrown cache, then cache what it compiles."""
    prune_code_cache(cache_dir)
    return cache_compiled_sources(cache_dir)


#: Compiled module code (see :func:`cache_compiled_sources`), beside the servers' directories; emptied
#: by a server that finds more than :data:`CODE_CACHE_MAX` entries in it.
CODE_CACHE = "code"
CODE_CACHE_MAX = 4000


def cache_compiled_sources(cache_dir: str) -> bool:
    """Make this process's zip imports keep what they compile in ``cache_dir`` (a directory
    of root's alone), keyed by the interpreter, the file name and the source: a payload's
    modules and ``module_utils`` come from a zip without byte code, and compiling them took
    2-3 s per module task on a TCG guest node. False when this Python's zipimport differs."""
    import marshal
    import zipimport

    compile_source = getattr(zipimport, "_compile_source", None)
    if compile_source is None:
        return False
    os.makedirs(cache_dir, mode=0o700, exist_ok=True)
    info = os.stat(cache_dir)
    if info.st_uid != os.getuid() or info.st_mode & 0o077:
        return False
    tag = f"{sys.version}\0{sys.flags.optimize}\0".encode()

    def cached(pathname: str, source: bytes):  # noqa: ANN202 - a code object
        # Ansible unpacks each payload's zip under a new temporary name: the key has the
        # name inside the zip, and a code object found gets the file name of this import
        inner = pathname[pathname.rfind(".zip" + os.sep) + 1:]
        key = sha256(tag + inner.encode("utf-8", "surrogateescape") + b"\0" + source).hexdigest()
        entry = os.path.join(cache_dir, key)
        try:
            with open(entry, "rb") as handle:
                return _renamed(marshal.loads(handle.read()), pathname)
        except (OSError, EOFError, ValueError, TypeError):
            pass
        code = compile_source(pathname, source)
        try:
            tmp = f"{entry}.{os.getpid()}"
            with open(tmp, "wb") as handle:
                handle.write(marshal.dumps(code))
            os.replace(tmp, entry)
        except OSError:
            pass
        return code

    setattr(zipimport, "_compile_source", cached)  # noqa: B010 - a private name
    return True


def _renamed(code, filename: str):  # noqa: ANN001, ANN202 - code objects
    """``code`` and the code objects in it with ``co_filename`` = ``filename``."""
    if code.co_filename == filename:
        return code
    consts = tuple(_renamed(const, filename) if type(const) is type(code) else const
                   for const in code.co_consts)
    return code.replace(co_filename=filename, co_consts=consts)


def prune_code_cache(cache_dir: str) -> None:
    try:
        names = os.listdir(cache_dir)
    except OSError:
        return
    if len(names) > CODE_CACHE_MAX:
        for name in names:
            try:
                os.unlink(os.path.join(cache_dir, name))
            except OSError:
                pass


#: Where an AnsiballZ payload of Ansible 2.19 turns from its wrapper (the same text for every
#: task of one Ansible version and interpreter) to the call with the task's arguments and the
#: module's zip (base64 text in a string literal of ~250 kB).
_CALL = b'\n\n\nif __name__ == "__main__":\n    _ansiballz_main(\n'
_ZIP_ARG = b"\nzip_data='"
_ZIP_END = b"',\n"
_BASE64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
#: The global the split call reads the zip's text from.
ZIP_NAME = "__gnt_zip_data__"
#: The wrappers this server compiled (source -> code), kept for its later forks.
_WRAPPERS: dict = {}
_WRAPPERS_MAX = 8


def split_payload(payload: bytes):  # noqa: ANN201 - (code, code, dict) or None
    """``(wrapper code, call code, globals)``: executed in turn in one namespace that has
    ``globals`` (the zip's text as :data:`ZIP_NAME`), they do what the AnsiballZ ``payload`` does as a
    whole (same file name and line numbers); None for any other payload, which is compiled
    whole as before. Compiling a whole payload is mostly compiling the zip's literal and the
    wrapper (~2 ms of CPU each on the host, more on slower nodes): the server compiles each
    wrapper once and keeps it, takes the zip as text, and compiles only the call."""
    at = payload.find(_CALL)
    if at < 0 or payload.find(_CALL, at + len(_CALL)) >= 0:
        return None
    start = payload.find(_ZIP_ARG, at)
    end = payload.find(_ZIP_END, start + len(_ZIP_ARG)) if start >= 0 else -1
    if end < 0:
        return None
    zip_text = payload[start + len(_ZIP_ARG):end]
    if zip_text.translate(None, _BASE64):  # a literal with escapes: not plain base64
        return None
    head = payload[:at]
    wrapper = _WRAPPERS.get(head)
    if wrapper is None:
        wrapper = compile(head, "<stdin>", "exec", dont_inherit=True)
        if len(_WRAPPERS) >= _WRAPPERS_MAX:
            _WRAPPERS.clear()
        _WRAPPERS[head] = wrapper
    call = (b"\n" * head.count(b"\n") + payload[at:start] + b"\nzip_data=" + ZIP_NAME.encode()
            + b",\n" + payload[end + len(_ZIP_END):])
    return (wrapper, compile(call, "<stdin>", "exec", dont_inherit=True),
            {ZIP_NAME: zip_text.decode("ascii")})
