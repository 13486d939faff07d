"""fgkeras: fine-grained image recognition with Keras 3."""
