"""tf.distribute on this machine: two logical CPUs (Mirrored), two processes (MultiWorker)."""

import json
import os
import socket
import subprocess
import sys

import pytest

from fgkeras.training import distribute

TRAIN = [
    sys.executable,
    "-m",
    "fgkeras",
    "train",
    "baseline",
    "--source",
    "synthetic",
    "--backbone",
    "tiny",
    "--weights",
    "none",
    "--image-size",
    "32",
    "--batch-size",
    "8",
    "--limit",
    "64",
    "--epochs",
    "1",
    "--augment",
    "none",
    "--verbose",
    "0",
]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Subprocess limits leave a machine 4x slower than ours, with the suite's
# other workers busy beside it, room to pass; they only stop a hang.
SUBPROCESS_TIMEOUT_S = 1200


def run(args, env=None, timeout=SUBPROCESS_TIMEOUT_S):
    return subprocess.run(
        args, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=timeout
    )


def test_mirrored_strategy_on_two_cpu_devices(tmp_path):
    result = run(
        TRAIN + ["--distribute", "mirrored", "--cpu-replicas", "2", "--run-dir", str(tmp_path)]
    )
    assert result.returncode == 0, result.stderr[-2000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["replicas"] == 2
    assert metrics["num_examples"] == 64  # every test image evaluated exactly once


def test_multiworker_strategy_with_two_processes_on_loopback(tmp_path):
    ports = [free_port(), free_port()]
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    processes = []
    for index in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        processes.append(
            subprocess.Popen(
                TRAIN + ["--distribute", "multiworker", "--run-dir", str(tmp_path)],
                env={**os.environ, "TF_CONFIG": tf_config},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    try:
        outputs = [process.communicate(timeout=SUBPROCESS_TIMEOUT_S) for process in processes]
    finally:
        for process in processes:
            process.kill()
    for process, (_, stderr) in zip(processes, outputs):
        assert process.returncode == 0, stderr[-2000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["replicas"] == 2
    assert (tmp_path / "model.keras").exists()  # the chief writes the run directory
    assert (tmp_path / "workers" / "worker1").is_dir()  # the other worker writes aside


def test_tf_config_parsing(monkeypatch):
    monkeypatch.setenv(
        "TF_CONFIG",
        json.dumps({"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 1}}),
    )
    assert distribute.cluster_workers() == 2
    assert not distribute.is_chief()
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ValueError, match="TF_CONFIG is not valid JSON"):
        distribute.cluster_workers()


def test_unknown_strategy():
    with pytest.raises(ValueError, match="distribute"):
        distribute.make_strategy("tpu")
