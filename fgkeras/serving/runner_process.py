"""A separate Python process that loads SavedModels and runs their signatures.

`fgkeras.serving.verify` checks an export where a server would load it: in
a process that has TensorFlow and NumPy but never imports fgkeras. Starting
such a process costs seconds (importing TensorFlow), more than loading a
small SavedModel, so one process is started per Python session, on first
use, and reused for every later check (exporting all the models of a zoo
with ``--verify`` in one session pays the start-up once). Each request
loads its SavedModel afresh; nothing of an earlier model is reused.

The protocol is one JSON line per request on stdin (``path``, ``inputs``,
``outputs``: the SavedModel folder, an ``.npz`` of ``images``, ``pixels``
and any other input ``extra__<signature>__<input>``, and where to write the
``.npz`` of every signature's outputs) and one JSON line per answer on
stdout (the signature listing, whether fgkeras is imported, or ``error``).
A request to a process that has died is sent again, once, to a new one; a
process that timed out is replaced on the next request.

>>> runner = SavedModelRunner()
>>> runner.run("/no/such/model", "/no/inputs.npz", "/no/outputs.npz")["error"][:8]
'OSError:'
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading

TF_LOG_LINE = re.compile(r"^[IWEF]\d{4} |^WARNING: All log messages")

# Runs in the separate process: TensorFlow and NumPy only.
_SERVER = r"""
import json, sys
import numpy as np
import tensorflow as tf

def run(path, inputs_path, outputs_path):
    loaded = tf.saved_model.load(path)
    data = np.load(inputs_path, allow_pickle=True)
    images = tf.constant(list(data["images"]), tf.string)
    pixels = tf.constant(data["pixels"])
    out, listing = {}, {}
    for name, fn in loaded.signatures.items():
        inputs = fn.structured_input_signature[1]
        listing[name] = {
            "inputs": {k: [v.dtype.name, v.shape.as_list()] for k, v in inputs.items()},
            "outputs": {k: [v.dtype.name, v.shape.as_list()]
                        for k, v in fn.structured_outputs.items()},
        }
        feed = {}
        for k, v in inputs.items():
            extra = f"extra__{name}__{k}"  # e.g. zero_shot's class table
            if extra in data.files:
                feed[k] = tf.constant(data[extra])
            else:
                feed[k] = images if v.dtype == tf.string else pixels
        for key, value in fn(**feed).items():
            out[name + "/" + key] = value.numpy()
    np.savez(outputs_path, **out)
    return {"signatures": listing, "imports_fgkeras": "fgkeras" in sys.modules}

for line in sys.stdin:
    request = json.loads(line)
    try:
        answer = run(request["path"], request["inputs"], request["outputs"])
    except Exception as error:  # the caller turns it into its own error
        answer = {"error": f"{type(error).__name__}: {error}".splitlines()[0][:2000]}
    sys.stdout.write("ANSWER " + json.dumps(answer) + "\n")
    sys.stdout.flush()
"""


class SavedModelRunner:
    """The long-lived process; `run` sends it one SavedModel to load and run."""

    def __init__(self):
        self._process = None
        self._answers = None
        self._log = None
        self._lock = threading.Lock()

    def run(self, path, inputs_path, outputs_path, timeout=300) -> dict:
        """Load ``path`` in the process, run every signature on ``inputs_path``.

        Returns the answer: ``signatures`` and ``imports_fgkeras``, or ``error``
        (a one-line description; also when the process died or timed out).
        """
        request = {
            "path": os.path.abspath(os.fspath(path)),
            "inputs": os.fspath(inputs_path),
            "outputs": os.fspath(outputs_path),
        }
        with self._lock:
            # A process that died since the last request (killed, out of memory) may
            # still look alive for a moment: then the request is sent again, once,
            # to a new process.
            for _attempt in (1, 2):
                try:
                    self._start()
                    self._process.stdin.write(json.dumps(request) + "\n")
                    self._process.stdin.flush()
                    answer = self._answers.get(timeout=timeout)
                except queue.Empty:
                    self.close()
                    return {"error": f"no answer within {timeout} s"}
                except OSError:  # the process is gone; its log says why
                    answer = None
                if answer is not None:
                    return answer
                reason = self._last_log_line()
                self.close()
            return {"error": f"the process exited: {reason}"}

    @property
    def pid(self):
        """The process id of the running process, None when none runs."""
        running = self._process is not None and self._process.poll() is None
        return self._process.pid if running else None

    def close(self) -> None:
        """Stop the process (a later `run` starts a new one)."""
        if self._process is not None:
            if self._process.poll() is None:
                self._process.kill()
            self._process.wait()
            self._process.stdin.close()  # stdout is closed by its reader thread at EOF
            self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def _start(self):
        if self._process is not None and self._process.poll() is None:
            return
        self.close()
        self._log = tempfile.TemporaryFile(mode="w+")  # a pipe could fill up and block
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONNOUSERSITE="1")
        self._process = subprocess.Popen(
            [sys.executable, "-c", _SERVER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            # Not the repository: `import fgkeras` must not resolve by accident.
            cwd=tempfile.gettempdir(),
            env=env,
        )
        self._answers = queue.Queue()
        threading.Thread(
            target=_read_answers, args=(self._process.stdout, self._answers), daemon=True
        ).start()

    def _last_log_line(self) -> str:
        self._log.seek(0)
        lines = [line.strip() for line in self._log.read().splitlines() if line.strip()]
        # TensorFlow's own log lines ("E0000 00:00:... cuda_platform.cc ...") say nothing
        # about the SavedModel; the Python error is the last other line.
        lines = [line for line in lines if not TF_LOG_LINE.match(line)] or lines
        return lines[-1] if lines else "?"


def _read_answers(stream, answers):
    with stream:
        for line in stream:
            if line.startswith("ANSWER "):
                answers.put(json.loads(line[len("ANSWER ") :]))
    answers.put(None)  # end of stream: the process exited


_RUNNER = SavedModelRunner()
atexit.register(_RUNNER.close)


def shared_runner() -> SavedModelRunner:
    """The session's `SavedModelRunner` (started on first use, stopped at exit)."""
    return _RUNNER
