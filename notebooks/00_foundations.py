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
# # Foundations: what makes recognition fine-grained, and what a CNN computes
#
# **Chapters:** §2 the fine-grained recognition problem, §4.1 convolutional
# neural networks.
# **Model:** `baseline` (backbone + global average pooling, He et al. 2016,
# [1512.03385](https://arxiv.org/abs/1512.03385)) on the small `tiny` backbone.
#
# Generic recognition tells a shirt from a shoe. Fine-grained recognition
# tells apart the *subordinate* classes of one category: bird species, car
# models, dog breeds, or kinds of tops. Three things make it hard:
#
# - **small differences between classes:** all classes share the same
#   shape and parts, and differ in details (a collar, a zip, the length of
#   a sleeve);
# - **large differences within a class:** pose, viewpoint, lighting,
#   background and the individual object vary more than the class details;
# - **few labels:** telling the classes apart takes an expert, so labelled
#   images are scarce.
#
# Fashion-MNIST shows the first two at laptop scale. Four of its ten
# classes are tops (T-shirt/top, Pullover, Coat, Shirt); the other six
# (trousers, dresses, sandals, sneakers, bags, ankle boots) differ in their
# overall shape. The four tops on their own are a small fine-grained task.
#
# This tutorial:
#
# 1. loads Fashion-MNIST and its tops subset and looks at the images;
# 2. trains the same small CNN on all ten classes and on the four tops, and
#    compares their confusion matrices side by side;
# 3. writes down what a neuron, a convolution, a pooling and a fully
#    connected layer compute, and checks each Keras layer against NumPy;
# 4. draws the feature maps of the trained network, layer by layer.
#
# With the default quick schedule it runs in one to two minutes on a
# 2-core CPU. Set the environment variable `FGKERAS_TUTORIAL_QUICK=0` before
# starting the kernel for the full schedule (see the conclusion).

# %% [markdown]
# ## Setup

# %%
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Image, display

import fgkeras
from fgkeras.evaluation import plots
from fgkeras.models.backbones import feature_maps

QUICK = os.environ.get("FGKERAS_TUTORIAL_QUICK", "1") == "1"
OUT_DIR = os.path.join("runs", "tutorials", "00_foundations")
TOPS = ["T-shirt/top", "Pullover", "Coat", "Shirt"]

if QUICK:  # about a minute on 2 CPU cores
    TRAIN_PER_CLASS, TEST_PER_CLASS, STEPS = 150, 100, 120
else:  # the full schedule; 1000 test images per class is the whole test split
    TRAIN_PER_CLASS, TEST_PER_CLASS, STEPS = 1000, 1000, 1000
BATCH_SIZE = 32
print(
    f"quick={QUICK}: 28x28 grey images, {TRAIN_PER_CLASS} training and {TEST_PER_CLASS} "
    f"test images per class, {STEPS} training steps of {BATCH_SIZE} images"
)

# %% [markdown]
# ## Data: Fashion-MNIST and its tops
#
# `fgkeras.data.load("fashion_mnist", ...)` reads the dataset's IDX files
# (the Debian package `dataset-fashion-mnist` installs them in
# `/usr/share/datasets/fashion-mnist/`; without them it falls back to
# tfds). `classes=[...]` keeps only the named classes and relabels them
# 0, 1, ... in the given order; `limit` keeps the first examples (the
# splits come in random order, so the first 1500 hold about 150 of each
# class). We take the same number of images per class for both tasks, so
# that neither has more data to learn each class from. Images come as raw
# 0–255 pixels; `channels=1` keeps them grey; `deterministic=True` makes
# the shuffled order, and so the run, repeatable.


# %%
def load(split, classes, per_class):
    """Batches of 28x28 grey Fashion-MNIST images of `classes` (None: all ten)."""
    num_classes = 10 if classes is None else len(classes)
    return fgkeras.data.load(
        "fashion_mnist",
        split,
        image_size=28,
        channels=1,
        batch_size=BATCH_SIZE,
        classes=classes,
        limit=per_class * num_classes,
        seed=0,
        deterministic=True,
    )


test_all = load("test", None, TEST_PER_CLASS)
class_names = test_all.class_names
x_test = np.concatenate([images for images, _ in test_all.as_numpy_iterator()])
y_test = np.concatenate([labels for _, labels in test_all.as_numpy_iterator()])
print(x_test.shape, "counts per class:", np.bincount(y_test))

examples = np.stack([x_test[y_test == label][:6, ..., 0] for label in range(10)])
mosaic = examples.transpose(0, 2, 1, 3).reshape(10 * 28, 6 * 28)  # 10 rows of 6 images
figure, axis = plt.subplots(figsize=(3.6, 5.4), dpi=80)
axis.imshow(mosaic, cmap="gray_r", interpolation="nearest")
axis.set_yticks(np.arange(10) * 28 + 14, class_names, fontsize=8)
axis.set_xticks([])
for tick in axis.get_yticklabels():
    tick.set_color("tab:red" if tick.get_text() in TOPS else "black")
plt.show()

# %% [markdown]
# The red rows are the tops. The other six classes differ in their
# silhouette. The tops share theirs: a coat and a pullover differ
# by a zip or buttons, a shirt and a T-shirt by a collar and the sleeves,
# and at 28×28 pixels some of these details are a pixel or two.
#
# ## The same network on a coarse and on a fine-grained task
#
# We train the same model twice, on all ten classes and on the four tops,
# with the same number of training images per class and the same number
# of training steps. `fgkeras.build("baseline", ...)` is a
# backbone (here `tiny`, a small VGG-style CNN, from random weights),
# global average pooling and a linear classifier that returns logits. It
# compiles and fits like any Keras model; Adam's learning rate decays to
# zero over the run (cosine), so the last weights are settled rather than
# caught mid-step. `fgkeras.evaluate(model, data)` returns the accuracy,
# the per-class accuracy and the confusion matrix.

# %%
TASKS = {"all 10 classes": None, "4 kinds of tops": TOPS}
models, results = {}, {}
for task, classes in TASKS.items():
    train = load("train", classes, TRAIN_PER_CLASS)
    test = load("test", classes, TEST_PER_CLASS)
    num_classes = len(train.class_names)
    keras.utils.set_random_seed(0)
    model = fgkeras.build(
        "baseline",
        num_classes=num_classes,
        backbone="tiny",
        weights=None,
        input_shape=(28, 28, 1),
    )
    model.compile(
        optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(3e-3, STEPS)),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    start = time.time()
    # The pipeline shuffles (Keras cannot shuffle a Dataset); repeat() for STEPS batches.
    model.fit(train.repeat(), steps_per_epoch=STEPS, epochs=1, shuffle=False, verbose=0)
    models[task], results[task] = model, fgkeras.evaluate(model, test)
    print(
        f"{task:<16} chance {1 / num_classes:.2f}   "
        f"test accuracy {results[task]['top1_accuracy']:.3f}   ({time.time() - start:.0f} s)"
    )

# %% [markdown]
# Chance is 0.10 with ten classes and 0.25 with four. Yet the network is
# *less* accurate on the four tops than on all ten classes. Fewer classes
# do not make a task easier when the classes are alike. The confusion
# matrices show where the errors go (rows: true class, colours: the
# fraction of each true class; `fgkeras.evaluation.plots` draws them):

# %%
path = plots.plot_confusion_matrices(
    [result["confusion_matrix"] for result in results.values()],
    [result["class_names"] for result in results.values()],
    titles=[f"{task}: accuracy {r['top1_accuracy']:.2f}" for task, r in results.items()],
    path=os.path.join(OUT_DIR, "confusion_matrices.png"),
)
display(Image(path))

# %% [markdown]
# In the ten-class matrix most errors fall on the tops (rows 0, 2, 4 and
# 6), and a top is nearly always mistaken for another top: the errors stay
# among columns 0, 2, 4 and 6 of those rows. The other classes are mostly
# right, and
# where they are not, the confusion is again between look-alikes (sandal,
# sneaker, ankle boot). Count it:

# %%
confusion = np.array(results["all 10 classes"]["confusion_matrix"])
tops = [class_names.index(name) for name in TOPS]
rest = [i for i in range(10) if i not in tops]
per_class = np.diag(confusion) / confusion.sum(axis=1)
errors_on_tops = confusion[tops].sum() - np.trace(confusion[np.ix_(tops, tops)])
errors_within_tops = confusion[np.ix_(tops, tops)].sum() - np.trace(confusion[np.ix_(tops, tops)])
print(f"10-class model, accuracy on the tops:     {per_class[tops].mean():.3f}")
print(f"10-class model, accuracy on the others:   {per_class[rest].mean():.3f}")
print(f"errors on a top that name another top:    {errors_within_tops / errors_on_tops:.0%}")
accuracy_all = results["all 10 classes"]["top1_accuracy"]
accuracy_tops = results["4 kinds of tops"]["top1_accuracy"]
print(f"tops-only accuracy {accuracy_tops:.3f} vs all-classes accuracy {accuracy_all:.3f}")

# %% [markdown]
# This is the fine-grained problem in miniature: the hard part of
# Fashion-MNIST *is* a fine-grained task. The rest of the zoo is about
# methods that look harder at the details: bilinear pooling
# (`01_bilinear_cnn`), attention and part localization (`02_where_to_look`).
# All of them are built from the layers of a CNN, which the next section
# writes down.
#
# ## What a CNN computes, layer by layer
#
# Each formula below is checked against the Keras layer on random inputs,
# with the layer's own weights.
#
# **A neuron** weighs its $d$ inputs, adds a bias and applies a non-linear
# activation $\phi$, e.g. the ReLU $\phi(t) = \max(0, t)$:
#
# $$
# y = \phi\Big(\sum_{i=1}^{d} w_i x_i + b\Big) = \phi(w^{\top} x + b).
# $$
#
# **A convolutional layer** is a grid of neurons that share their weights.
# Output channel $k$ at location $(i, j)$ sees only an $h \times w$ patch
# of the $C$ input channels, with stride $s$:
#
# $$
# Y_{i,j,k} = b_k + \sum_{u=0}^{h-1} \sum_{v=0}^{w-1} \sum_{c=1}^{C}
#   X_{si+u,\; sj+v,\; c}\; K_{u,v,c,k}.
# $$
#
# (Deep learning libraries compute this cross-correlation and call it a
# convolution; the kernel is not flipped.) Without padding the output has
# $\lfloor (H - h)/s \rfloor + 1$ rows; `padding="same"` adds zeros around
# the input to keep $\lceil H/s \rceil$. The layer has $hwCK + K$ weights
# whatever the image size, and the same kernel is applied everywhere, so
# a pattern is detected wherever it is.
#
# **Pooling** summarizes each $p \times p$ window, with no weights:
# max pooling $Y_{i,j,c} = \max_{0 \le u,v < p} X_{pi+u,\, pj+v,\, c}$,
# average pooling the mean. It shrinks the map and makes the features
# tolerate small shifts. *Global* average pooling averages the whole map
# into one vector of $C$ numbers: the `baseline`'s descriptor.
#
# **A fully connected layer** connects every input to every output,
# $z = W^{\top} x + b$. As the last layer it returns one logit $z_k$ per
# class; the softmax turns them into probabilities and training minimizes
# the cross-entropy of the true class $y$:
#
# $$
# p_k = \frac{e^{z_k}}{\sum_j e^{z_j}}, \qquad \mathcal{L} = -\log p_y .
# $$


# %%
def conv2d(x, kernel, bias, stride=1):
    """The convolution formula, without padding: loops over output locations."""
    kh, kw, _, filters = kernel.shape
    rows = (x.shape[1] - kh) // stride + 1
    cols = (x.shape[2] - kw) // stride + 1
    y = np.zeros((x.shape[0], rows, cols, filters), "float32")
    for i in range(rows):
        for j in range(cols):
            patch = x[:, i * stride : i * stride + kh, j * stride : j * stride + kw, :]
            y[:, i, j, :] = np.tensordot(patch, kernel, axes=3) + bias
    return y


rng = np.random.default_rng(0)
differences = {}

x = rng.normal(size=(4, 5)).astype("float32")  # 4 inputs, d = 5
neuron = keras.layers.Dense(1, activation="relu", bias_initializer="random_normal")
y = np.asarray(neuron(x))
w, b = np.asarray(neuron.kernel), np.asarray(neuron.bias)
differences["neuron"] = np.abs(y - np.maximum(0, x @ w + b)).max()

x = rng.normal(size=(2, 9, 9, 3)).astype("float32")  # (batch, H, W, C)
conv = keras.layers.Conv2D(4, 3, strides=2, bias_initializer="random_normal")
y = np.asarray(conv(x))
differences["convolution"] = np.abs(y - conv2d(x, *(np.asarray(v) for v in conv.weights), 2)).max()
print("convolution output", y.shape, "weights", conv.count_params(), "= 3*3*3*4 + 4")

x = rng.normal(size=(2, 8, 8, 3)).astype("float32")
windows = x.reshape(2, 4, 2, 4, 2, 3)  # (batch, i, u, j, v, C) for 2x2 windows
differences["max pooling"] = np.abs(
    np.asarray(keras.layers.MaxPooling2D(2)(x)) - windows.max(axis=(2, 4))
).max()
differences["average pooling"] = np.abs(
    np.asarray(keras.layers.AveragePooling2D(2)(x)) - windows.mean(axis=(2, 4))
).max()
differences["global average pooling"] = np.abs(
    np.asarray(keras.layers.GlobalAveragePooling2D()(x)) - x.mean(axis=(1, 2))
).max()

x = rng.normal(size=(2, 7, 7, 8)).astype("float32")
labels = np.array([3, 7])
dense = keras.layers.Dense(10)
logits = np.asarray(dense(keras.layers.Flatten()(x)))
z = x.reshape(2, -1) @ np.asarray(dense.kernel) + np.asarray(dense.bias)
p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
differences["fully connected"] = np.abs(logits - z).max()
differences["softmax"] = np.abs(np.asarray(keras.activations.softmax(logits)) - p).max()
keras_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits)
differences["cross-entropy"] = abs(float(keras_loss) - (-np.log(p[[0, 1], labels])).mean())

for name, difference in differences.items():
    print(f"{name:<24} max |Keras - NumPy| = {difference:.1e}")
largest = max(differences.values())
print(f"largest NumPy-vs-Keras difference: {largest:.1e}")
assert largest < 1e-4

# %% [markdown]
# A kernel is a pattern detector. Two hand-set 3×3 kernels, the Sobel
# filters, respond to vertical and to horizontal edges. Applied with the
# same `conv2d` to a shirt from the test set, they outline the garment;
# the signs tell dark-to-bright from bright-to-dark edges:

# %%
sobel = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], "float32")
kernel = np.stack([sobel, sobel.T], axis=-1)[:, :, None, :]  # (3, 3, 1 channel, 2 filters)
shirt = x_test[np.flatnonzero(y_test == class_names.index("Shirt"))[0]]
edges = conv2d(shirt[None] / 255.0, kernel, np.zeros(2, "float32"))[0]

figure, axes = plt.subplots(1, 3, figsize=(6.5, 2.4))
axes[0].imshow(shirt[..., 0], cmap="gray_r")
axes[0].set_title("shirt, 28×28", fontsize=9)
for axis, channel, title in zip(axes[1:], range(2), ("vertical edges", "horizontal edges")):
    axis.imshow(edges[..., channel], cmap="RdBu_r", vmin=-3, vmax=3)
    axis.set_title(f"{title}, 26×26", fontsize=9)
for axis in axes:
    axis.axis("off")
plt.show()

# %% [markdown]
# A trained CNN learns its kernels instead. The `tiny` backbone stacks
# stages of two 3×3 convolutions (each followed by batch normalization and
# a ReLU), with a 2×2 max pooling between stages: 28×28 maps with 32
# channels, then 14×14 with 64, then 7×7 with 128. Each stage sees a
# larger part of the image (its *receptive field* grows with depth) and
# describes it with more channels. The `baseline` then averages the last
# map (global average pooling) and a dense layer gives the ten logits:

# %%
model = models["all 10 classes"]
backbone = model.get_layer("backbone")
for layer in backbone.layers[1:] + model.layers[2:]:
    if layer.count_params() or "pool" in layer.name or layer.name == "pooler":
        print(f"{layer.name:<24} {str(layer.output.shape):<22} {layer.count_params():>8,} weights")

# %% [markdown]
# ## Feature maps of the trained network
#
# `fgkeras.models.backbones.feature_maps(model, images, layer_names)` runs
# the trained backbone up to any of its layers. Each row below is one
# layer, each panel one channel: the six channels that respond most to
# this shirt (bright = strong response). The first layer's channels look
# like edge and contrast detectors, as the Sobel filters above. Deeper,
# the maps get coarser and each channel answers for a larger region:
# the collar, the sleeves, the body. The 7×7 map of the last stage is
# what global average pooling turns into the descriptor; bilinear pooling
# (`01_bilinear_cnn`) keeps the products of its channels instead.

# %%
LAYERS = ["tiny_stage1_conv1_relu", "tiny_stage1_conv2_relu"]
LAYERS += ["tiny_stage2_conv2_relu", "tiny_stage3_conv2_relu"]
maps = feature_maps(model, shirt[None], LAYERS)
path = plots.plot_feature_maps(
    {name: value[0] for name, value in maps.items()},
    shirt,
    max_channels=6,
    path=os.path.join(OUT_DIR, "feature_maps.png"),
)
display(Image(path))

# %% [markdown]
# ## Conclusion
#
# A fine-grained task is not one with many classes but one whose classes
# look alike: the same CNN, with the same images per class, is less
# accurate on the four kinds of tops of Fashion-MNIST than on all ten
# classes, and nearly all its ten-class errors confuse one top with
# another. A CNN is a stack of few, simple operations (weighted sums with
# shared weights, ReLU, pooling, a final linear layer and softmax), each
# of which fits in a few lines of NumPy; the methods of the later
# tutorials change how the last feature map is pooled and where the
# network looks.
#
# **What to expect.** The quick schedule (about 150 training and 100 test
# images per class, 120 steps of 32 images; 40 s of CPU time, about 1.5
# minutes on our 2-core CPU shared with other jobs) gave a test accuracy
# of 0.795 on all ten classes and 0.755 on the four tops. The ten-class
# model scored 0.64 on the tops against 0.90 on the other six classes, and
# 86 % of its errors on a top named another top. The tops-only model is
# better on the tops than the ten-class model (all its training goes into
# them), yet below the ten-class accuracy.
#
# The full schedule (`FGKERAS_TUTORIAL_QUICK=0`: 1000 training images per
# class, the whole test split of 1000 per class, 1000 steps of 32 images;
# 5 minutes on the same CPU) gave 0.887 on all ten classes and 0.839 on
# the four tops; the ten-class model scored 0.79 on the tops against 0.95
# on the others, and 85 % of its errors on a top named another top: the
# same picture, measured on ten times the test images. Both numbers rise
# with longer training, and the gap stays: the same `baseline` trained on
# the whole dataset for 8 epochs reached 0.936 on all ten classes and
# 0.883 on the tops (`benchmarks/results/fashion_mnist.md`).
#
# **Next:** `01_bilinear_cnn` replaces global average pooling with
# bilinear pooling; `02_where_to_look` adds attention.
