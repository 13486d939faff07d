# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Frequently asked questions, answered by measurement
#
# **Chapter:** §9, FAQ.
# **Model:** `baseline` (backbone + global average pooling) on the small
# `tiny` backbone, trained from scratch on the four Fashion-MNIST tops
# (T-shirt/top, Pullover, Coat, Shirt: the fine-grained part of the set).
#
# Four questions come up again and again. Rules of thumb answer them in
# general; this notebook answers each one with a measurement you can rerun
# on your own data and machine:
#
# 1. **Does data augmentation help?** The same model trained with the
#    augmentation policy `"none"` and with the package's fine-grained
#    policy `"fgvc"`: test accuracy and the train-test gap.
# 2. **How do I see and fight overfitting?** Training and validation
#    curves without and with regularisation, side by side, and the gap at
#    the end as a number.
# 3. **How fast is inference?** Time per image against batch size, for
#    the Keras model in float32 and in mixed bfloat16 and for two TFLite
#    conversions, as ratios to a baseline timed in the same run.
# 4. **Which framework, which model?** What the project's own benchmarks
#    measured (`benchmarks/results/*.json`), and what Keras 3's backends
#    mean for this package.
#
# With the default quick schedule it runs in one to two minutes on a
# 2-core CPU. Set `FGKERAS_TUTORIAL_QUICK=0` before starting the kernel for the
# full schedule (see the conclusion).

# %% [markdown]
# ## Setup

# %%
import importlib.util
import json
import os
import re
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Image, display

import fgkeras
from fgkeras.evaluation.curves import generalization_gap, plot_curve_comparison
from fgkeras.inference.speed import measure_throughput, plot_throughput
from fgkeras.serving import tflite
from fgkeras.serving.signatures import ServingFunctions

QUICK = os.environ.get("FGKERAS_TUTORIAL_QUICK", "1") == "1"
OUT_DIR = os.path.join("runs", "tutorials", "09_faq")
SOURCE, IMAGE_SIZE, CHANCE = "fashion_mnist_tops", 28, 0.25

if QUICK:  # about a minute on 2 CPU cores
    IMAGES, EPOCHS, BATCH_SIZES, REPEATS = 256, 6, (1, 8, 64), 5
else:  # the full schedule
    IMAGES, EPOCHS, BATCH_SIZES, REPEATS = 2000, 15, (1, 8, 64, 256), 15
print(
    f"quick={QUICK}: {IMAGE_SIZE}x{IMAGE_SIZE} images, {IMAGES} training and {IMAGES} test "
    f"images of the 4 tops, {EPOCHS} epochs; timing: batch sizes {BATCH_SIZES}, "
    f"{REPEATS} repeats"
)

# %% [markdown]
# ## 1. Does data augmentation help?
#
# Augmentation shows the network a slightly different version of each
# training image every epoch, so that it learns what stays the same
# (the garment) rather than the exact pixels of a few hundred images.
# `fgkeras.train(..., augment=POLICY)` runs a policy of Keras augmentation
# layers on the device, inside the training step only: evaluation,
# prediction and export see clean images. The fine-grained policy
# `"fgvc"` keeps the details that tell classes apart: a horizontal flip,
# a small rotation (±9°) and zoom (±10 %), brightness and contrast jitter
# (`fgkeras.data.build_augmenter`). Here are six training images and two
# random draws of the policy on each:

# %%
augmenter = fgkeras.data.build_augmenter("fgvc", seed=0)
print("fgvc policy:", [layer.__class__.__name__ for layer in augmenter.layers])
train_clean = fgkeras.data.load(
    SOURCE, "train", image_size=IMAGE_SIZE, batch_size=128, limit=IMAGES, shuffle=False
)
class_names = train_clean.class_names
images, labels = next(iter(train_clean))
images, labels = images[:6], labels[:6].numpy()

figure, axes = plt.subplots(3, 6, figsize=(9, 4.8))
for row, title in enumerate(("original", "fgvc draw 1", "fgvc draw 2")):
    shown = images if row == 0 else augmenter(images, training=True)
    for column in range(6):
        axis = axes[row, column]
        axis.imshow(np.asarray(shown[column]).astype("uint8"))
        axis.set_xticks([])
        axis.set_yticks([])
        if row == 0:
            axis.set_title(class_names[labels[column]], fontsize=9)
        if column == 0:
            axis.set_ylabel(title, fontsize=9)
plt.show()

# %% [markdown]
# A question about a regulariser can only be answered by comparing runs
# that differ in that regulariser alone. We train the same network three
# times, with the same images, epochs, optimizer (SGD with Nesterov
# momentum, learning rate 0.05, cosine decay) and seed:
#
# - **none**: no augmentation, no weight decay, no dropout, no label smoothing;
# - **fgvc**: the same with `augment="fgvc"`: it differs from *none* in the
#   augmentation only, which answers question 1;
# - **fgvc+dropout+smoothing**: augmentation plus dropout 0.3 before the
#   classifier (`model_options={"dropout": 0.3}`) and label smoothing 0.1,
#   for question 2.
#
# A small training set (the quick schedule trains on 256 images, about 64 per class)
# is where overfitting shows first, and where regularisation should matter
# most.

# %%
RUNS = {
    "none": dict(augment="none"),
    "fgvc": dict(augment="fgvc"),
    "fgvc+dropout+smoothing": dict(
        augment="fgvc", label_smoothing=0.1, model_options={"dropout": 0.3}
    ),
}
results = {}
for name, options in RUNS.items():
    start = time.time()
    results[name] = fgkeras.train(
        "baseline",
        SOURCE,
        run_dir=os.path.join(OUT_DIR, name),
        backbone="tiny",
        weights=None,
        image_size=IMAGE_SIZE,
        limit=IMAGES,  # the first IMAGES of each split: training and test
        batch_size=32,
        epochs=EPOCHS,
        optimizer="sgd",
        learning_rate=0.05,
        weight_decay=0.0,
        seed=0,
        verbose=0,
        **options,
    )
    print(f"{name:<24} trained in {time.time() - start:5.1f} s")

# %% [markdown]
# `train` evaluated each model on the test images (`result.metrics`). The
# training accuracy that Keras logs during an epoch is measured on
# augmented batches, with dropout on, while the weights change; to compare
# like with like we evaluate the final model on the **clean** training
# images too. The **train-test gap** is the clean training accuracy minus
# the test accuracy.
#
# Each accuracy is measured on a few hundred images, so it has a sampling
# error: for an accuracy $p$ on $n$ images, the binomial standard error is
# $\mathrm{SE} = \sqrt{p(1-p)/n}$; two runs whose accuracies differ by less
# than about $2\sqrt{\mathrm{SE}_1^2 + \mathrm{SE}_2^2}$ are not told apart
# by this test set.

# %%
summary = {}
print(f"{'run':<24} {'train (clean)':>13} {'test':>7} {'gap':>7} {'test SE':>8}")
for name, result in results.items():
    train_accuracy = fgkeras.evaluate(result.model, train_clean)["top1_accuracy"]
    test_accuracy = result.metrics["top1_accuracy"]
    n = result.metrics["num_examples"]
    summary[name] = {
        "train": train_accuracy,
        "test": test_accuracy,
        "gap": train_accuracy - test_accuracy,
        "se": np.sqrt(test_accuracy * (1 - test_accuracy) / n),
    }
    row = summary[name]
    print(
        f"{name:<24} {row['train']:>13.3f} {row['test']:>7.3f} {row['gap']:>+7.3f} "
        f"{row['se']:>8.3f}"
    )
none, fgvc = summary["none"], summary["fgvc"]
noise = 2 * np.hypot(none["se"], fgvc["se"])
print(
    f"augmentation (fgvc - none): test accuracy {fgvc['test'] - none['test']:+.3f} "
    f"(noise band ±{noise:.3f}), train-test gap {fgvc['gap'] - none['gap']:+.3f} "
    f"(chance {CHANCE:.2f})"
)

# %% [markdown]
# (The noise band treats the two accuracies as independent; both runs are
# tested on the same images, so it is on the safe, wide side.)
#
# **Answer 1.** Augmentation narrows the train-test gap: without it the
# network fits its few hundred training images much better than new ones;
# with it the clean training and test accuracies stay closer. It does so
# mostly by lowering the training accuracy. Whether it also raises the
# *test* accuracy is a separate question, and here the measured answer is
# no: in the quick run the two test accuracies differ by less than the
# noise band above, and in the full schedule (see the conclusion), where
# the unaugmented network reaches 100 % on its training images, the two
# still tie on the test images. A likely reason, not measured here:
# Fashion-MNIST images are centred, upright and evenly lit, so flips,
# rotations and lighting changes teach little that the test images need.
# Augmentation is not free accuracy; measure it on your data and budget,
# with the comparison above.
#
# ## 2. How do I see and fight overfitting?
#
# Overfitting shows in the curves: the training loss keeps falling while
# the validation loss stalls or rises, and the best validation epoch comes
# before the last. `plot_curve_comparison` draws one column per run
# (training solid, validation dashed, the same axes across a row) and puts
# the gap at the last epoch in each title; `generalization_gap` returns it
# as a number, with the best validation epoch. `fgkeras.train` has these
# regularisers: `augment=` (a policy), `mixing=` (MixUp / CutMix),
# `label_smoothing=`, `weight_decay=`, `model_options={"dropout": ...}`
# and `ema_momentum=` (weight averaging); `val_split=` sets the curves'
# validation data and `best.keras` keeps the best epoch's model.

# %%
curves_path = plot_curve_comparison(
    {name: result.history for name, result in results.items()},
    metrics=("loss", "accuracy"),
    path=os.path.join(OUT_DIR, "curve_comparison.png"),
)
display(Image(curves_path, width=860))
for name, result in results.items():
    gaps = {metric: generalization_gap(result.history, metric) for metric in ("loss", "accuracy")}
    accuracy = gaps["accuracy"]
    print(
        f"{name:<24} last epoch: accuracy train {accuracy['train']:.3f} val "
        f"{accuracy['validation']:.3f} (gap {accuracy['gap']:+.3f}), loss gap "
        f"{gaps['loss']['gap']:+.3f}; best val accuracy {accuracy['best_validation']:.3f} "
        f"at epoch {accuracy['best_epoch']}"
    )

# %% [markdown]
# Read the panels from left to right. Without regularisation the training
# loss falls fastest and ends far below the validation loss: the gap that
# opens between the two curves is overfitting. With augmentation the
# training curves are *worse*, as they should be (they are measured on
# harder, augmented images, with dropout on in the third run), and the
# validation curve follows them closely. Label smoothing raises the
# training loss itself (its minimum is above zero), so compare the
# accuracy row across runs, not the loss row. The logged training values
# are measured in training mode (augmented images, dropout on, BatchNorm
# on batch statistics, weights changing through the epoch), so the logged
# gaps differ from the clean gaps of the table in question 1, in either
# direction: compare runs by the clean gap.
#
# **Answer 2.** Watch the validation curve, not the training one; put a
# number on the gap at the end (and on the gap of the clean training
# accuracy, table above); keep the best epoch (`best.keras`). To fight the
# gap: more data first, then augmentation, then dropout, label smoothing,
# weight decay or MixUp/CutMix, each checked by a run that changes that
# one thing.
#
# ## 3. How fast is inference?
#
# Absolute times on a shared CPU change from run to run, so we measure
# **ratios**: every path is timed in the same run, in turns
# (`measure_throughput` calls each (path, batch size) pair once to warm up,
# then `REPEATS` times round-robin, reversing the order every other round)
# and reported as its speed-up over one baseline, the float32 Keras model
# at batch size 1 (median times; above 1 = faster). The paths:
#
# - **Keras float32**: the trained *none* model, `model.predict_on_batch`;
# - **Keras mixed_bfloat16**: the same weights in a model built under the
#   dtype policy `"mixed_bfloat16"` (variables float32, computation in
#   bfloat16, the classifier kept in float32);
# - **TFLite float32** and **TFLite dynamic** (weights stored as int8)
#   from `fgkeras.serving.tflite.convert`. The TFLite signature takes one
#   image at a time (decoding stays outside TFLite), so a batch of $B$ is
#   $B$ calls.
#
# Wall time is what a caller waits; CPU time (all threads of this
# process) is the work done and scatters less on a busy machine. Both
# ratios are printed.

# %%
model = results["none"].model
keras.config.set_dtype_policy("mixed_bfloat16")
model_bf16 = fgkeras.build(
    "baseline",
    num_classes=len(class_names),
    backbone="tiny",
    weights=None,
    input_shape=(IMAGE_SIZE, IMAGE_SIZE, 3),
)
keras.config.set_dtype_policy("float32")
model_bf16.set_weights(model.get_weights())

functions = ServingFunctions(model, class_names)
converted = {variant: tflite.convert(functions, variant) for variant in ("float32", "dynamic")}
runners = {variant: tflite.interpreter(content) for variant, content in converted.items()}

paths = {
    "Keras float32": model,
    "Keras mixed_bfloat16": model_bf16,
    "TFLite float32": lambda batch: tflite.run(runners["float32"], batch),
    "TFLite dynamic": lambda batch: tflite.run(runners["dynamic"], batch),
}
speed = measure_throughput(paths, batch_sizes=BATCH_SIZES, repeats=REPEATS)
print(f"{'path':<22} {'batch':>5} {'ms/image':>9} {'× baseline (wall)':>18} {'× (CPU)':>8}")
for row in speed:
    print(
        f"{row['name']:<22} {row['batch_size']:>5} {1000 * row['seconds_per_image']:>9.3f} "
        f"{row['speedup']:>18.2f} {row['cpu_speedup']:>8.2f}"
    )
speed_path = plot_throughput(
    speed,
    os.path.join(OUT_DIR, "throughput.png"),
    clock="cpu",
    title="speed-up over Keras float32 at batch 1 (CPU time)",
)
display(Image(speed_path, width=560))

# %% [markdown]
# Faster is only useful if the answers stay the same. On 64 test images,
# the top-1 agreement with the float32 Keras model and the largest
# difference of a class probability:

# %%
test_data = fgkeras.data.load(
    SOURCE, "test", image_size=IMAGE_SIZE, batch_size=64, limit=64, shuffle=False
)
test_images = next(iter(test_data))[0].numpy()
reference = keras.ops.convert_to_numpy(keras.ops.softmax(model.predict_on_batch(test_images)))
bf16 = keras.ops.convert_to_numpy(keras.ops.softmax(model_bf16.predict_on_batch(test_images)))
agreement = {
    "Keras mixed_bfloat16": (
        float(np.mean(bf16.argmax(-1) == reference.argmax(-1))),
        float(np.abs(bf16 - reference).max()),
        None,
    )
}
for variant, content in converted.items():
    check = tflite.parity(content, functions, test_images, repeats=1)
    agreement[f"TFLite {variant}"] = (
        check["top1_agreement"],
        check["max_abs_diff_probabilities"],
        check["size_bytes"],
    )
for name, (top1, difference, size) in agreement.items():
    size_text = f"{size / 1e6:.2f} MB" if size else "(Keras model)"
    print(f"{name:<22} top-1 agreement {top1:.3f}   max |Δp| {difference:.4f}   {size_text}")

# %% [markdown]
# What decides the answer on a CPU:
#
# - **Batch size.** A Keras call has a fixed cost (the graph launch); at
#   batch 1 it dominates a small model, so time per image falls steeply
#   with the batch until the arithmetic dominates.
# - **bfloat16** halves the bytes moved and, on CPUs with bfloat16
#   instructions (AVX512-BF16, AMX), speeds up the matrix products; without
#   them TensorFlow emulates it and it can be *slower* than float32. Its
#   answers differ slightly (8 bits of mantissa), so check agreement. On a
#   GPU, `mixed_float16` or `mixed_bfloat16` is the usual choice.
# - **TFLite** has a much smaller fixed cost per call than Keras, so it
#   wins at batch 1, where a phone or a production line classifies; its
#   `dynamic` variant stores int8 weights (a quarter of the size) and
#   runs int8 kernels, at the price of slightly different probabilities.
#   At large batches the Keras model amortises its fixed cost and catches
#   up with TFLite float32.
#
# This CPU's flags (what the bfloat16 result depends on):

# %%
cpu_flags = set()
if os.path.exists("/proc/cpuinfo"):
    with open("/proc/cpuinfo") as cpuinfo:
        cpu_flags = set(re.findall(r"\b(avx2|avx512f|avx512_bf16|amx_bf16)\b", cpuinfo.read()))
print("bfloat16-relevant CPU flags:", sorted(cpu_flags) or "none found (or not Linux)")
by_path = {(row["name"], row["batch_size"]): row for row in speed}
largest = max(BATCH_SIZES)
for name in paths:
    print(
        f"{name:<22} speed-up at batch {largest} over the same path at batch 1 (CPU): "
        f"{by_path[name, largest]['cpu_speedup'] / by_path[name, 1]['cpu_speedup']:.2f}"
    )

# %% [markdown]
# **Answer 3.** Measure it on the target machine, as ratios, with the
# numbers above as the method. On this CPU: batching is the largest lever
# for Keras; TFLite is the fastest path for one image at a time; whether
# mixed bfloat16 helps depends on the CPU's instructions and the batch
# size, and costs a little agreement. `benchmarks/serving.py` times the
# exported SavedModel, REST and TFLite paths the same way.
#
# ## 4. Which framework, which model should I choose?
#
# The benchmark scripts in `benchmarks/` write their results, with the
# command, date and machine, to `benchmarks/results/<name>.json`. We read
# those files here (they are part of the repository, not of the installed
# package) rather than quoting numbers.

# %%
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(fgkeras.__file__)))
RESULTS = os.path.join(ROOT, "benchmarks", "results")
benchmarks = {}
for name in ("model_costs", "fashion_mnist", "recurrent_models", "multimodal"):
    path = os.path.join(RESULTS, f"{name}.json")
    if os.path.isfile(path):
        with open(path) as f:
            benchmarks[name] = json.load(f)
        print(f"{name}.json: `{benchmarks[name]['command']}`, {benchmarks[name]['date']}")
    else:
        print(f"{name}.json not found: {path} (run from a clone of the repository)")

# %% [markdown]
# **Framework: what does the zoo cost over plain Keras?**
# `benchmarks/model_costs.py` builds the flagship, a VGG16 B-CNN, once
# with `fgkeras.build("bcnn")` and once in plain Keras without fgkeras,
# copies the weights across, checks that the logits are the same, and
# times both in turns:

# %%
flagship = benchmarks["model_costs"]["data"]["flagship"]
print("benchmarks/model_costs.py, VGG16 B-CNN, zoo / plain Keras (median CPU time):")
for row in flagship["rows"]:
    cpu = row["cpu"]
    paired = cpu["paired_ratios"]
    print(
        f"  {row['input']} px {row['phase']:<10} batch {row['batch']}: ratio "
        f"{cpu['ratio']:.3f} (per repeat {min(paired):.2f}-{max(paired):.2f}), same logits: "
        f"max |difference| {row['max_logit_difference']:.1g}"
    )
print(f"target zoo / plain <= {flagship['target_ratio']}: met = {flagship['target_met']}")

# %% [markdown]
# **Model: accuracy and cost.** Accuracy from three benchmark scripts
# (mean ± half the range over seeds; a single seed where it says so), and
# the train-step cost relative to `baseline` measured in the same
# benchmark run:

# %%
recurrent = benchmarks["recurrent_models"]["data"]
multimodal = benchmarks["multimodal"]["data"]["rows"]
print("benchmarks/recurrent_models.py, synthetic benchmark preset (27 classes, 48 px):")
for setting, label in (("synthetic", "synthetic preset"), ("fashion_mnist", "Fashion-MNIST")):
    rows = [row for row in recurrent["rows"] if row["setting"] == setting]
    print(f"  {label}:")
    for model_name in dict.fromkeys(row["model"] for row in rows):
        top1 = [row["top1"] for row in rows if row["model"] == model_name]
        step = recurrent["step_costs"][setting][model_name]
        print(
            f"    {model_name:<18} top-1 {np.mean(top1):.3f} ± {np.ptp(top1) / 2:.3f} "
            f"({len(top1)} seeds)   train step × baseline {step:.2f}"
        )
print("benchmarks/multimodal.py, same preset, image only at test unless said:")
for model_name, key, note in (
    ("baseline", "top1", ""),
    ("attribute_multitask", "top1", ""),
    ("attribute_guided", "top1", "with the family given at test"),
    ("attribute_guided", "top1_without_side", "family unknown at test"),
):
    top1 = [row[key] for row in multimodal if row["model"] == model_name]
    print(
        f"    {model_name:<20} top-1 {np.mean(top1):.3f} ± {np.ptp(top1) / 2:.3f} "
        f"({len(top1)} seeds) {note}"
    )
print("benchmarks/fashion_mnist.py, the 4 tops, 8 epochs, 1 seed:")
for row in benchmarks["fashion_mnist"]["data"]["rows"]:
    if row["source"] == "fashion_mnist_tops":
        print(f"    {row['model']:<20} test accuracy {row['test_accuracy']:.4f}")
costs = {row["model"]: row for row in benchmarks["model_costs"]["data"]["rows"] if "params" in row}
print("benchmarks/model_costs.py, tiny backbone at 64 px, 200 classes:")
for model_name in ("baseline", "bcnn", "cbp", "soft_attention", "ws_dan", "lstm_attention"):
    row = costs[model_name]
    print(
        f"    {model_name:<16} {row['params']:>11,} parameters  {row['flops'] / 1e9:.2f} GFLOPs"
        f"  train step × baseline (CPU) {row['step_cpu_ratio']:.2f}"
    )

# %% [markdown]
# **Keras 3 backends.** Keras 3 runs the same model code on TensorFlow,
# JAX or PyTorch. What that means for this package, measured on its
# source: the layers and losses are written in `keras.ops` only, while the
# data pipelines (`tf.data`), the training step (a `tf.GradientTape` under
# `tf.distribute`) and the export (SavedModel, TF Serving, TFLite) are
# TensorFlow. Count the modules of each part of the installed package that
# import TensorFlow, and which backends this environment has:

# %%
package_dir = os.path.dirname(os.path.abspath(fgkeras.__file__))
tf_import = re.compile(r"^\s*(import tensorflow|from tensorflow)", re.M)
for part in ("layers", "losses.py", "models", "data", "training", "serving", "inference"):
    files = [os.path.join(package_dir, part)]
    if os.path.isdir(files[0]):
        files = [
            os.path.join(folder, name)
            for folder, _, names in os.walk(files[0])
            for name in names
            if name.endswith(".py")
        ]
    uses_tf = []
    for path in files:
        with open(path) as f:
            if tf_import.search(f.read()):
                uses_tf.append(os.path.basename(path))
    print(f"fgkeras/{part:<10} {len(uses_tf):>2} of {len(files):>2} modules import TensorFlow")
print("Keras backend in use:", keras.backend.backend())
for backend in ("tensorflow", "jax", "torch"):
    installed = importlib.util.find_spec(backend) is not None
    print(f"  {backend:<10} {'installed' if installed else 'not installed'}")

# %% [markdown]
# **Answer 4.**
#
# - *Framework.* The zoo costs nothing measurable over the same network
#   written in plain Keras (zoo / plain 0.99 to 1.00 in CPU time, the same
#   logits), so choose by what you need around the model. fgkeras is a
#   TensorFlow project for its data, training and deployment (`tf.data`,
#   SavedModel, TF Serving, TFLite). Its layers and losses use `keras.ops`
#   only, so they could in principle run under JAX or PyTorch, but that is
#   not tested (neither is installed here), one model module uses
#   `tf.distribute`, and `fgkeras.train` and `fgkeras.export` need
#   TensorFlow.
# - *Model.* Start with `baseline`: in these benchmarks it is cheap and
#   hard to beat (on real data, on a pretrained backbone). The heavier
#   heads win where their idea fits the data: attention over steps
#   (`lstm_attention`) on the synthetic preset, whose classes differ in
#   small parts (but not on Fashion-MNIST); side information
#   (`attribute_guided`) when it is known at test time, and it *hurts*
#   when it is not. On the Fashion-MNIST tops `baseline`, `bcnn` and `cbp`
#   tie (one seed, within 0.001). `recurrent_glimpse` and `tree_lstm` cost
#   more and did worse at these budgets. Run the same comparison on your
#   data with 3 seeds before choosing: the spreads above are as large as
#   many of the differences.
#
# ## Conclusion
#
# Each FAQ has a measurement behind it, and each measurement is a few
# lines with `fgkeras`: `fgkeras.train(..., augment=...)` and a clean
# evaluation for the train-test gap, `plot_curve_comparison` and
# `generalization_gap` for overfitting, `measure_throughput` for speed as
# ratios within one run, and the benchmark result files for the choice of
# model.
#
# **What the quick run shows, and what it does not.** The quick schedule
# (256 training and 256 test images of the four tops, 6 epochs, one seed;
# 61 s of CPU time, about two minutes on our 2-core CPU shared with other
# jobs) gave, in the run shown above:
#
# - *augmentation:* without any regularisation the network ends with a
#   clean training accuracy of 0.812 against 0.656 on the test images (gap
#   +0.156); with the `fgvc` policy the gap falls to +0.023 (0.621 against
#   0.598). Its test accuracy is 0.059 lower, inside the noise band of
#   ±0.085: this run cannot say whether augmentation helps the test
#   accuracy, only that it closes the gap, here by lowering the training
#   accuracy;
# - *overfitting:* the curves show the unregularised run's training loss
#   pulling away from its validation loss; adding dropout and label
#   smoothing to the augmentation changed the clean gap little (+0.020,
#   test 0.605);
# - *speed* (CPU-time ratios to Keras float32 at batch 1): Keras float32
#   ×5.5 at batch 64; mixed bfloat16 ×0.99 at batch 1 and ×8.0 at batch 64,
#   1.45 times float32 at the same batch on this CPU with AVX512-BF16
#   instructions, with 0.969 top-1 agreement on 64 test images; TFLite
#   float32 ×4.4 at batch 1 with the same top-1 answers; TFLite dynamic ×13.7
#   at batch 1 and ×21.7 at batch 64, 0.31 MB instead of 1.16 MB, with
#   0.953 top-1 agreement. The wall-time ratios scatter more (other jobs
#   share the cores); rerun the cell to see how much.
#
# **The full schedule** (`FGKERAS_TUTORIAL_QUICK=0`: 2000 training and
# 2000 test images, 15 epochs, batch sizes up to 256, 15 repeats) took
# 9 minutes (413 s of CPU time) on the same shared 2-core CPU, run as
# `FGKERAS_TUTORIAL_QUICK=0 python notebooks/09_faq.py`. It gave:
#
# | run | train (clean) | test | gap | best val accuracy (epoch) |
# |---|---|---|---|---|
# | none | 1.000 | 0.815 | +0.185 | 0.816 (13) |
# | fgvc | 0.868 | 0.804 | +0.064 | 0.818 (12) |
# | fgvc+dropout+smoothing | 0.856 | 0.799 | +0.056 | 0.808 (13) |
#
# The unaugmented network memorised its 2000 training images; augmentation
# cut the gap to a third, but the test accuracies tie (fgvc − none −0.010,
# noise band ±0.025). Speed, as CPU-time ratios to Keras float32 at batch
# 1: Keras float32 ×4.7 at batch 256; mixed bfloat16 ×0.92 at batch 1 and
# ×6.6 at batch 256 (1.41 times float32 there); TFLite float32 ×3.9 at
# batch 1; TFLite dynamic ×9.3 at batch 1 and ×16 from batch 8 on; top-1
# agreement with Keras float32 1.000 for all three on 64 test images.
#
# **See also:** `05_losses_and_embeddings` for label smoothing's maths,
# `01_bilinear_cnn` for export to TF Serving, and
# `benchmarks/serving.py` and `benchmarks/model_costs.py` for the
# benchmark runs read in question 4.
