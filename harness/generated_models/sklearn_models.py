"""A trained reference model: a small digits classifier, trained with scikit-learn, converted with skl2onnx.

The other reference models have random weights, which is enough for timing but says nothing
about quality; this one has learned something, so a variant that loses accuracy shows it.
Training is deterministic (fixed seed, one BLAS thread, a fixed split) and the file's
producer fields are pinned, so the same packages write the same bytes every time.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from aipep_core.model_variants import DatasetSpec
from harness.generated_models.registry import register_generator
from harness.variants.datasets import load_dataset

DIGITS_MLP = "digits_mlp.onnx"
HIDDEN_UNITS = 64
TRAINING_SEED = 0
TRAINING_EPOCHS = 300
OPSET = 17
PRODUCER_NAME = "aipep.generated_models"
PRODUCER_VERSION = "1"
INPUT_NAME = "input"


@register_generator(DIGITS_MLP)
def digits_mlp(destination: Path) -> None:
    """One hidden ReLU layer of 64 units on the 64 pixels; outputs `label` and `probabilities`."""
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from threadpoolctl import threadpool_limits

    train = load_dataset(DatasetSpec("digits", "train"), "digits_mlp")
    classifier = MLPClassifier(hidden_layer_sizes=(HIDDEN_UNITS,), random_state=TRAINING_SEED, max_iter=TRAINING_EPOCHS)
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        classifier.fit(train.inputs, train.labels)
    model = to_onnx(
        classifier,
        initial_types=[(INPUT_NAME, FloatTensorType([None, train.inputs.shape[1]]))],
        options={id(classifier): {"zipmap": False}},
        target_opset={"": OPSET, "ai.onnx.ml": 1},
    )
    model.producer_name = PRODUCER_NAME
    model.producer_version = PRODUCER_VERSION
    model.graph.name = "digits_mlp"
    model.doc_string = ""
    destination.write_bytes(model.SerializeToString())
