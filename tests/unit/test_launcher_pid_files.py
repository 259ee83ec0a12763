"""The native launcher stops exactly the processes its pid files name, and nothing else."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from types import ModuleType

import pytest

from tests.launcher import load_launcher


@pytest.fixture
def launcher(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("CREDFLOW_CACHE", str(tmp_path / "cache"))
    (tmp_path / "cache" / "state").mkdir(parents=True)
    return load_launcher("credflow_local_infra_under_test")


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_spawn_writes_a_pid_file_and_stop_ends_that_process(launcher: ModuleType) -> None:
    pid = launcher.spawn("sleeper", ["sleep", "300"])
    assert launcher.read_pid("sleeper") == pid
    # Popen returns while the child is still inside execve; its command line appears moments later.
    deadline = time.monotonic() + 5
    while not launcher.process_matches(pid, "sleep 300") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert launcher.process_matches(pid, "sleep 300")

    launcher.stop_pid("sleeper", "sleep 300")

    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid)
    assert not launcher.pid_file("sleeper").exists()
    assert (launcher.LOGS / "sleeper.log").exists()


def test_a_pid_file_naming_someone_elses_process_is_not_followed(launcher: ModuleType) -> None:
    # A stale pid file whose pid now belongs to an unrelated process (pid reuse).
    bystander = subprocess.Popen(["sleep", "301"])
    try:
        launcher.RUN.mkdir(parents=True, exist_ok=True)
        launcher.pid_file("kafka").write_text(f"{bystander.pid}\n")

        launcher.stop_pid("kafka", "kafka.Kafka")

        assert bystander.poll() is None, "an unrelated process was killed"
        assert not launcher.pid_file("kafka").exists(), "the stale pid file is cleared"
    finally:
        bystander.kill()
        bystander.wait()


def test_stop_without_a_pid_file_does_nothing(launcher: ModuleType) -> None:
    launcher.stop_pid("minio", "minio server")
    assert os.listdir(launcher.STATE) == []
