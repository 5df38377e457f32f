"""The warm worker: a long-lived process with Ansible imported that forks one child per run.

Started by the executor (:mod:`gnt.nodes.warmclient`) as ``python -m gnt.nodes.warm FD`` with
the environment every run shares (the executor's Ansible settings and ansible-runner's callback
settings) and one end of a private socket pair as ``FD``: no path, so nobody else can reach it.
It imports ``ansible-playbook``'s code once, then waits for runs. Each run arrives as one
record on that socket: a JSON request (the command ansible-runner prepared, its working
directory and environment) with two descriptors passed alongside (``SCM_RIGHTS``), a socket
for the answers and the write end of the run's output pipe. The worker forks; the child
becomes a session leader, takes the pipe as stdout and stderr, sets the run's environment and
runs ``ansible-playbook``'s main in the already-imported interpreter. The worker answers
``{"pid": N}`` at once and ``{"rc": N}`` when the child exits.

What the children share through the fork: the imported code and Ansible's local temp directory,
whose ``ansiballz_cache`` holds each module's payload, built once and keyed by module name. So
the worker must not outlive a change to the collection or to Ansible: the client keeps a
fingerprint of both (and of the shared environment) and restarts the worker when it moves.
That cache is a link to a private directory per code stamp (``CACHE_DIR``, see
:func:`gnt.nodes.warmclient.payload_cache`), so payloads outlive the worker and serve every
cluster of the machine; at start the worker forks a helper that builds the payloads of every
module the roles use (:func:`payload_modules`) which the cache does not hold yet.

The worker is single-threaded (forking from a threaded process is unsafe): one selector loop
over the control socket and a SIGCHLD wake-up pipe. On SIGTERM it stops its live runs and
exits; when the control socket closes (the master daemon is gone) it exits at once.
"""

from __future__ import annotations

import array
import io
import json
import os
import selectors
import signal
import socket
import sys
import traceback
from typing import Any

from gnt.nodes import modexec, proctree
from gnt.nodes.modexec_server import exited_children

#: Environment variables that may differ between runs; every other one must equal the
#: worker's own, since Ansible read its configuration from them when the worker imported it.
PER_RUN_ENV = ("AWX_ISOLATED_DATA_DIR", "GNT_ANSIBLE_RUN")

#: ``ansible-playbook``'s code, imported once in the worker.
WARM_IMPORTS = (
    "ansible.cli.playbook",
    "ansible.executor.playbook_executor",
    "ansible.executor.task_queue_manager",
    "ansible.executor.task_executor",
    "ansible.executor.process.worker",
    "ansible.executor.module_common",
    "ansible.inventory.manager",
    "ansible.vars.manager",
    "ansible.parsing.dataloader",
    "ansible.playbook.play",
    "ansible.playbook.role",
    "ansible.playbook.role_include",
    "ansible.template",
    "ansible.plugins.loader",
    "ansible.plugins.action",
    "ansible.plugins.connection",
    "ansible.plugins.strategy",
    "ansible.plugins.inventory",
    "ansible.module_utils.common.arg_spec",
    "ansible_runner.display_callback",
    # what each run imported itself: to start its task workers, and for its handlers
    "multiprocessing.popen_fork",
    "multiprocessing.synchronize",
    "ansible.playbook.handler_task_include",
)
#: Packages the collection loader makes in each run (its roles, its modules, the builtin
#: filters' alias), imported once the loader is set up.
WARM_COLLECTION_IMPORTS = (
    "ansible_collections.gnt.cluster.roles",
    "ansible_collections.gnt.cluster.plugins.modules",
    "ansible_collections.ansible.builtin.plugins.filter",
)

MAX_REQUEST = 1 << 20

#: Ansible's own modules the roles run (``copy`` also runs ``stat`` and ``file``); their
#: payloads are built ahead with those of every module of the collection.
BUILTIN_MODULES = ("command", "copy", "stat", "file")
#: Ansible's own actions the roles use that run no module on the node.
CONTROLLER_ACTIONS = ("set_fact", "fail", "assert", "include_tasks", "import_tasks")


#: Plugins every run of ours loads (loader attribute in ``ansible.plugins.loader``, name),
#: loaded (not instantiated) once in the worker; the callback plugins are loaded by
#: :func:`_prime_callbacks`. (Not vars plugins: Ansible keeps those as instances.)
WARM_PLUGINS = (
    ("inventory_loader", "ansible.builtin.yaml"),
    ("module_loader", "ansible.builtin.command"),
    ("action_loader", "ansible.builtin.normal"),
    ("connection_loader", "ansible.builtin.local"),
    ("connection_loader", "gnt.cluster.local"),
    ("connection_loader", "ansible.builtin.ssh"),
    ("connection_loader", "gnt.cluster.ssh"),
    ("shell_loader", "ansible.builtin.sh"),
    ("strategy_loader", "ansible.builtin.linear"),
    ("cache_loader", "ansible.builtin.memory"),
)
#: One filter and one test the roles use: loading one loads all of Ansible's own.
WARM_JINJA_PLUGINS = (("filter_loader", "ansible.builtin.default"),
                      ("test_loader", "ansible.builtin.defined"))


def warm_up() -> None:
    """Import ``ansible-playbook``'s code, set up Ansible's collection loader and load the
    plugins every run uses (with their documented options) into this process."""
    import importlib
    import warnings

    _prepare_titles()
    for name in WARM_IMPORTS:
        importlib.import_module(name)
    from ansible.plugins import loader

    loader.init_plugin_loader()
    for loader_name, plugin in WARM_PLUGINS:
        plugin_loader = getattr(loader, loader_name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if loader_name == "module_loader":
                plugin_loader.find_plugin(plugin)
            else:
                plugin_loader.get(plugin, class_only=True)
    _warm_module_tasks()
    # the action plugins of Ansible's own modules and actions the roles use, imported once
    # here instead of in each task worker
    for name in BUILTIN_MODULES + CONTROLLER_ACTIONS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loader.action_loader.get(f"ansible.builtin.{name}", class_only=True)
    _prime_callbacks(loader.callback_loader)
    _EVENT_WRITERS[:] = _find_event_writers()
    _skip_role_spec_checks()
    _reuse_cli_parser()
    # the first filter and the first test a task's template uses load all of Ansible's own
    # (~20 ms in every task's worker process otherwise)
    for jinja_loader, plugin in WARM_JINJA_PLUGINS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            getattr(loader, jinja_loader).get(plugin)
    # what PlaybookExecutor.run loads first in every run: every connection, shell and become
    # plugin with its documented options (~15 YAML documents parsed, ~0.1 s a run otherwise);
    # and what the inventory's set-up lists first, the vars plugins (~5 ms a run otherwise)
    for every in (loader.connection_loader, loader.shell_loader, loader.become_loader,
                  loader.vars_loader):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            list(every.all(class_only=True))


def _warm_module_tasks() -> None:
    """What every module task's worker process did first, once here: the collection's
    packages, the JSON profiles of the module's arguments and result, and the warm module
    interpreter's client that ``gnt.cluster.local`` loads (``modexec.py``, part of the code
    stamp the worker is restarted on). About 5 ms of each task otherwise."""
    import importlib

    for name in WARM_COLLECTION_IMPORTS:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    try:
        from ansible.module_utils.common.json import (
            Direction,
            get_module_decoder,
            get_module_encoder,
        )
    except ImportError:  # an Ansible without module serialization profiles
        pass
    else:
        get_module_encoder("legacy", Direction.CONTROLLER_TO_MODULE)
        get_module_decoder("legacy", Direction.MODULE_TO_CONTROLLER)
    from ansible_collections.gnt.cluster.plugins.plugin_utils.modexec_client import load_modexec

    load_modexec(modexec.PROGRAM)


def freeze_heap() -> None:
    """Collect garbage, then move every object left into the collector's permanent
    generation (``gc.freeze``), before the first fork. A child's collections then never walk
    the objects it shares with this process: a full collection in a child touched each of
    them, copying their pages on write, 10-20 ms at a random point of some runs."""
    import gc

    gc.collect()
    gc.freeze()


def _reuse_cli_parser() -> None:
    """Build ``ansible-playbook``'s option parser once, here (~3 ms of every run otherwise):
    each run's CLI takes this one, as its fork's copy. The options' defaults come from
    Ansible's settings, read from this worker's environment, which every run shares (only
    :data:`PER_RUN_ENV` differs, and Ansible reads none of it)."""
    from ansible.cli.playbook import PlaybookCLI

    prototype = PlaybookCLI(["ansible-playbook"])
    prototype.init_parser()
    parser = prototype.parser

    def init_parser(cli: Any) -> None:
        cli.parser = parser

    PlaybookCLI.init_parser = init_parser  # type: ignore[method-assign]


def _skip_role_spec_checks() -> None:
    """Ansible checks a role's vars against its ``meta/argument_specs.yml`` in every run:
    parse and deep copy of the spec (ours declare the shared records key by key) and a
    ``validate_argument_spec`` task, ~0.15 s a play. The executor has checked every play of
    the run against the same specs, with the same validator, before handing it over
    (:func:`gnt.nodes.rolespecs.check_plays`): the worker's runs load roles without their
    specs. (Plain ansible-runner runs keep Ansible's check.)"""
    from ansible.playbook.role import Role

    if hasattr(Role, "_get_role_argspecs"):
        Role._get_role_argspecs = lambda _role: {}  # type: ignore[method-assign]


def link_payload_cache(cache_dir: str) -> None:
    """Make Ansible's payload cache (``ansiballz_cache`` in this process's local temp
    directory, removed with it at exit: the link only) the directory ``cache_dir``."""
    from ansible import constants as C

    os.symlink(cache_dir, os.path.join(C.DEFAULT_LOCAL_TMP, "ansiballz_cache"))


def payload_modules() -> list[str]:
    """The modules whose payloads the worker builds ahead: the collection's (but those that
    only document a controller-side action plugin of the same name, such as
    ``gnt.cluster.checkpoint``: no payload is ever sent for them) and
    :data:`BUILTIN_MODULES`."""
    from gnt.core import settings

    plugins = settings.collection_root() / "plugins"
    return ([f"gnt.cluster.{path.stem}" for path in sorted((plugins / "modules").glob("*.py"))
             if path.name != "__init__.py" and not (plugins / "action" / path.name).exists()]
            + [f"ansible.builtin.{name}" for name in BUILTIN_MODULES])


def build_payloads(names: list[str]) -> list[str]:
    """Build the payload of each module of ``names`` into Ansible's cache (those it holds are
    only read); returns the names built or found."""
    from ansible import constants as C
    from ansible.executor import module_common
    from ansible.parsing.dataloader import DataLoader
    from ansible.plugins import loader
    from ansible.template import Templar

    templar = Templar(loader=DataLoader())
    compression = C.config.get_config_value("DEFAULT_MODULE_COMPRESSION")
    done = []
    for name in names:
        context = loader.module_loader.find_plugin_with_context(name)
        if not context.resolved:
            continue
        module_common.modify_module(
            module_name=name, module_path=context.plugin_resolved_path, module_args={},
            templar=templar, task_vars={"ansible_python_interpreter": sys.executable},
            module_compression=compression)
        done.append(name)
    return done


def start_payload_builder(close_fds: list[int]) -> int:
    """Fork the helper that runs :func:`build_payloads` (Ansible's lock keeps it and the
    runs from building one payload twice); returns its PID."""
    pid = os.fork()
    if pid:
        return pid
    rc = 0
    try:
        for fd in close_fds:
            os.close(fd)
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGTERM, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        _set_title("gnt warm worker: building module payloads")
        built = build_payloads(payload_modules())
        print(f"payloads ready: {len(built)} modules", file=sys.stderr, flush=True)
    except BaseException:  # pylint: disable=broad-except  # the helper must reach _exit
        rc = 1
        traceback.print_exc()
    finally:
        os._exit(rc)  # not Ansible's exit handlers: they remove the shared local temp dir


def _prime_callbacks(callback_loader: Any) -> None:
    """Load every callback plugin: each run lists them all, reading their documentation.
    ansible-runner's own (``awx_display``) is among them; it reads the artifact dir from
    ``AWX_ISOLATED_DATA_DIR`` when loaded, so the worker runs with a placeholder there and
    each child points the plugin at its run's dir (:func:`_aim_event_writer`)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _plugin in callback_loader.all(class_only=True):
            pass


#: ansible-runner's callback plugin's event writers, found once in the worker after the
#: callbacks are loaded (:func:`_find_event_writers`).
_EVENT_WRITERS: list[Any] = []


def _find_event_writers() -> list[Any]:
    """The event writers of the loaded modules (ansible-runner's callback plugin's
    ``event_context.cache``). A look at every module's attributes: ~10 ms, so the worker does
    it once and each child only re-aims what it found."""
    writers = []
    for module in list(sys.modules.values()):
        context = getattr(module, "event_context", None)
        writer = getattr(context, "cache", None)
        if writer is not None and hasattr(writer, "private_data_dir"):
            writers.append(writer)
    return writers


def _aim_event_writer(artifact_dir: str) -> None:
    """Point ansible-runner's callback plugin, loaded in the worker, at this run's artifact
    dir (where it drops each event's data for the executor to pick up)."""
    for writer in _EVENT_WRITERS or _find_event_writers():
        writer.private_data_dir = artifact_dir


def run_child(request: dict[str, Any], out_fd: int) -> None:
    """In the forked child: become a session leader, take ``out_fd`` as stdout and stderr,
    take the run's environment and directory, run ``ansible-playbook`` and exit with its
    code. Never returns."""
    rc = 250
    try:
        os.setsid()
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        os.close(out_fd)
        for sig in (signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # as in any Python process
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.set_wakeup_fd(-1)
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8",
                                      errors="replace", line_buffering=True, write_through=True)
        sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8",
                                      errors="replace", line_buffering=True, write_through=True)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        sys.argv = list(request["argv"])
        _aim_event_writer(os.environ["AWX_ISOLATED_DATA_DIR"])
        # the run's name (its private data dir): titles are no longer than the worker's argv
        _set_title(f"ansible-playbook {os.path.basename(os.path.dirname(request['cwd']))}")
        import warnings

        # the collection loader was set up in the worker (same settings): the CLI's second
        # set-up is a no-op that warns
        warnings.filterwarnings("ignore", message="AnsibleCollectionFinder has already been configured")
        from ansible.cli.playbook import PlaybookCLI

        try:
            PlaybookCLI.cli_executor(list(request["argv"]))
            rc = 0
        except SystemExit as done:
            code = done.code
            rc = code if isinstance(code, int) else (0 if code is None else 1)
    except BaseException:  # pylint: disable=broad-except  # the child must reach _exit
        try:
            traceback.print_exc()
        except BaseException:  # pylint: disable=broad-except
            pass
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:  # pylint: disable=broad-except
                pass
        os._exit(rc)


def _prepare_titles() -> None:
    """Set setproctitle up in the worker, before any fork, without moving the environment
    (``SPT_NOENV``): the orphan cleanup finds the worker's forks by the marker in their
    /proc environ. Titles are then as long as the worker's own command line."""
    os.environ["SPT_NOENV"] = "1"
    try:
        import setproctitle

        setproctitle.setproctitle(setproctitle.getproctitle())
    except ImportError:
        pass
    finally:
        del os.environ["SPT_NOENV"]


def _set_title(title: str) -> None:
    """Show the run as the command it stands for in ps (``ansible-playbook ...``)."""
    try:
        import setproctitle
    except ImportError:
        return
    setproctitle.setproctitle(title)


def env_mismatch(run_env: dict[str, str], own_env: dict[str, str]) -> list[str]:
    """The shared variables whose value in ``run_env`` differs from the worker's own: Ansible
    read its configuration from the worker's environment, so such a run must not use it."""
    names = (set(run_env) | set(own_env)) - set(PER_RUN_ENV)
    return sorted(name for name in names if run_env.get(name) != own_env.get(name))


class Worker:
    """The selector loop: take runs from the control socket, fork children, report exits."""

    def __init__(self, control_fd: int) -> None:
        self.own_env = dict(os.environ)
        self.sel = selectors.DefaultSelector()
        self.children: dict[int, socket.socket] = {}
        #: helpers of the worker itself (the payload builder): reaped, stopped with it
        self.helpers: set[int] = set()
        self.stopping = False
        self.control = socket.socket(fileno=control_fd)
        self.control.setblocking(True)
        self.sel.register(self.control, selectors.EVENT_READ, "control")
        self.wake_r, wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_args: None)
        signal.signal(signal.SIGTERM, self._stop)
        self.sel.register(self.wake_r, selectors.EVENT_READ, "wake")

    def _stop(self, *_args: Any) -> None:
        self.stopping = True

    def serve(self) -> None:
        """Run until SIGTERM (then stop the live runs) or until the control socket closes
        (the master daemon is gone: its runs are left to the next daemon's orphan cleanup,
        as ansible-playbook processes are in plain ansible-runner mode). The payload builder
        is stopped in both cases."""
        orphaned = False
        while not self.stopping and not orphaned:
            for key, _mask in self.sel.select(timeout=1.0):
                if key.data == "control":
                    orphaned = not self._take_request()
                elif key.data == "wake":
                    self._drain_wake()
            self._reap()
        # The payload builder stops with the worker either way: it must not write into a
        # local temp dir (or a cluster tree) the worker's exit or a cluster destroy removes.
        for pid in [*(self.children if self.stopping else ()), *self.helpers]:
            proctree.terminate_tree(pid)
        self._reap()

    def _drain_wake(self) -> None:
        try:
            while os.read(self.wake_r, 512):
                pass
        except BlockingIOError:
            pass

    def _take_request(self) -> bool:
        """Start the run the control socket carries; False when the control socket closed."""
        msg, ancdata, _flags, _addr = self.control.recvmsg(MAX_REQUEST, socket.CMSG_SPACE(4 * 4))
        fds: list[int] = []
        for level, kind, payload in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds += array.array("i", payload[:len(payload) - len(payload) % 4]).tolist()
        if not msg and not fds:
            return False
        if len(fds) != 2:
            for fd in fds:
                os.close(fd)
            return True
        conn = socket.socket(fileno=fds[0])
        out_fd = fds[1]
        try:
            request = json.loads(msg)
            mismatch = env_mismatch(request["env"], self.own_env)
            if mismatch:
                _send(conn, {"error": "stale worker: environment differs in " + ", ".join(mismatch)})
                conn.close()
                return True
            pid = os.fork()
            if pid == 0:
                self.control.close()
                conn.close()
                run_child(request, out_fd)
            self.children[pid] = conn
            _send(conn, {"pid": pid})
        except (OSError, ValueError, KeyError) as err:
            try:
                _send(conn, {"error": f"bad run request: {err}"})
            except OSError:
                pass
            conn.close()
        finally:
            os.close(out_fd)
        return True

    def _reap(self) -> None:
        for pid, code in exited_children():
            self.helpers.discard(pid)
            conn = self.children.pop(pid, None)
            if conn is None:
                continue
            try:
                _send(conn, {"rc": code})
            except OSError:
                pass
            conn.close()


def _send(conn: socket.socket, message: dict[str, Any]) -> None:
    conn.sendall(json.dumps(message).encode() + b"\n")


def main(argv: list[str] | None = None) -> int:
    """``python -m gnt.nodes.warm FD [CACHE_DIR]``: warm up, link the payload cache to
    ``CACHE_DIR`` (when given and not empty), say ``ready`` on stdout, start the payload
    builder, then serve the control socket ``FD`` until stopped."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (1, 2) or not args[0].isdigit():
        print("usage: python -m gnt.nodes.warm CONTROL_FD [CACHE_DIR]", file=sys.stderr)
        return 2
    warm_up()
    if len(args) == 2 and args[1]:
        link_payload_cache(args[1])
    freeze_heap()
    worker = Worker(int(args[0]))
    print("ready", flush=True)
    worker.helpers.add(start_payload_builder([worker.control.fileno(), worker.wake_r]))
    worker.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
