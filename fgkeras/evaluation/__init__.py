"""Evaluation: metrics, reports and figures of a model on a dataset or a run.

Modules: `metrics` (pure NumPy classification metrics), `evaluator`
(`evaluate`, `evaluate_run`, reports), `retrieval` (Recall@K, MAP@R of
embeddings; `embed_dataset`), `few_shot` (N-way K-shot episodes with
prototypes), `zero_shot` (unseen classes from their attributes), `plots`
(confusion matrices, per-class accuracy, training curves, embedding
projection, feature maps), `multimodal_plots` (attribute predictions,
retrieval results), `example_plots` (augmented views, the images behind
the most-confused pairs), `curves` (generalization gap, runs' curves side
by side), `selective` (confidence thresholds: share routed to a person vs
accuracy of the rest).
"""

from fgkeras.evaluation.evaluator import evaluate, evaluate_run
from fgkeras.evaluation.few_shot import evaluate_few_shot, few_shot_episodes
from fgkeras.evaluation.retrieval import embed_dataset, retrieval_metrics
from fgkeras.evaluation.zero_shot import evaluate_zero_shot

__all__ = [
    "embed_dataset",
    "evaluate",
    "evaluate_few_shot",
    "evaluate_run",
    "evaluate_zero_shot",
    "few_shot_episodes",
    "retrieval_metrics",
]
