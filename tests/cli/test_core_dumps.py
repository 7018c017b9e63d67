"""No key material in core files: ``sealbox serve`` (supervisor and workers) and the key-handling
commands run with RLIMIT_CORE 0 and are not dumpable (``prctl(PR_SET_DUMPABLE, 0)``).

Each process here is started as it would be on a machine with core dumps enabled (the soft
RLIMIT_CORE raised to the hard limit, the working directory a temporary one) and then checked from
outside: the limit in ``/proc/<pid>/limits``, and what a real crash (SIGSEGV) leaves behind — the
wait status's core-dump bit and any core file in the crashing process's directory. The second crash
test first raises the worker's limit again from outside (prlimit, as root), so only the dumpable
flag stands between the crash and a core file (where this process may raise another's hard limit).
"""

from __future__ import annotations

import glob
import json
import os
import re
import resource
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.support import ACCESS_KEY, SEALBOX, SECRET_KEY, Server, wait_ready

POLL = 0.05
POLLS = 600  # every wait is bounded (30 s)
CORE_PATTERN = Path("/proc/sys/kernel/core_pattern")
# Run as root, the processes under test take the group "nogroup" (uid stays root, so they can still
# read the interpreter and the data directory): whether they are dumpable shows in their /proc files.
PROCESS_GROUP = 65534 if os.geteuid() == 0 else None


def enable_core_dumps() -> None:
    """preexec_fn: what ``ulimit -c unlimited`` does in the shell that starts sealbox."""
    _, hard = resource.getrlimit(resource.RLIMIT_CORE)
    resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))


def core_glob(cwd: Path) -> str | None:
    """Where the kernel would write a core of a process whose working directory is ``cwd``, or
    None when this machine hands cores to a program or an absolute path (not observable here)."""
    pattern = CORE_PATTERN.read_text().strip() if CORE_PATTERN.exists() else ""
    if not pattern or pattern.startswith("|") or "/" in pattern:
        return None
    return str(cwd / re.sub(r"%.", "*", pattern)) + "*"  # core_uses_pid may append ".<pid>"


def needs_core_dumps() -> None:
    if resource.getrlimit(resource.RLIMIT_CORE)[1] == 0:
        pytest.skip("the hard RLIMIT_CORE is 0 here: no process could dump core anyway")


def core_limit(pid: int) -> tuple[str, str]:
    """(soft, hard) "Max core file size" from /proc/<pid>/limits."""
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max core file size"):
            soft, hard = line.split()[4:6]
            return soft, hard
    raise AssertionError(f"no core limit in /proc/{pid}/limits")


def effective_id(pid: int, which: str) -> int:
    found = re.search(rf"^{which}:\s+\d+\s+(\d+)", Path(f"/proc/{pid}/status").read_text(), re.M)
    assert found is not None
    return int(found.group(1))


def assert_not_dumpable(pid: int) -> None:
    """RLIMIT_CORE 0, and not dumpable: the kernel gives a non-dumpable process's /proc/<pid> files
    (environ, mem, fd, ...) to root:root instead of its own effective uid and gid. The processes
    here run with a group other than root's (see ``PROCESS_GROUP``), so the check means something
    even when the tests run as root."""
    assert core_limit(pid) == ("0", "0"), (pid, core_limit(pid))
    euid, egid = effective_id(pid, "Uid"), effective_id(pid, "Gid")
    assert (euid, egid) != (0, 0), "a process of root:root cannot show whether it is dumpable"
    owner = Path(f"/proc/{pid}/environ").stat()
    assert (owner.st_uid, owner.st_gid) == (0, 0), f"{pid} is dumpable (its /proc files are {euid}:{egid}'s)"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """``sealbox serve`` with 2 workers, started with core dumps enabled, its cwd a temp dir."""
    needs_core_dumps()
    data_dir, cwd = tmp_path / "data", tmp_path / "cwd"
    data_dir.mkdir()
    cwd.mkdir()
    log_path = tmp_path / "server.log"
    env = {**os.environ, "SEALBOX_ACCESS_KEY": ACCESS_KEY, "SEALBOX_SECRET_KEY": SECRET_KEY,
           "SEALBOX_CONSOLE_PORT": "0"}
    argv = [str(SEALBOX), "serve", "--data-dir", str(data_dir), "--port", "0", "--workers", "2",
            "--log-level", "warning"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                start_new_session=True, preexec_fn=enable_core_dumps, group=PROCESS_GROUP)
    try:
        ports = wait_ready(proc, log_path)
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    srv = Server(proc, ports["s3"], data_dir, log_path)
    srv.extra["cwd"] = cwd
    yield srv
    srv.stop()


def s3(srv: Server) -> Any:
    return srv.client()


def workers(srv: Server) -> list[int]:
    found = [p.pid for p in psutil.Process(srv.proc.pid).children()]
    assert len(found) == 2, found
    return found


def crash_worker(srv: Server, pid: int) -> int:
    """SIGSEGV one worker; the wait status the supervisor saw (it logs it and starts another)."""
    os.kill(pid, signal.SIGSEGV)
    for _ in range(POLLS):
        found = re.search(rf"worker {pid} exited \(status (\d+)\)", srv.log())
        if found:
            return int(found.group(1))
        time.sleep(POLL)
    raise AssertionError(f"the supervisor did not report worker {pid}:\n{srv.log()}")


def test_supervisor_and_workers_run_without_core_dumps(server: Server) -> None:
    s3(server).list_buckets()  # the workers have loaded keys and served a signed request
    for pid in [server.proc.pid, *workers(server)]:
        assert_not_dumpable(pid)


def test_a_crashed_worker_leaves_no_core_file(server: Server) -> None:
    where = core_glob(server.extra["cwd"])  # type: ignore[arg-type]
    if where is None:
        pytest.skip(f"core_pattern {CORE_PATTERN.read_text().strip()!r} is not a file in the process's directory")
    s3(server).list_buckets()
    first, second = workers(server)
    status = crash_worker(server, first)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGSEGV
    assert not os.WCOREDUMP(status), "the worker dumped core"
    # Only the dumpable flag left: raise the other worker's limit again from outside, where this
    # process may (CAP_SYS_RESOURCE; containers often drop it: then the flag is checked through
    # /proc ownership in the test above only).
    try:
        resource.prlimit(second, resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    except PermissionError:
        pass
    else:
        assert core_limit(second) == ("unlimited", "unlimited")
        status = crash_worker(server, second)
        assert not os.WCOREDUMP(status), "a worker whose core limit was raised again dumped core"
    assert glob.glob(where) == []
    s3(server).list_buckets()  # the supervisor replaced both


def test_keys_rotate_runs_without_core_dumps(tmp_path: Path, server: Server) -> None:
    """A CLI command holding the keyring (``keys rotate`` pausing between batches) crashes
    without a core file; its limit is 0 while it runs."""
    cwd = tmp_path / "cli-cwd"
    cwd.mkdir()
    key_file = server.data_dir / "keys" / "master-keys.json"
    argv = [str(SEALBOX), "keys", "rotate", "--new-key", "--batch", "1", "--pause", "30", "--data-dir",
            str(server.data_dir)]
    env = {k: v for k, v in os.environ.items() if k != "SEALBOX_MASTER_KEYS"}
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=enable_core_dumps, group=PROCESS_GROUP)
    try:
        for _ in range(POLLS):  # the new key is saved: the keyring is loaded, the first batch follows
            if len(json.loads(key_file.read_text())["keys"]) == 2:
                break
            assert proc.poll() is None, "keys rotate ended before its pause"
            time.sleep(POLL)
        else:
            raise AssertionError("keys rotate did not save a new key")
        assert_not_dumpable(proc.pid)
        os.kill(proc.pid, signal.SIGSEGV)
        _, status = os.waitpid(proc.pid, 0)
        proc.returncode = -signal.SIGSEGV
    finally:
        if proc.returncode is None:
            proc.kill()
            proc.wait(timeout=15)
    assert os.WIFSIGNALED(status) and not os.WCOREDUMP(status)
    where = core_glob(cwd)
    if where is not None:
        assert glob.glob(where) == []
