"""The connection plugin gnt.cluster.local (issue 11): Ansible's local connection whose module
tasks go from the Ansible worker straight to the warm module interpreter, without the shell
and client process per task; everything else runs as with ansible.builtin.local.

Through ``ansible`` ad-hoc for real: the module's output, and whether a client process ran."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.gnt.cluster.plugins.plugin_utils.modexec_client import (
    plain_text,
    runs_interpreter_alone,
)
from gnt.nodes import modexec, modexec_bundle

LAUNCHER = "/var/lib/gnt/ansible/modexec-python"
ANSIBLE = Path(sys.executable).with_name("ansible")


@pytest.mark.parametrize(("cmd", "alone"), [
    (f"/bin/sh -c '{LAUNCHER} && sleep 0'", True),
    (f"/bin/sh -c {LAUNCHER}", True),
    (f"/bin/bash -c '{LAUNCHER} && sleep 0'", True),
    (f"/bin/sh -c 'LANG=C {LAUNCHER} && sleep 0'", False),          # a task environment
    (f"/bin/sh -c 'cd /tmp && {LAUNCHER} && sleep 0'", False),      # a directory change
    (f"/bin/sh -c '{LAUNCHER} /tmp/args && sleep 0'", False),       # not pipelined
    ("/bin/sh -c '/usr/bin/python3 && sleep 0'", False),           # another interpreter
    (f"/bin/sh -c 'sudo -H -S -n -u root /bin/sh -c {LAUNCHER}'", False),  # become
    (f"/bin/sh -c '{LAUNCHER} && sleep 0; rm -rf /x'", False),
    (f"/bin/sh -c '{LAUNCHER} || true'", False),
    (f"sh -c '{LAUNCHER}'", False),                                 # a shell not by path
    (f"/bin/sh -c '{LAUNCHER} && sleep 0", False),                  # unbalanced quote
    (f"/bin/sh -x '{LAUNCHER}'", False),
])
def test_only_a_command_that_runs_the_interpreter_alone_is_recognised(cmd, alone):
    assert runs_interpreter_alone(cmd, LAUNCHER) is alone
    assert runs_interpreter_alone(cmd, "") is False


def test_variables_become_plain_strings():
    class Tagged(str):
        pass

    value = plain_text(Tagged("/x"))
    assert value == "/x" and not isinstance(value, Tagged)
    assert plain_text(None) == ""


@pytest.fixture
def warm_copy(tmp_path, monkeypatch):
    """A private copy of the warm module interpreter (no compiled file yet), its launcher,
    and a private server directory; the servers started are stopped."""
    program = tmp_path / "mx" / "modexec.py"
    program.parent.mkdir()
    for path in modexec_bundle.MODEXEC_FILES:  # modexec.py and what its server imports
        shutil.copy(path, program.with_name(path.name))
    launcher = tmp_path / "modexec-python"
    launcher.write_text(modexec.launcher_script(sys.executable, str(program), "test launcher"))
    launcher.chmod(0o700)
    run_dir = tmp_path / "run"
    run_dir.mkdir(mode=0o700)
    monkeypatch.setenv("GNT_MODEXEC_DIR", str(run_dir))
    yield program, launcher
    subprocess.run(["pkill", "-KILL", "-f", f"modexec.py --serve {run_dir}/"], check=False)


def _ad_hoc(env: dict, connection: str, program: Path, launcher: Path, interpreter: str,
            command: str) -> tuple[int, dict]:
    """``command`` run by ansible.builtin.command on localhost through ``connection``."""
    host_vars = {"ansible_python_interpreter": interpreter,
                 "gnt_modexec_python": sys.executable, "gnt_modexec_path": str(program)}
    argv = [str(ANSIBLE), "localhost", "-i", "localhost,", "-c", connection,
            "-e", json.dumps(host_vars), "-m", "ansible.builtin.command", "-a", command]
    # compiled files written as a node would (the plugin loads the program by its path)
    env = {key: value for key, value in env.items() if key != "PYTHONDONTWRITEBYTECODE"}
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False,
                          timeout=300)
    out = proc.stdout
    if " => " in out:  # a failed module: its result
        return proc.returncode, json.loads(out[out.index(" => ") + 4:])
    header, _sep, stdout = out.partition(" >>\n")  # a command's: "host | STATUS | rc=N >>"
    assert "| rc=" in header, f"no result from ansible:\n{out}\n{proc.stderr}"
    return proc.returncode, {"rc": int(header.rpartition("rc=")[2]), "stdout": stdout.strip()}


def _clients(program: Path) -> str:
    """A command listing the client processes of ``program`` (``python -c ... client()``)."""
    return f"pgrep -f '{program.parent}.*modexec[.]client'"


def test_module_tasks_skip_the_client_process(ansible_env, warm_copy):
    program, launcher = warm_copy
    env = dict(ansible_env, GNT_MODEXEC_DIR=str(program.parent.parent / "run"))
    rc, ours = _ad_hoc(env, "gnt.cluster.local", program, launcher, str(launcher),
                       _clients(program))
    # pgrep found nothing: no client ran this module, yet the module ran as a fork of the
    # server (the in-process request works, and wrote the program's compiled file)
    assert (rc, ours["rc"], ours["stdout"]) == (2, 1, "non-zero return code"), ours
    assert (program.parent / "__pycache__").is_dir()
    rc, builtin = _ad_hoc(env, "local", program, launcher, str(launcher), _clients(program))
    assert rc == 0 and builtin["stdout"].strip().isdigit(), builtin  # the control: one client


def test_anything_but_the_launcher_runs_as_with_the_builtin_connection(ansible_env, warm_copy,
                                                                       tmp_path):
    program, launcher = warm_copy
    env = dict(ansible_env, GNT_MODEXEC_DIR=str(tmp_path / "run"))
    impostor = tmp_path / "not-a-launcher"
    impostor.write_text(launcher.read_text().replace("modexec.client()", "0"))
    impostor.chmod(0o700)
    for interpreter in (str(impostor), "/nonexistent/python"):
        results = [_ad_hoc(env, connection, program, launcher, interpreter, "true")
                   for connection in ("gnt.cluster.local", "local")]
        assert results[0][0] == results[1][0] != 0, results  # failed alike: nothing ran here
        assert "module_stdout" in results[0][1] or "msg" in results[0][1]


def test_the_plugin_is_documented(ansible_env):
    out = subprocess.run([str(ANSIBLE.with_name("ansible-doc")), "-t", "connection",
                          "gnt.cluster.local"], capture_output=True, text=True, check=False,
                         env=ansible_env, timeout=120)
    assert "module_interpreter" in out.stdout and "modexec_path" in out.stdout, out.stderr
