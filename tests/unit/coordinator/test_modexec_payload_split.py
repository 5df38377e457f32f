"""The warm module interpreter's split of an AnsiballZ payload (gnt.nodes.modexec_cache
``split_payload``): the server compiles each wrapper once, takes the module's zip as text and
compiles only the call with the task's arguments. A real payload Ansible built runs split as
it runs whole (in a real interpreter); errors keep their line numbers; anything else, or a zip
literal that is not plain base64, is left to be compiled whole."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import traceback
from pathlib import Path

import pytest

from gnt.nodes import modexec_cache

RUN_SPLIT = """
import sys, types
sys.path.insert(0, {here!r})
import modexec_cache
payload = open({payload!r}, "rb").read()
parts = modexec_cache.split_payload(payload)
assert parts is not None, "not split"
main = types.ModuleType("__main__")
sys.modules["__main__"] = main
main.__dict__.update(parts[2])
for code in parts[:2]:
    exec(code, main.__dict__)
"""

CALL = b'\n\n\nif __name__ == "__main__":\n    _ansiballz_main(\n'


BUILD_PING = """
import sys, warnings
warnings.simplefilter("ignore")
import ansible.modules.ping as ping
from ansible.executor.module_common import modify_module
from ansible.plugins.loader import init_plugin_loader
from ansible.template import Templar
init_plugin_loader()
built = modify_module(module_name="ansible.builtin.ping", module_path=ping.__file__,
                      module_args={{"data": "split"}}, templar=Templar(),
                      task_vars={{"ansible_python_interpreter": sys.executable}},
                      module_compression="ZIP_DEFLATED")
open({out!r}, "wb").write(built.b_module_data)
"""


def _ping_payload(tmp_path: Path) -> Path:
    """The payload Ansible builds for ``ansible.builtin.ping`` (data=split), in a file: built
    in a process of its own (Ansible's plugin loader is process-wide)."""
    out = tmp_path / "payload.py"
    env = dict(os.environ, ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"),
               ANSIBLE_HOME=str(tmp_path / "ansible-home"))
    subprocess.run([sys.executable, "-c", BUILD_PING.format(out=str(out))], env=env,
                   check=True, capture_output=True, timeout=120)
    return out


def test_a_real_payload_runs_split_as_it_runs_whole(tmp_path: Path) -> None:
    path = _ping_payload(tmp_path)
    assert modexec_cache.split_payload(path.read_bytes()) is not None
    whole = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                           timeout=60, check=False)
    split = subprocess.run(
        [sys.executable, "-I", "-c", RUN_SPLIT.format(
            here=os.path.dirname(modexec_cache.__file__), payload=str(path))],
        capture_output=True, text=True, timeout=60, check=False)
    assert whole.returncode == split.returncode == 0, split.stderr
    assert json.loads(split.stdout) == json.loads(whole.stdout)
    assert json.loads(split.stdout)["ping"] == "split"


def _synthetic(zip_literal: bytes) -> bytes:
    head = (b"#!/usr/bin/python3\nimport sys\n\n\ndef _ansiballz_main(**kwargs):\n"
            b"    sys.modules['__main__'].SEEN = kwargs\n"
            b"    raise ValueError(kwargs['zip_data'][:4])\n")
    return (head + CALL + b"ansible_module='m',\nparams='{\"a\": 1}',\nzip_data=" + zip_literal
            + b",\n)\n")


def _error_line(codes: list, namespace: dict) -> int:
    try:
        for code in codes:
            exec(code, namespace)  # noqa: S102 - the test's own payload
    except ValueError:
        return traceback.extract_tb(sys.exc_info()[2])[-1].lineno or 0
    raise AssertionError("the payload did not raise")


def test_split_keeps_arguments_and_line_numbers() -> None:
    payload = _synthetic(b"'UEsDBAo+/w=='")
    parts = modexec_cache.split_payload(payload)
    assert parts is not None
    wrapper, call, bindings = parts
    split_ns: dict = {"__name__": "__main__", **bindings}
    whole_ns: dict = {"__name__": "__main__"}
    split_line = _error_line([wrapper, call], split_ns)
    whole_line = _error_line([compile(payload, "<stdin>", "exec", dont_inherit=True)],
                             whole_ns)
    assert split_line == whole_line == 7
    assert call.co_filename == wrapper.co_filename == "<stdin>"


def test_each_wrapper_is_compiled_once() -> None:
    first = modexec_cache.split_payload(_synthetic(b"'QUJD'"))
    second = modexec_cache.split_payload(_synthetic(b"'REVG'"))
    assert first is not None and second is not None
    assert first[0] is second[0]
    assert first[2] != second[2]


@pytest.mark.parametrize("payload", [
    b"print('not an AnsiballZ payload')\n",
    _synthetic(b"'QUJD\\nREVG'"),          # an escape in the literal: not plain base64
    _synthetic(b"'QUJD'") + CALL + b")\n",  # the call twice
    _synthetic(b"b'QUJD'"),                 # a bytes literal
], ids=["other", "escape", "two-calls", "bytes"])
def test_anything_else_is_compiled_whole(payload: bytes) -> None:
    assert modexec_cache.split_payload(payload) is None
