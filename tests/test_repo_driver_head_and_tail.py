"""A build's output kept as a bounded head and tail."""

from __future__ import annotations

from repo_driver.head_and_tail import HeadAndTail


def test_output_within_the_bounds_is_kept_whole_even_when_split_inside_a_character():
    output = HeadAndTail(head_bytes=4, tail_bytes=4)
    text = "abé!xyz".encode()  # é is two bytes, split between head and tail
    for index in range(len(text)):
        output.add(text[index : index + 1])
    assert output.text() == "abé!xyz"


def test_output_past_the_bounds_keeps_its_first_and_last_bytes_and_says_how_much_was_left_out():
    output = HeadAndTail(head_bytes=5, tail_bytes=5)
    output.add(b"HEAD:")
    for _ in range(1000):
        output.add(b"0123456789")
    output.add(b":TAIL")
    assert output.text() == "HEAD:\n[... 10000 bytes of output left out ...]\n:TAIL"
    assert len(output.tail) <= 2 * 5  # what it holds stays bounded too, not only what it shows


def test_bytes_that_are_not_utf8_become_replacement_characters():
    output = HeadAndTail()
    output.add(b"error: \xff\xfe in \x00 source")
    assert output.text() == "error: \ufffd\ufffd in \x00 source"
