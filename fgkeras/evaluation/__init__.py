"""Evaluation: metrics, reports and figures of a model on a dataset or a run.

Modules: `metrics` (pure NumPy classification metrics), `evaluator`
(`evaluate`, `evaluate_run`, reports), `plots` (confusion matrix, per-class
accuracy, training curves).
"""

from fgkeras.evaluation.evaluator import evaluate, evaluate_run

__all__ = ["evaluate", "evaluate_run"]
