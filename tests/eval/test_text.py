import pytest

from audiolm_lib.eval.text import char_error_rate, edit_distance, normalize_text, number_to_words, word_error_rate


def test_edit_distance_hand_computed():
    assert edit_distance("kitten", "sitting") == 3  # k->s, e->i, +g
    assert edit_distance("", "abc") == 3
    assert edit_distance("abc", "") == 3
    assert edit_distance(["a", "b"], ["a", "b"]) == 0
    assert edit_distance("flaw", "lawn") == 2  # -f, +n


def test_word_error_rate_substitution_deletion_insertion():
    # "sat"->"sit" (substitution) and a dropped "the" (deletion): 2 errors / 6 words
    assert word_error_rate("the cat sat on the mat", "the cat sit on mat") == pytest.approx(2 / 6)
    assert word_error_rate("a b", "a x b") == pytest.approx(1 / 2)  # one insertion
    assert word_error_rate("a", "b c d") == pytest.approx(3.0)  # WER can exceed 1
    assert word_error_rate("same words here", "same words here") == 0.0


def test_char_error_rate_hand_computed():
    assert char_error_rate("abc", "abd") == pytest.approx(1 / 3)
    # "ten of clubs" (12 chars incl. spaces) vs "ten o clubs": one deletion
    assert char_error_rate("ten of clubs", "ten o clubs") == pytest.approx(1 / 12)


def test_normalisation_ignores_case_punctuation_and_abbreviations():
    assert normalize_text("Mr. Dashwood's ill-disposed!") == "mister dashwoods ill disposed"
    assert normalize_text("  Hello,\tWORLD?? ") == "hello world"
    assert word_error_rate("and mister john dashwood", "And Mr. John Dashwood.") == 0.0
    assert char_error_rate("Hello, World!", "hello world") == 0.0
    # without normalisation the same pair has errors
    assert word_error_rate("Hello, World!", "hello world", normalize=False) == 1.0


def test_empty_reference_is_a_clear_error():
    with pytest.raises(ValueError, match="reference transcript"):
        word_error_rate(" ... ", "something")
    with pytest.raises(ValueError, match="expected text"):
        normalize_text(None)


def test_numbers_are_written_as_words():
    assert [number_to_words(n) for n in (0, 13, 40, 42, 100, 115, 1001, 20_024)] == [
        "zero", "thirteen", "forty", "forty two", "one hundred", "one hundred fifteen",
        "one thousand one", "twenty thousand twenty four",
    ]
    assert normalize_text("4. Queen of clubs, 10 of hearts") == "four queen of clubs ten of hearts"
    assert normalize_text("1,250 men") == "one thousand two hundred fifty men"
    assert normalize_text("3.5 kg, mp3, 42nd") == "3 5 kg mp3 42nd"  # decimals and words with digits stay
    assert word_error_rate("ten of clubs", "10 of clubs.") == 0.0
    with pytest.raises(ValueError, match="999999"):
        number_to_words(1_000_000)
