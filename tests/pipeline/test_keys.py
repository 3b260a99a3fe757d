"""Names as a clinician types them, in the forms the graph may key them under."""

from __future__ import annotations

from pipeline.keys import key_forms, name_forms


def test_a_name_is_tried_as_typed_then_in_the_other_script() -> None:
    assert name_forms("二甲雙胍")[0] == "二甲雙胍" and "二甲双胍" in name_forms("二甲雙胍")
    assert name_forms(" 糖尿病 肾病")[0] == "糖尿病肾病" and "糖尿病腎病" in name_forms("糖尿病肾病")
    assert name_forms("ＡＣＥＩ") == ["acei"]
    assert key_forms("Drug:二甲双胍") == ["Drug:二甲双胍", "Drug:二甲雙胍"]


def test_a_key_typed_by_hand_reads_as_the_key_it_names() -> None:
    """A key pasted with spaces around it, or typed with a Chinese input method's full-width colon, names the
    same entity: the type is trimmed and the colon read as `:`."""
    for typed in (" Drug:二甲双胍", "Drug :二甲双胍 ", "Drug：二甲双胍", "　Drug：二甲双胍"):
        assert key_forms(typed) == ["Drug:二甲双胍", "Drug:二甲雙胍"], typed
