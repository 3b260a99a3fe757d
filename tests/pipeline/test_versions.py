"""plan_loads: what a run loads, given what the graph holds of each document."""

from __future__ import annotations

import pandas as pd

from graph.documents import LoadedVersion as Loaded
from pipeline.reading import MANIFEST_COLUMNS
from pipeline.versions import EDITED, Extracted, plan_loads

M2 = Extracted("m2", 0.5, 0.5)  # model m2 at its own minimum confidence


def manifest(*rows: tuple[str | None, str | None, str]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"doc_id": d, "source": f"/c/{d}", "content_hash": h, "status": s, "reason": "", "n_chars": 1,
             "encoding": "utf-8"}
            for d, h, s in rows
        ],
        columns=MANIFEST_COLUMNS,
    )  # fmt: skip


def test_new_edited_older_model_load_and_unchanged_skips() -> None:
    read = manifest(
        ("fresh", "h1", "new"), ("edited", "h2-new", "new"), ("older", "h3", "new"), ("same", "h4", "new"),
        (None, None, "failed:binary"), ("copy", "h1", "new"),
    )  # fmt: skip
    graph = {
        "edited": Loaded("h2-old", "m2", 0.5),
        "older": Loaded("h3", "m1", 0.5),
        "same": Loaded("h4", "m2", 0.5),
    }
    planned, to_load = plan_loads(read, graph, M2)
    assert to_load == ["fresh", "edited", "older"]
    by_id = planned.set_index("source")
    assert by_id.loc["/c/same", ["status", "reason"]].tolist() == [
        "skipped", "already loaded with model m2 at min confidence 0.5"
    ]  # fmt: skip
    assert by_id.loc["/c/edited", ["status", "reason"]].tolist() == ["new", EDITED]
    assert by_id.loc["/c/older", "reason"] == "re-extracted: loaded before by model m1"
    assert by_id.loc["/c/fresh", ["status", "reason"]].tolist() == ["new", ""]
    assert planned["status"].tolist()[4:] == ["failed:binary", "skipped"]  # reading's verdict stays
    assert by_id.loc["/c/copy", "reason"] == "same text as /c/fresh"  # neither holds h1 in the graph


def test_of_two_inputs_with_one_text_the_one_the_graph_holds_is_kept_whatever_its_name() -> None:
    read = manifest(("a-copy", "h", "new"), ("b-loaded", "h", "new"), ("c-other", "h2", "new"))
    graph = {"b-loaded": Loaded("h", "m1", 0.5), "a-copy": Loaded("old-text", "m1", 0.5)}
    planned, to_load = plan_loads(read, graph, M2)
    by_id = planned.set_index("source")
    assert by_id.loc["/c/a-copy", ["status", "reason"]].tolist() == ["skipped", "same text as /c/b-loaded"]
    assert to_load == ["b-loaded", "c-other"]  # the loaded one is re-extracted with the new model
    assert by_id.loc["/c/b-loaded", "reason"] == "re-extracted: loaded before by model m1"


def test_nothing_to_load_when_the_graph_has_every_version() -> None:
    planned, to_load = plan_loads(manifest(("a", "h", "new")), {"a": Loaded("h", "m2", 0.5)}, M2)
    assert to_load == [] and planned["status"].tolist() == ["skipped"]


def test_another_minimum_confidence_re_extracts_and_an_unrecorded_one_is_the_models_own() -> None:
    read = manifest(("at-default", "h1", "new"), ("unrecorded", "h2", "new"), ("at-0.9", "h3", "new"))
    graph = {
        "at-default": Loaded("h1", "m2", 0.5),
        "unrecorded": Loaded("h2", "m2"),
        "at-0.9": Loaded("h3", "m2", 0.9),
    }
    planned, to_load = plan_loads(read, graph, Extracted("m2", 0.9, 0.5))
    assert to_load == ["at-default", "unrecorded"]
    reasons = planned.set_index("source")["reason"]
    assert (
        reasons["/c/at-default"]
        == reasons["/c/unrecorded"]
        == "re-extracted: loaded before at min confidence 0.5"
    )
    assert reasons["/c/at-0.9"] == "already loaded with model m2 at min confidence 0.9"
    _, at_default = plan_loads(read, graph, M2)
    assert at_default == ["at-0.9"]  # back at the model's own: only the one filtered otherwise
