"""`aipep-profile` with real processes under real CPU quotas: ranking, fit, a held-out prediction, SQLite."""

import io
import json
import os
import sqlite3
import sys

import pytest
from cgroup_quota import OWN_CPU_QUOTA

from aipep_core.errors import UserError
from aipep_core.run_constraints import RunConstraints
from harness.profile.cli import main, parse_quotas, print_fits
from harness.profile.fit import fit_quota_curve
from platforms.process_tracking import TrackedRun

# Reports latency = A + B / (the quota it finds itself under): exact numbers, so the fit can be checked exactly.
CURVE_PROGRAM = (
    OWN_CPU_QUOTA
    + """
import json, sys
a, b = float(sys.argv[1]), float(sys.argv[2])
quota = own_cpu_quota()
held = b"\\x01" * (int(sys.argv[3]) * 1024 * 1024)
value = a + b / quota
print("AIPEP " + json.dumps({"type": "NET", "metric": "latency", "unit": "us", "values": [value, value]}))
"""
)


def cpu_limits_available():
    try:
        TrackedRun(constraints=RunConstraints(cpus=0.5)).close()
    except UserError:
        return False
    return True


def write_spec(tmp_path, name, a_us, b_us, megabytes):
    program = tmp_path / "curve.py"
    program.write_text(CURVE_PROGRAM)
    test = {
        "identifier": "latency",
        "metric": "delay",
        "iter": 2,
        "commands": [f"{{program}} {program} {a_us} {b_us} {megabytes}"],
    }
    spec = tmp_path / f"{name}.json"
    spec.write_text(json.dumps({"model": {"name": name, "format": "generic"}, "tests": [test]}))
    return spec.name


@pytest.mark.skipif(not cpu_limits_available(), reason="no cpu cgroup controller usable here")
def test_the_sweep_ranks_two_models_fits_them_and_predicts_a_held_out_quota(tmp_path, capsys):
    listing = tmp_path / "models.json"
    listing.write_text(
        json.dumps(
            {"benchmarks": [write_spec(tmp_path, "big", 1000, 8000, 40), write_spec(tmp_path, "small", 500, 1000, 5)]}
        )
    )
    database = tmp_path / "profiles.db"
    status = main(
        [
            "-b",
            str(listing),
            "--cpus",
            "0.5,1",
            "--predict_cpus",
            "0.25",
            "--program",
            sys.executable,
            "--db",
            str(database),
        ]
    )
    out, err = capsys.readouterr()
    assert status == 0, err
    assert "profile: [4/4] small latency at cpus 1" in err
    # At half a CPU: small (2.5 ms) ranks before big (17 ms); at one CPU: small 1.5 ms, big 9 ms.
    half = out.split("cpus 0.5\n", 1)[1].split("\ncpus 1\n", 1)[0]
    assert half.index("small") < half.index("big")
    assert " 2.500 " in half and " 17.000 " in half
    assert "big latency: a 1.000 ms, b 8.000 ms*cpus, R^2" in out
    assert "predicted mean at cpus 0.25: 33.000 ms" in out
    assert "small latency: a 0.500 ms, b 1.000 ms*cpus" in out and "predicted mean at cpus 0.25: 4.500 ms" in out
    with sqlite3.connect(database) as connection:
        points = connection.execute(
            "SELECT model, cpus, p50_us, peak_rss_mb FROM profile_points ORDER BY model, cpus"
        ).fetchall()
        fits = dict(connection.execute("SELECT model, predicted_us FROM profile_fits").fetchall())
    assert [(model, cpus, p50) for model, cpus, p50, _ in points] == [
        ("big", 0.5, 17000.0),
        ("big", 1.0, 9000.0),
        ("small", 0.5, 2500.0),
        ("small", 1.0, 1500.0),
    ]
    assert all(peak > 0 for *_, peak in points)
    assert points[0][3] > points[2][3]  # the big model holds 40 MB more than the small one
    assert fits == pytest.approx({"big": 33000.0, "small": 4500.0})


def test_the_fit_recovers_a_curve_and_its_r_squared():
    fit = fit_quota_curve([0.25, 0.5, 2.0], [10 + 4 / 0.25, 10 + 4 / 0.5 + 0.1, 10 + 4 / 2.0])
    assert fit.points == 3 and fit.r_squared > 0.99
    assert fit.predict(1.0) == pytest.approx(14.0, abs=0.2)
    assert fit_quota_curve([1.0, 1.0], [5.0, 6.0]) is None


def test_a_quota_above_the_machine_cores_is_refused_naming_the_flag(tmp_path, capsys):
    cores = os.cpu_count()
    with pytest.raises(UserError, match=rf"^--cpus: expected quotas above 0 and at most {cores} "):
        parse_quotas(f"0.5,{cores + 1}", cores)
    status = main(["-b", str(tmp_path / "none.json"), "--cpus", "0", "--db", str(tmp_path / "p.db")])
    assert status == 2
    assert capsys.readouterr().err.startswith("aipep-profile: error: --cpus: expected quotas above 0")


def test_a_single_threaded_model_s_fit_is_capped_at_one_cpu():
    """Measured at 0.25, 0.5 and 2 CPUs, a one-thread model is as fast at 1 CPU as at 2."""
    fit = fit_quota_curve([0.25, 0.5, 2.0], [24.0, 12.0, 6.0], max_cpus=1)
    assert fit.predict(1.0) == pytest.approx(6.0)
    assert fit.predict(4.0) == pytest.approx(6.0)
    assert fit.r_squared == pytest.approx(1.0)


# Claims 1 ms per inference and reports the number of inferences it was asked for as its latency.
ITERATIONS_PROGRAM = """
import json, sys
iterations = int(sys.argv[1])
print("AIPEP " + json.dumps({"type": "NET", "metric": "latency", "unit": "us", "values": [1000.0] * (iterations - 1)
                             + [float(iterations)]}))
"""


@pytest.mark.skipif(not cpu_limits_available(), reason="no cpu cgroup controller usable here")
def test_a_test_that_takes_iter_times_enough_inferences_to_span_quota_periods_at_every_point(tmp_path, capsys):
    """At 1 ms per inference and at most one CPU, ten 100 ms periods take 1000 inferences, not the spec's 3."""
    program = tmp_path / "iterations.py"
    program.write_text(ITERATIONS_PROGRAM)
    test = {"identifier": "latency", "metric": "delay", "iter": 3, "commands": [f"{{program}} {program} {{iter}}"]}
    spec = tmp_path / "model.json"
    spec.write_text(json.dumps({"model": {"name": "model", "format": "generic"}, "tests": [test]}))
    database = tmp_path / "profiles.db"
    status = main(["-b", str(spec), "--cpus", "0.5,1", "--program", sys.executable, "--db", str(database)])
    out, err = capsys.readouterr()
    assert status == 0, err
    assert "profile: timing one model latency at cpus 1" in err
    assert "profile: [1/2] model latency at cpus 0.5 (1000 inferences)" in err
    with sqlite3.connect(database) as connection:
        means = [row[0] for row in connection.execute("SELECT mean_us FROM profile_points ORDER BY cpus")]
    # 999 inferences of 1000 us and a last one reporting 1000: a mean of 1000 (with the spec's 3 it would be 667.7).
    assert means == pytest.approx([1000.0, 1000.0])


def test_a_fit_that_explains_little_is_printed_with_a_note_saying_so():
    flat = fit_quota_curve([0.25, 0.5, 2.0], [20.0, 21.0, 19.5])
    steep = fit_quota_curve([0.25, 0.5, 2.0], [24.0, 12.0, 3.0])
    out = io.StringIO()
    print_fits({("flat", "t", None): flat, ("steep", "t", None): steep}, 1.0, out)
    lines = out.getvalue().splitlines()
    flat_line = next(index for index, line in enumerate(lines) if line.startswith("flat t:"))
    assert lines[flat_line + 1].startswith("  note: R^2 below 0.5: latency hardly follows the quota here")
    assert sum("note:" in line for line in lines) == 1
