"""An amount is parsed once (util.amount.Amount) and every text of it comes from that one value."""

import pytest

from prunebench.util.amount import Amount, size_label


@pytest.mark.parametrize("written, label, asked", [(0.3, "a0.30", "30%"), (0.05, "a0.05", "5%"),
                                                   ("2x", "x2.00", "2x"), (" 1.5 X", "x1.50", "1.5x"),
                                                   ("1.25×", "x1.25", "1.25x")])
def test_what_a_suite_writes_names_the_cell_and_the_row(written, label, asked):
    amount = Amount.parse(written)
    assert (amount.label(), amount.asked()) == (label, asked)
    assert Amount.parse(amount.suite_value()) == amount  # dumped as a suite writes it, and read back the same


def test_a_record_rebuilds_the_same_value_from_its_spec():
    assert Amount.of(0.3, None) == Amount.parse(0.3)
    assert Amount.of(None, 2.0) == Amount.parse("2x")
    assert Amount.of(0.0, None).label() == "a0.00" and size_label(None, None) == "0%"  # a dense row


def test_a_target_keeps_the_six_digits_its_text_form_has_always_had():
    """Cell keys hash the target as "%g" printed it before it was parsed again: 1.2345678x hashed 1.23457."""
    assert Amount.parse("1.2345678x").target == 1.23457


@pytest.mark.parametrize("bad, words", [(1.0, "outside (0, 1)"), (0, "outside (0, 1)"), ("1x", "above 1x"),
                                        ("fast", "neither a fraction"), (True, "neither a fraction"),
                                        (None, "neither a fraction")])
def test_what_is_not_an_amount_is_refused_in_words(bad, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        Amount.parse(bad)
