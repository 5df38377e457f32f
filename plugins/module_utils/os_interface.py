# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031 -- Ansible module conventions (see docs/node-primitives.md)
"""Ganeti OS definitions: discovery, validation and running their scripts.

An OS definition is a directory named after the OS in one of the directories of the OS
search path (the first match wins). It holds ``ganeti_api_version`` (one supported version
per line) and the executables ``create``, ``import``, ``export`` and ``rename``; optionally
``verify``, ``variants.list`` and ``parameters.list``. We support API versions 5, 10, 15
and 20 and use the highest one both sides support.

- API 5 passes arguments (``create -i NAME -b DISK0 -s DISK1``, ``rename -o OLD -n NEW
  -b DISK0 -s DISK1``, ``export -i NAME -b DISK``, ``import`` like create).
- API 10 and later pass a clean environment (``OS_API_VERSION``, ``INSTANCE_NAME``,
  ``DISK_<N>_PATH``, ...), as ganeti-os-interface(7) describes, and no arguments.

No Ansible import: the coordinator may reuse discovery and the environment builder.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import errno
import os
import stat
import subprocess
import tempfile
import time

SUPPORTED_API_VERSIONS = (5, 10, 15, 20)
REQUIRED_SCRIPTS = ("create", "import", "export", "rename")
ACTIONS = ("create", "import", "export", "rename")
SCRIPT_PATH = "/sbin:/bin:/usr/sbin:/usr/bin"
LOG_TAIL_LINES = 20
# Extended attribute set on every disk of an instance once its OS create script succeeded;
# its value is the instance UUID. It lives and dies with the disk files (a new disk has none).
INSTALL_MARKER_XATTR = "user.gnt.os_installed"


class OSDefinitionError(Exception):
    """An OS definition problem or a failed OS script; the message names the OS and cause."""


def split_os_name(os_name):
    """Split ``"name+variant"`` into ``("name", "variant")``; no variant gives ``""``."""
    name, _sep, variant = (os_name or "").partition("+")
    return name, variant


def _read_list(path):
    """Lines of a text file without blanks and ``#`` comments; ``None`` if it is missing."""
    try:
        with open(path) as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def load_os(name, path):
    """Inspect the OS definition directory ``path`` and return its description dict:
    ``name, path, valid, api_versions, api_version (the one we would use), variants,
    parameters ([[name, description], ...]), has_verify, error``."""
    info = collections.OrderedDict(
        name=name, path=path, valid=False, api_versions=[], api_version=None, variants=[],
        parameters=[], has_verify=False, error="")
    if not os.path.isdir(path):
        info["error"] = "OS %s: %s is not a directory" % (name, path)
        return info
    versions_file = os.path.join(path, "ganeti_api_version")
    lines = _read_list(versions_file)
    if lines is None:
        info["error"] = "OS %s: missing or unreadable %s" % (name, versions_file)
        return info
    versions = []
    for line in lines:
        try:
            versions.append(int(line))
        except ValueError:
            info["error"] = "OS %s: invalid API version %r in %s" % (name, line, versions_file)
            return info
    info["api_versions"] = versions
    common = set(versions) & set(SUPPORTED_API_VERSIONS)
    if not common:
        info["error"] = ("OS %s: API versions %s in %s; supported are %s"
                         % (name, ", ".join(str(v) for v in versions) or "none",
                            versions_file, ", ".join(str(v) for v in SUPPORTED_API_VERSIONS)))
        return info
    info["api_version"] = max(common)
    missing = [script for script in REQUIRED_SCRIPTS
               if not os.path.isfile(os.path.join(path, script))]
    not_exec = [script for script in REQUIRED_SCRIPTS if script not in missing
                and not os.access(os.path.join(path, script), os.X_OK)]
    if missing or not_exec:
        parts = []
        if missing:
            parts.append("missing script(s) %s" % ", ".join(missing))
        if not_exec:
            parts.append("script(s) not executable: %s" % ", ".join(not_exec))
        info["error"] = "OS %s in %s: %s" % (name, path, "; ".join(parts))
        return info
    verify = os.path.join(path, "verify")
    info["has_verify"] = os.path.isfile(verify) and os.access(verify, os.X_OK)
    if info["api_version"] >= 15:
        info["variants"] = _read_list(os.path.join(path, "variants.list")) or []
    if info["api_version"] >= 20:
        params = _read_list(os.path.join(path, "parameters.list")) or []
        info["parameters"] = [list(_split_param(line)) for line in params]
    info["valid"] = True
    return info


def _split_param(line):
    parts = line.split(None, 1)
    return parts[0], (parts[1].strip() if len(parts) > 1 else "")


def find_os(os_name, search_path):
    """Return :func:`load_os` of the first directory called ``name`` (variant stripped) in
    ``search_path``; raises :class:`OSDefinitionError` if none exists."""
    name, _variant = split_os_name(os_name)
    if not name or "/" in name or name.startswith("."):
        raise OSDefinitionError("invalid OS name %r" % (os_name,))
    for directory in search_path:
        candidate = os.path.join(directory, name)
        if os.path.isdir(candidate):
            return load_os(name, candidate)
    raise OSDefinitionError("OS %s not found in the OS search path %s"
                            % (name, ", ".join(search_path)))


def diagnose(search_path):
    """Return the description of every OS in ``search_path`` (first match per name wins),
    sorted by name; each has ``shadowed`` listing same-named dirs later in the path."""
    found = collections.OrderedDict()  # type: collections.OrderedDict[str, dict]
    for directory in search_path:
        try:
            entries = sorted(os.listdir(directory))
        except OSError:
            continue
        for entry in entries:
            path = os.path.join(directory, entry)
            if entry.startswith(".") or not os.path.isdir(path):
                continue
            if entry in found:
                found[entry]["shadowed"].append(path)
                continue
            info = load_os(entry, path)
            info["shadowed"] = []
            found[entry] = info
    return [found[name] for name in sorted(found)]


def check_variant_and_params(osdef, variant, osparams):
    """Check ``variant`` and ``osparams`` against the OS's declared ones; return the variant
    to use (the first declared one when none is given). Raises :class:`OSDefinitionError`
    naming the bad value and listing the valid ones."""
    name = osdef["name"]
    variants = osdef["variants"]
    if variant and osdef["api_version"] < 15:
        raise OSDefinitionError("OS %s (API %d) does not support variants, got %r"
                                % (name, osdef["api_version"], variant))
    if variant and not variants:
        raise OSDefinitionError("OS %s declares no variants (no variants.list), got %r"
                                % (name, variant))
    if variant and variant not in variants:
        raise OSDefinitionError("OS %s has no variant %r (valid: %s)"
                                % (name, variant, ", ".join(variants)))
    if not variant and variants:
        variant = variants[0]
    if osparams and osdef["api_version"] >= 20:
        known = [param[0] for param in osdef["parameters"]]
        unknown = sorted(set(osparams) - set(known))
        if unknown:
            raise OSDefinitionError("OS %s does not know parameter(s) %s (valid: %s)"
                                    % (name, ", ".join(unknown), ", ".join(known) or "none"))
    return variant


def _sorted_by_index(items):
    return sorted(items or [], key=lambda item: item.get("index", 0))


def core_env(osdef, instance, variant="", debug_level=0):
    """The common environment of API >= 10 scripts (OS_*, DEBUG_LEVEL, OSP_*, PATH)."""
    api = osdef["api_version"]
    env = {
        "OS_API_VERSION": "%d" % api,
        "OS_NAME": osdef["name"],
        "OS_VARIANT": variant if api >= 15 else "",
        "DEBUG_LEVEL": "%d" % int(debug_level or 0),
        "PATH": SCRIPT_PATH,
    }
    for key, value in (instance.get("osparams") or {}).items():
        env["OSP_%s" % key.upper()] = _str(value)
    return env


def _str(value):
    """Stringify like Python 2 Ganeti does (``True`` -> ``"True"``, ``None`` -> ``""``)."""
    if value is None:
        return ""
    return str(value)


def build_env(osdef, instance, action, variant="", debug_level=0, old_name=None,
              disk_index=0, reinstall=False):
    """Return the environment for running ``action`` of ``osdef`` on ``instance``.

    API 5 scripts get only ``PATH``; API >= 10 get the documented variables.
    """
    if osdef["api_version"] < 10:
        return {"PATH": SCRIPT_PATH}
    env = core_env(osdef, instance, variant, debug_level)
    hv = instance.get("hvparams") or {}
    env["INSTANCE_NAME"] = instance["name"]
    env["INSTANCE_OS"] = instance.get("os") or osdef["name"]
    for key in ("uuid", "primary_node", "ctime", "mtime"):
        if instance.get(key) is not None:
            env["INSTANCE_%s" % key.upper()] = _str(instance[key])
    env["INSTANCE_SECONDARY_NODES"] = " ".join(instance.get("secondary_nodes") or [])
    env["HYPERVISOR"] = instance.get("hypervisor") or "kvm"
    disks = _sorted_by_index(instance.get("disks"))
    env["DISK_COUNT"] = "%d" % len(disks)
    backend = "block" if instance.get("disk_template") in ("plain", "drbd", "blockdev") \
        else "file:loop"
    for idx, disk in enumerate(disks):
        env["DISK_%d_PATH" % idx] = disk["path"]
        env["DISK_%d_ACCESS" % idx] = disk.get("mode") or "rw"
        if disk.get("uuid"):
            env["DISK_%d_UUID" % idx] = disk["uuid"]
        if disk.get("name"):
            env["DISK_%d_NAME" % idx] = disk["name"]
        if "disk_type" in hv:
            env["DISK_%d_FRONTEND_TYPE" % idx] = _str(hv["disk_type"])
        env["DISK_%d_BACKEND_TYPE" % idx] = disk.get("backend_type") or backend
    nics = _sorted_by_index(instance.get("nics"))
    env["NIC_COUNT"] = "%d" % len(nics)
    for idx, nic in enumerate(nics):
        env["NIC_%d_MAC" % idx] = nic.get("mac") or ""
        if nic.get("uuid"):
            env["NIC_%d_UUID" % idx] = nic["uuid"]
        if nic.get("name"):
            env["NIC_%d_NAME" % idx] = nic["name"]
        if nic.get("ip"):
            env["NIC_%d_IP" % idx] = nic["ip"]
        mode = nic.get("mode") or "bridged"
        env["NIC_%d_MODE" % idx] = mode
        if nic.get("link"):
            if mode == "bridged":
                env["NIC_%d_BRIDGE" % idx] = nic["link"]
            env["NIC_%d_LINK" % idx] = nic["link"]
        if "nic_type" in hv:
            env["NIC_%d_FRONTEND_TYPE" % idx] = _str(hv["nic_type"])
    for source, kind in ((instance.get("beparams") or {}, "BE"), (hv, "HV")):
        for key, value in source.items():
            env["INSTANCE_%s_%s" % (kind, key)] = _str(value)
    if action == "rename":
        env["OLD_INSTANCE_NAME"] = old_name or ""
    elif action in ("export", "import"):
        disk = _disk_at(instance, disks, disk_index)
        prefix = action.upper()
        env["%s_INDEX" % prefix] = "%d" % disk_index
        env["%s_DEVICE" % prefix] = disk["path"]
        env["%s_DISK_PATH" % prefix] = disk["path"]
    elif action == "create" and reinstall:
        env["INSTANCE_REINSTALL"] = "1"
    return env


def _disk_at(instance, disks, disk_index):
    if not 0 <= disk_index < len(disks):
        raise OSDefinitionError("instance %s has no disk %d (it has %d)"
                                % (instance["name"], disk_index, len(disks)))
    return disks[disk_index]


def build_args(osdef, instance, action, old_name=None, disk_index=0):
    """Return the argument list (after the script path) for ``action``: API 5 arguments as
    in ganeti-os-interface(7) version 5; API >= 10 scripts get none."""
    if osdef["api_version"] >= 10:
        return []
    disks = _sorted_by_index(instance.get("disks"))
    name = instance["name"]
    if action == "export":
        return ["-i", name, "-b", _disk_at(instance, disks, disk_index)["path"]]
    if action == "import" and disk_index:
        # API 5 knows one root and one swap disk; a further disk is imported on its own.
        return ["-i", name, "-b", _disk_at(instance, disks, disk_index)["path"]]
    if len(disks) < 2:
        raise OSDefinitionError(
            "OS %s uses API 5, whose %s script needs two disks (root and swap); instance %s "
            "has %d" % (osdef["name"], action, name, len(disks)))
    tail = ["-b", disks[0]["path"], "-s", disks[1]["path"]]
    if action == "rename":
        return ["-o", old_name or "", "-n", name] + tail
    return ["-i", name] + tail


def log_file_name(log_dir, action, os_name, instance_name):
    """``<log_dir>/<action>-<os>-<instance>-<timestamp>.log``, made unique if it exists."""
    stamp = time.strftime("%Y-%m-%d_%H_%M_%S")
    safe = [part.replace("/", "_") for part in (action, os_name, instance_name)]
    base = os.path.join(log_dir, "%s-%s-%s-%s" % (safe[0], safe[1], safe[2], stamp))
    path, counter = base + ".log", 1
    while os.path.exists(path):
        path = "%s.%d.log" % (base, counter)
        counter += 1
    return path


def make_private_dirs(path):
    """Create ``path`` and its missing parents 0700 from creation (existing ones kept)."""
    missing = []
    current = os.path.abspath(path)
    while not os.path.isdir(current):
        missing.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, 0o700)
        except OSError as err:
            if err.errno != errno.EEXIST:
                raise


def open_private_log(path):
    """Open a new log file for writing, 0600 from creation (an OS script's output can hold
    secrets); never an existing file or a symlink."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    return os.fdopen(os.open(path, flags, 0o600), "wb")


def tail_lines(path, count=LOG_TAIL_LINES):
    """Return the last ``count`` lines of the text file ``path`` ([] if unreadable)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 65536))
            data = handle.read().decode("utf-8", "replace")
    except OSError:
        return []
    return data.splitlines()[-count:]


def script_command(osdef, instance, action, variant="", debug_level=0, old_name=None,
                   disk_index=0, reinstall=False):
    """``(argv, env)`` running ``action`` of ``osdef`` for ``instance`` (run it in the OS
    directory): the script path with the API 5 arguments, and the clean environment."""
    if action not in ACTIONS:
        raise OSDefinitionError("unknown OS action %r (valid: %s)" % (action, ", ".join(ACTIONS)))
    script = os.path.join(osdef["path"], action)
    env = build_env(osdef, instance, action, variant, debug_level, old_name, disk_index,
                    reinstall)
    return [script] + build_args(osdef, instance, action, old_name, disk_index), env


def run_script(osdef, instance, action, variant="", debug_level=0, old_name=None,
               disk_index=0, log_dir=None, stdin_path=None, stdout_path=None,
               reinstall=False):
    """Run ``action`` of ``osdef`` for ``instance`` in the OS directory with a clean
    environment. Output goes to a log file in ``log_dir`` (stdout to ``stdout_path`` instead,
    for export); stdin comes from ``stdin_path`` (import) or ``/dev/null``.

    Returns ``{"rc", "script", "log_path", "api_version", "variant", "env", "args"}``;
    raises :class:`OSDefinitionError` on a non-zero exit, naming the OS, the script, the
    exit code and the log path, with the last lines of the log appended.
    """
    if action not in ACTIONS:
        raise OSDefinitionError("unknown OS action %r (valid: %s)" % (action, ", ".join(ACTIONS)))
    if action == "export" and not stdout_path:
        raise OSDefinitionError("OS %s export needs stdout_path (where the dump goes)"
                                % osdef["name"])
    if action == "import" and not stdin_path:
        raise OSDefinitionError("OS %s import needs stdin_path (the dump to read)"
                                % osdef["name"])
    argv, env = script_command(osdef, instance, action, variant, debug_level, old_name,
                               disk_index, reinstall)
    script, args = argv[0], argv[1:]
    log_path = None
    if log_dir:
        make_private_dirs(log_dir)
        log_path = log_file_name(log_dir, action, instance.get("os") or osdef["name"],
                                 instance["name"])
    log = open_private_log(log_path) if log_path else tempfile.TemporaryFile()
    stdin = open(stdin_path, "rb") if stdin_path else open(os.devnull, "rb")
    stdout = open(stdout_path, "wb") if stdout_path else log
    try:
        rc = subprocess.call([script] + args, cwd=osdef["path"], env=env, stdin=stdin,
                             stdout=stdout, stderr=log, close_fds=True)
        tail = []
        if rc != 0:
            log.flush()
            if log_path:
                tail = tail_lines(log_path)
            else:
                log.seek(0)
                tail = log.read().decode("utf-8", "replace").splitlines()[-LOG_TAIL_LINES:]
    except OSError as err:
        raise OSDefinitionError("OS %s: cannot run %s for instance %s: %s"
                                % (osdef["name"], script, instance["name"], err)) from err
    finally:
        stdin.close()
        if stdout is not log:
            stdout.close()
        log.close()
    result = {"rc": rc, "script": script, "log_path": log_path,
              "api_version": osdef["api_version"], "variant": variant, "env": env,
              "args": args, "log_tail": tail}
    if rc != 0:
        failure = OSDefinitionError(
            "OS %s: %s script %s for instance %s failed with exit code %d (log: %s)%s"
            % (osdef["name"], action, script, instance["name"], rc, log_path or "not kept",
               "".join("\n  " + line for line in tail)))
        failure.result = result  # type: ignore[attr-defined]
        raise failure
    return result


def verify_parameters(osdef, instance, variant="", debug_level=0):
    """Run the OS's ``verify parameters`` (API >= 20, when it has one) with the core
    environment. Returns ``None`` when skipped, else the exit code; raises
    :class:`OSDefinitionError` with the script's output on failure."""
    if osdef["api_version"] < 20 or not osdef["has_verify"]:
        return None
    env = core_env(osdef, instance, variant, debug_level)
    proc = subprocess.Popen([os.path.join(osdef["path"], "verify"), "parameters"],
                            cwd=osdef["path"], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = proc.communicate()[0].decode("utf-8", "replace")
    if proc.returncode != 0:
        raise OSDefinitionError("OS %s: verify of parameters %s failed with exit code %d: %s"
                                % (osdef["name"], sorted(instance.get("osparams") or {}),
                                   proc.returncode, output.strip()))
    return proc.returncode


def _is_block_device(path):
    """True when ``path`` is (a link to) a block device (a plain or drbd disk)."""
    try:
        return stat.S_ISBLK(os.stat(path).st_mode)
    except OSError:
        return False


def install_recorded(instance):
    """True when every disk of ``instance`` records a completed OS install of this instance
    (:data:`INSTALL_MARKER_XATTR` holding its UUID). No disks, no UUID, a missing disk or a
    disk without the mark give ``False``: the create script must (still) run."""
    disks = instance.get("disks") or []
    uuid = instance.get("uuid")
    if not disks or not uuid:
        return False
    for disk in disks:
        if _is_block_device(disk["path"]):
            return False   # no place for the mark: the create script runs each time
        try:
            value = os.getxattr(disk["path"], INSTALL_MARKER_XATTR)
        except OSError:
            return False
        if value.decode("utf-8", "replace") != uuid:
            return False
    return True


def mark_install(instance, completed):
    """Record (``completed=True``) or clear the OS install mark on every disk of ``instance``.

    Returns warnings naming the disks whose file system refused the mark (then a rerun installs
    again); a disk without a mark or a missing disk is fine when clearing."""
    warnings = []
    for disk in instance.get("disks") or []:
        path = disk["path"]
        if _is_block_device(path):
            continue   # extended attributes are for files: an LV or DRBD device has none
        try:
            if completed:
                os.setxattr(path, INSTALL_MARKER_XATTR, instance["uuid"].encode("utf-8"))
            else:
                os.removexattr(path, INSTALL_MARKER_XATTR)
        except OSError as err:
            if not completed and err.errno in (errno.ENODATA, errno.ENOENT, errno.ENOTSUP):
                continue
            warnings.append("cannot %s the OS install mark on disk %s of instance %s: %s"
                            % ("record" if completed else "clear", path, instance["name"],
                               err.strerror or err))
    return warnings
