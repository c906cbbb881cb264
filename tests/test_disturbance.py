"""The judgement of a disturbed process, on CPU and wall times chosen by the test."""

from harness.disturbance import DISTURBED_SHARE, MIN_HISTORY, cpu_share, is_disturbed

CLEAN_HISTORY = [0.97, 0.98, 0.99]


def test_a_process_that_waited_half_its_run_is_disturbed():
    assert is_disturbed(cpu_share(0.1, 0.2), CLEAN_HISTORY)


def test_scheduler_jitter_of_a_few_percent_is_not():
    assert not is_disturbed(cpu_share(0.1, 0.105), CLEAN_HISTORY)


def test_the_line_is_a_share_of_the_arms_usual_ratio_not_an_absolute_one():
    """An arm that always waits on I/O (a quarter of its wall time on the CPU) is judged against itself."""
    io_bound = [0.25, 0.26, 0.24]
    assert not is_disturbed(0.23, io_bound)
    assert is_disturbed(0.25 * DISTURBED_SHARE - 0.01, io_bound)


def test_nothing_is_judged_before_the_arm_has_a_history():
    assert not is_disturbed(0.01, CLEAN_HISTORY[: MIN_HISTORY - 1])


def test_a_process_whose_cpu_time_is_unknown_is_not_judged():
    assert cpu_share(None, 1.0) is None
    assert cpu_share(0.5, 0.0) is None
    assert not is_disturbed(None, CLEAN_HISTORY)
