"""The quality pass: after the timed rounds, each arm runs once more and its outputs are judged.

A variant can be faster and wrong, so speed alone is half a verdict. With a dataset, each
arm classifies the same samples in the same order; `NET accuracy` (percent) is compared
sample by sample (McNemar, harness/stats/paired_accuracy.py) and gets a verdict beside the
latency ones, with per-class precision, recall and the confusion matrix in `meta.quality`.
Without labels (a model with random weights), the treatment's outputs are compared with
the control's on the same seeded input: the largest and the mean absolute difference,
judged by the test's `error_tolerance` as an `error` test is.

Outputs are deterministic, so one process per arm is evidence enough. Outputs that do not
fit the dataset (another number of samples or classes) fail the result with one line.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from aipep_core.errors import RunFailure
from aipep_core.job import Arm
from aipep_core.model_variants import QUALITY_METRIC
from aipep_core.names import CONTROL, NET, TREATMENT
from aipep_core.result_record import FAILURE, MetricComparison, MetricResult, RunResult
from aipep_core.verdict import Verdict
from harness.arm import ArmProcess, ArmRunFailure, ArmRunner, process_logs
from harness.error_run import DEFAULT_ERROR_TOLERANCE
from harness.stats.paired_accuracy import compare_accuracy
from harness.stats.summary import diff_summary, summarize
from harness.variants.datasets import LabelledData

ACCURACY_KEY = f"{NET} accuracy"
PERCENT = "%"


class OutputsDoNotMatchLabels(RunFailure):
    """The model's outputs are not one prediction per sample over the dataset's classes."""


@dataclass(frozen=True)
class Labelled:
    """The test's dataset as the quality pass needs it: the samples' labels and where they came from."""

    data: LabelledData
    description: dict[str, Any]


def run_quality(runner: ArmRunner, arms: list[Arm], labelled: Labelled | None, result: RunResult) -> None:
    """Add the quality metrics to `result`; a failed pass fails the result, its timings kept."""
    test = dataclasses.replace(runner.test, metric=QUALITY_METRIC, iter=1, warmup=0)
    quality_runner = dataclasses.replace(runner, test=test)
    try:
        ran = {arm.name: quality_runner.run_once(arm, f"quality_{arm.name}") for arm in arms}
    except ArmRunFailure as failure:
        _fail(result, f"quality pass: {failure}")
        result.logs.update(process_logs("quality_failed", failure.processes))
        return
    for name, process in ran.items():
        result.logs.update(process_logs(f"quality_{name}", process.processes))
    try:
        if labelled is not None:
            _judge_accuracy(ran, labelled, runner.test, result)
        elif CONTROL in ran:
            _judge_output_difference(ran, runner.test, result)
    except OutputsDoNotMatchLabels as mismatch:
        _fail(result, f"quality pass: {mismatch}")


def _fail(result: RunResult, message: str) -> None:
    result.status, result.failure = FAILURE, message


def _judge_accuracy(ran: dict[str, ArmProcess], labelled: Labelled, test, result: RunResult) -> None:
    labels = labelled.data.labels
    classes = labelled.data.classes
    name = labelled.description["name"]
    correct = {}
    quality: dict[str, Any] = {"dataset": labelled.description}
    for arm, process in ran.items():
        predicted = predictions(process.outputs or {}, len(labels), len(classes), name)
        correct[arm] = predicted == labels
        quality[arm] = class_report(labels, predicted, classes)
    result.meta["quality"] = quality
    accuracy = quality[TREATMENT]["accuracy_pct"]
    metric = MetricResult(
        type=NET, metric="accuracy", unit=PERCENT, values=[accuracy], summary=summarize([accuracy]), num_runs=1
    )
    if CONTROL in ran:
        control_accuracy = quality[CONTROL]["accuracy_pct"]
        metric.control_values = [control_accuracy]
        metric.control_summary = summarize([control_accuracy])
        metric.diff_summary = diff_summary(metric.summary, metric.control_summary)
        change = compare_accuracy(correct[TREATMENT], correct[CONTROL], test.accuracy_threshold, test.alpha)
        metric.comparison = MetricComparison(
            verdict=change.verdict,
            rounds=1,
            estimate_pct=change.change_points,
            ci_low_pct=change.ci_low_points,
            ci_high_pct=change.ci_high_points,
            p_value=change.p_value,
            tolerance=test.accuracy_threshold,
            note=(
                f"change in accuracy points on {change.samples} paired samples of {name}: {change.worse} worse, "
                f"{change.better} better (McNemar exact); lower is worse"
            ),
        )
    result.data[ACCURACY_KEY] = metric


def predictions(outputs: dict[str, np.ndarray], samples: int, classes: int, dataset: str) -> np.ndarray:
    """One class index per sample: the first output holding labels (one integer per sample), else the
    first holding one score per class (its argmax)."""
    shapes = {name: list(values.shape) for name, values in outputs.items()}
    for values in outputs.values():
        if values.shape == (samples,) and np.all(values == np.round(values)):
            if values.min(initial=0) < 0 or values.max(initial=0) >= classes:
                raise OutputsDoNotMatchLabels(
                    f"the model predicts labels outside 0..{classes - 1}, dataset {dataset} has {classes} classes"
                )
            return values.astype(np.int64)
    for values in outputs.values():
        if values.ndim == 2 and values.shape[0] == samples:
            if values.shape[1] != classes:
                raise OutputsDoNotMatchLabels(
                    f"the model's outputs {shapes} score {values.shape[1]} classes per sample, "
                    f"dataset {dataset} has {classes} classes"
                )
            return np.argmax(values, axis=1)
    raise OutputsDoNotMatchLabels(
        f"the model's outputs {shapes} hold no label or class scores per sample for {samples} samples of {dataset}"
    )


def class_report(labels: np.ndarray, predicted: np.ndarray, classes: tuple[str, ...]) -> dict[str, Any]:
    """Accuracy, per-class precision and recall (None where a class was never predicted or never
    present), the confusion matrix (rows: true class, columns: predicted) and the predictions."""
    count = len(classes)
    confusion = np.zeros((count, count), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    per_class = {}
    for index, name in enumerate(classes):
        hits = int(confusion[index, index])
        predicted_as = int(confusion[:, index].sum())
        present = int(confusion[index, :].sum())
        per_class[name] = {
            "precision": hits / predicted_as if predicted_as else None,
            "recall": hits / present if present else None,
            "support": present,
        }
    return {
        "accuracy_pct": 100.0 * float(np.mean(predicted == labels)),
        "per_class": per_class,
        "confusion_matrix": confusion.tolist(),
        "predictions": predicted.tolist(),
    }


def _judge_output_difference(ran: dict[str, ArmProcess], test, result: RunResult) -> None:
    treatment, control = ran[TREATMENT].outputs or {}, ran[CONTROL].outputs or {}
    tolerance = float(test.option("error_tolerance", DEFAULT_ERROR_TOLERANCE))
    for name, expected in control.items():
        got = treatment.get(name)
        if got is None or got.shape != expected.shape:
            shape = "missing" if got is None else f"shape {list(got.shape)}"
            raise OutputsDoNotMatchLabels(f"output {name!r}: treatment's is {shape}, control's {list(expected.shape)}")
        difference = np.abs(got - expected)
        largest, mean = float(difference.max(initial=0.0)), float(difference.mean()) if difference.size else 0.0
        for metric, value in (("max_abs_diff", largest), ("mean_abs_diff", mean)):
            result.data[f"{name} {metric}"] = MetricResult(
                type=name, metric=metric, unit="", values=[value], summary=summarize([value]), num_runs=1
            )
        result.data[f"{name} max_abs_diff"].comparison = MetricComparison(
            verdict=Verdict.REGRESSION if largest > tolerance else Verdict.NO_CHANGE,
            rounds=1,
            tolerance=tolerance,
            note="treatment's outputs against the control's on the same input (error_tolerance)",
        )
