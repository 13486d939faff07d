"""Choosing a `tf.distribute` strategy, and the batch/learning-rate rules.

- "auto": MultiWorkerMirroredStrategy when ``TF_CONFIG`` names a cluster of
  more than one worker; MirroredStrategy when several GPUs are visible;
  otherwise the default (single-device) strategy.
- "mirrored": MirroredStrategy over every visible GPU, or over
  ``cpu_replicas`` logical CPU devices (how it is tested without GPUs).
- "multiworker": MultiWorkerMirroredStrategy from ``TF_CONFIG``.
- "none": the default strategy.

Batch size and learning rate across replicas are explicit: ``batch_size`` is
per replica, the global batch is ``batch_size × replicas``, and with
``scale_learning_rate=True`` the learning rate is multiplied by the number of
replicas (the linear scaling rule of Goyal et al., 2017).
"""

from __future__ import annotations

import json
import os

STRATEGIES = ("auto", "none", "mirrored", "multiworker")


def cluster_workers() -> int:
    """Number of workers that ``TF_CONFIG`` describes (0 when unset).

    >>> cluster_workers() >= 0
    True
    """
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return 0
    try:
        cluster = json.loads(raw).get("cluster", {})
    except json.JSONDecodeError as error:
        raise ValueError(f"TF_CONFIG is not valid JSON: {error}. Received: {raw[:200]}") from error
    return len(cluster.get("worker", [])) + len(cluster.get("chief", []))


def is_chief() -> bool:
    """True unless this process is a non-chief worker of a TF_CONFIG cluster.

    >>> is_chief()
    True
    """
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return True
    config = json.loads(raw)
    task = config.get("task", {})
    cluster = config.get("cluster", {})
    if "chief" in cluster:
        return task.get("type") == "chief"
    return task.get("type", "worker") == "worker" and int(task.get("index", 0)) == 0


def make_strategy(distribute: str = "auto", cpu_replicas: int | None = None):
    """Create the `tf.distribute` strategy that ``distribute`` names.

    Args:
        distribute: one of "auto", "none", "mirrored", "multiworker".
            Defaults to "auto".
        cpu_replicas: split the CPU into this many logical devices first (for
            testing MirroredStrategy without GPUs); must be called before
            TensorFlow initializes its devices. Defaults to None.

    >>> make_strategy("none").num_replicas_in_sync
    1
    """
    import tensorflow as tf

    if distribute not in STRATEGIES:
        raise ValueError(f"`distribute` must be one of {STRATEGIES}. Received: {distribute!r}")
    if cpu_replicas:
        _split_cpu(tf, int(cpu_replicas))
    if distribute == "auto":
        if cluster_workers() > 1:
            distribute = "multiworker"
        elif len(tf.config.list_logical_devices("GPU")) > 1 or cpu_replicas:
            distribute = "mirrored"
        else:
            distribute = "none"
    if distribute == "multiworker":
        if cluster_workers() < 1:
            raise ValueError("distribute='multiworker' needs TF_CONFIG describing the cluster.")
        return tf.distribute.MultiWorkerMirroredStrategy()
    if distribute == "mirrored":
        devices = None
        if not tf.config.list_logical_devices("GPU"):
            devices = [device.name for device in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=devices)
    return tf.distribute.get_strategy()


def _split_cpu(tf, replicas: int) -> None:
    cpu = tf.config.list_physical_devices("CPU")[0]
    current = tf.config.get_logical_device_configuration(cpu)
    if current and len(current) == replicas:
        return
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(replicas)]
        )
    except RuntimeError as error:
        raise ValueError(
            "cpu_replicas must be set before TensorFlow initializes its devices "
            "(start a fresh process)."
        ) from error
