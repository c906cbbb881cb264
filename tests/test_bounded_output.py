"""A stream kept as a bounded head and tail: what a person reads in a log of a build or a program."""

from __future__ import annotations

from platforms.bounded_output import BoundedCapture


def test_output_within_the_bounds_is_kept_whole_even_when_split_inside_a_character():
    output = BoundedCapture(head_bytes=4, tail_bytes=4)
    text = "abé!xyz".encode()  # é is two bytes, split between head and tail
    for index in range(len(text)):
        output.extend(text[index : index + 1])
    assert output.text() == "abé!xyz"


def test_bytes_that_are_not_utf8_become_replacement_characters():
    output = BoundedCapture()
    output.extend(b"error: \xff\xfe in \x00 source")
    assert output.text() == "error: \ufffd\ufffd in \x00 source"


def test_output_past_the_bounds_keeps_its_first_and_last_lines_and_says_how_much_was_left_out():
    output = BoundedCapture(head_bytes=8, tail_bytes=8)
    output.extend(b"HEAD\n")
    for _ in range(1000):
        output.extend(b"012345\n")
    output.extend(b"TAIL\n")
    text = output.text()
    assert text.startswith("HEAD\n") and text.endswith("TAIL\n")
    assert f"{output.dropped_bytes} bytes of output left out" in text
    assert output.dropped_bytes > 6000
