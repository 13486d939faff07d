"""Recurrent attention models: an LSTM looks at the feature map several times.

- `lstm_attention`: Show-Attend-and-Tell soft attention in its classifier
  form (Xu et al., ICML 2015, https://arxiv.org/abs/1502.03044). An LSTM
  takes ``steps`` glimpses of the backbone's cells; each glimpse is an
  attention map over the cells, scored from the LSTM's previous state, whose
  attended context is the LSTM's next input (`RecurrentAttention`). Each
  step's map is its own layer ("attention_maps_step1", ...), so
  `fgkeras.explain` draws one overlay per glimpse.
"""

import numbers

import keras
from keras import layers

from fgkeras.layers import DoublyStochasticPenalty, RecurrentAttention, SelectStep
from fgkeras.models.common import backbone_feature_map, channel_reduction, model_input
from fgkeras.models.heads import check_num_classes, classification_head
from fgkeras.models.registry import register_model

READOUTS = ("final", "mean_logits")
XU_2015 = "Show, Attend and Tell: Neural Image Caption Generation with Visual Attention"


def build_lstm_attention(
    num_classes: int = 200,
    backbone: str = "resnet50",
    weights="imagenet",
    input_shape=(448, 448, 3),
    steps: int = 3,
    units: int = 512,
    attention_units: int = 256,
    readout: str = "final",
    attention_penalty: float = 0.0,
    reduce_channels: int | None = None,
    dropout: float = 0.0,
    freeze_backbone: bool = False,
    name: str = "lstm_attention",
) -> keras.Model:
    """Backbone, an LSTM taking ``steps`` soft-attention glimpses, linear classifier.

    Xu et al., "Show, Attend and Tell", ICML 2015
    (https://arxiv.org/abs/1502.03044), classifier form. Step t scores every
    cell l from the previous LSTM state, e_tl = vᵀ tanh(W_f f_l + W_h h_{t-1}
    + b), α_t = softmax_l(e_t), and feeds z_t = Σ_l α_tl f_l to the LSTM;
    h_0 and c_0 come from the mean feature (the paper's f_init_h, f_init_c).
    Step t's readout is r_t = [h_t, z_t] (what the paper's deep output layer
    reads), of size ``units`` + channels. The "pooler" descriptor is r_T
    (``readout="final"``) or the mean of the r_t (``"mean_logits"``): the
    classifier being affine, its logits are then the mean of the per-step
    logits of one shared classifier (dropout, if any, is drawn once on the
    mean). Layers: "recurrent_attention" (readouts (batch, steps, dim) and
    maps), "attention_maps_step1" ... (batch, h, w, 1) each,
    "attention_penalty", "pooler", "head_dropout", "predictions".

    Args:
        num_classes: number of classes. Defaults to 200.
        backbone: backbone name. Defaults to "resnet50".
        weights: "imagenet", None or a weights file. Defaults to "imagenet".
        input_shape: (height, width, 3) raw RGB input. Defaults to (448, 448, 3).
        steps: number of glimpses. Defaults to 3.
        units: size of the LSTM state. Defaults to 512.
        attention_units: width of the additive scoring layer. Defaults to 256.
        readout: "final" (classify the last step) or "mean_logits" (average
            the per-step logits). Defaults to "final".
        attention_penalty: λ of the doubly stochastic penalty
            λ Σ_l (1 − Σ_t α_tl)², added to ``model.losses`` (0: none).
            Defaults to 0.0.
        reduce_channels: 1×1 convolution to this many channels before the
            LSTM (None: keep the backbone's). Defaults to None.
        dropout: dropout before the classifier. Defaults to 0.0.
        freeze_backbone: build with the backbone not trainable. Defaults to False.
        name: model name. Defaults to "lstm_attention".

    >>> model = build_lstm_attention(4, backbone="tiny", weights=None, input_shape=(32, 32, 3),
    ...                              steps=2, units=16, attention_units=8)
    >>> model.get_layer("attention_maps_step2").output.shape, model.get_layer("pooler").output.shape
    ((None, 8, 8, 1), (None, 144))
    """
    check_num_classes(num_classes)
    if readout not in READOUTS:
        raise ValueError(
            f"`readout` must be one of {list(READOUTS)}. Received: readout={readout!r}"
        )
    if isinstance(attention_penalty, bool) or not (
        isinstance(attention_penalty, numbers.Real) and attention_penalty >= 0
    ):
        raise ValueError(
            "`attention_penalty` must be a number >= 0 (0: no penalty). "
            f"Received: attention_penalty={attention_penalty!r}"
        )
    inputs = model_input(input_shape)
    feature_map = backbone_feature_map(inputs, backbone, weights, freeze_backbone)
    features = channel_reduction(feature_map, reduce_channels)
    sequence, maps = RecurrentAttention(
        units,
        steps,
        attention_units,
        return_sequences=True,
        return_attention=True,
        name="recurrent_attention",
    )(features)
    step_maps = [
        SelectStep(t, axis=-1, keepdims=True, name=f"attention_maps_step{t + 1}")(maps)
        for t in range(steps)
    ]
    sequence = DoublyStochasticPenalty(attention_penalty, name="attention_penalty")(
        [sequence, *step_maps]
    )
    if readout == "final":
        pooled = SelectStep(-1, axis=1, name="pooler")(sequence)
    else:
        pooled = layers.GlobalAveragePooling1D(name="pooler")(sequence)
    logits = classification_head(pooled, num_classes, dropout)
    return keras.Model(inputs, logits, name=name)


@register_model(
    family="recurrent",
    paper=XU_2015,
    year=2015,
    url="https://arxiv.org/abs/1502.03044",
    tags=("lstm", "attention", "recurrent"),
    data_config={"input_size": (448, 448), "resize_size": 512},
    capabilities=("classify", "embed", "grad_cam", "attention_maps", "mixing"),
)
def lstm_attention(**kwargs):
    """An LSTM taking soft-attention glimpses of the feature map (Show, Attend and Tell)."""
    return build_lstm_attention(**{"backbone": "resnet50", "name": "lstm_attention", **kwargs})
