"""What a run minimises: cross-entropy, a metric loss on the embedding, or both.

``fgkeras.train(..., loss=...)`` takes one of `LOSS_CHOICES`:

- ``"auto"``: the loss the model card declares (``"cross_entropy"`` today);
- ``"cross_entropy"``: softmax cross-entropy on the logits (with
  ``label_smoothing`` and ``mixing`` as before);
- ``"triplet"`` / ``"contrastive"``: a metric loss on the model's embedding
  (`fgkeras.models.heads.embedding_layer`), L2-normalised; the classifier
  layer is not trained, and the best checkpoint follows validation Recall@1;
- ``"cross_entropy+triplet"`` / ``"cross_entropy+contrastive"``: the weighted
  sum of both; the best checkpoint follows validation accuracy.

The weight of each term is ``loss_term_weights`` (``{"triplet": 0.5}``; terms
left out weigh 1.0), and the metric loss's own arguments are
``metric_loss_options`` (``{"margin": 0.3, "mining": "semi_hard"}``).
"""

from __future__ import annotations

import dataclasses

from fgkeras import losses

CROSS_ENTROPY = "cross_entropy"
METRIC_LOSSES = {"triplet": losses.TripletLoss, "contrastive": losses.ContrastiveLoss}
LOSS_CHOICES = (
    "auto",
    "cross_entropy",
    "triplet",
    "contrastive",
    "cross_entropy+triplet",
    "cross_entropy+contrastive",
)
# Margins suited to L2-normalised embeddings (distances in [0, 2]).
METRIC_DEFAULTS = {
    "triplet": {"margin": 0.2, "mining": "batch_hard", "normalize": True},
    "contrastive": {"margin": 0.5, "normalize": True},
}
RETRIEVAL_MONITOR = "val_recall_at_1"


@dataclasses.dataclass(frozen=True)
class Objective:
    """The resolved loss of a run: its terms and their weights.

    >>> objective = resolve_objective("cross_entropy+triplet", {"triplet": 0.5})
    >>> objective.terms, objective.weights, objective.metric_term
    (('cross_entropy', 'triplet'), (1.0, 0.5), 'triplet')
    >>> objective.has_classifier_loss, objective.monitor("val_accuracy")
    (True, 'val_accuracy')
    """

    terms: tuple[str, ...]
    weights: tuple[float, ...]
    metric_options: dict = dataclasses.field(default_factory=dict)

    @property
    def has_classifier_loss(self) -> bool:
        return CROSS_ENTROPY in self.terms

    @property
    def metric_term(self) -> str | None:
        """The metric loss's name, or None for plain cross-entropy."""
        return next((term for term in self.terms if term in METRIC_LOSSES), None)

    def metric_loss(self):
        """A new `fgkeras.losses` object for the metric term (None without one)."""
        if self.metric_term is None:
            return None
        options = {**METRIC_DEFAULTS[self.metric_term], **self.metric_options}
        return METRIC_LOSSES[self.metric_term](**options)

    def weight(self, term: str) -> float:
        return self.weights[self.terms.index(term)]

    def monitor(self, card_monitor: str) -> str:
        """The validation metric that picks the best checkpoint."""
        return card_monitor if self.has_classifier_loss else RETRIEVAL_MONITOR


def resolve_objective(loss="auto", term_weights=None, metric_options=None, card_loss=CROSS_ENTROPY):
    """Parse ``loss`` (one of `LOSS_CHOICES`) into an `Objective`.

    Args:
        loss: the loss name; ``"auto"`` takes ``card_loss``. Defaults to "auto".
        term_weights: weight per term name; missing terms weigh 1.0.
            Defaults to None.
        metric_options: arguments of the metric loss (``margin``,
            ``mining``, ...). Defaults to None.
        card_loss: the model card's declared loss. Defaults to "cross_entropy".

    >>> resolve_objective("triplet").monitor("val_accuracy")
    'val_recall_at_1'
    >>> resolve_objective("hinge")
    Traceback (most recent call last):
    ...
    ValueError: `loss` must be one of ('auto', 'cross_entropy', 'triplet', 'contrastive', \
'cross_entropy+triplet', 'cross_entropy+contrastive'). Received: loss='hinge'
    """
    if loss not in LOSS_CHOICES:
        raise ValueError(f"`loss` must be one of {LOSS_CHOICES}. Received: loss={loss!r}")
    name = card_loss if loss == "auto" else loss
    terms = tuple(name.split("+"))
    term_weights = dict(term_weights or {})
    unknown = sorted(set(term_weights) - set(terms))
    if unknown:
        raise ValueError(
            f"`loss_term_weights` names terms {unknown} that loss={name!r} does not have; "
            f"its terms are {list(terms)}. Received: loss_term_weights={term_weights!r}"
        )
    weights = []
    for term in terms:
        weight = term_weights.get(term, 1.0)
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
            raise ValueError(
                f"Each loss term weight must be a number >= 0. "
                f"Received: loss_term_weights={term_weights!r}"
            )
        weights.append(float(weight))
    metric_options = dict(metric_options or {})
    objective = Objective(terms, tuple(weights), metric_options)
    if metric_options and objective.metric_term is None:
        raise ValueError(
            f"`metric_loss_options` are for the triplet or contrastive loss, and loss={name!r} "
            f"has neither. Received: metric_loss_options={metric_options!r}"
        )
    try:
        objective.metric_loss()  # bad options fail now, before any work
    except TypeError as error:
        raise ValueError(
            f"Bad `metric_loss_options` for the {objective.metric_term} loss: {error}. "
            f"Received: metric_loss_options={metric_options!r}"
        ) from error
    return objective
