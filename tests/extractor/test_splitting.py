"""The model's windows: one cut, with one set of sentence and clause marks."""

from __future__ import annotations

import pytest

from extractor.configuration import NRSOneRelConfig
from extractor.splitting import WindowConfig, window_spans


def test_windows_prefer_sentence_then_clause_boundaries() -> None:
    text = "甲" * 10 + "。" + "乙" * 3 + "，" + "丙" * 20
    spans = window_spans(text, max_chars=16, stride=8, snap=4)
    assert spans[0] == (0, 15)  # limit 16; the clause end at 15 is within the snap
    assert spans[1][0] == 8  # no boundary in [4, 8]: hard start
    assert window_spans("短句。", 16, 8) == [(0, 3)]
    assert window_spans("甲" * 12 + "。”" + "乙" * 20, 16, 8, snap=4)[0] == (0, 14)  # after the closing quote


def test_window_config_is_the_models() -> None:
    model = NRSOneRelConfig()
    assert WindowConfig.of(model) == WindowConfig(model.window_chars, model.window_stride)
    with pytest.raises(ValueError, match="stride"):
        WindowConfig(10, 11)
