"""Reading a corpus: one manifest row per input, whatever state the input is in."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from nrskg.discovery import discover
from nrskg.errors import PipelineError
from pipeline.normalise import normalise
from pipeline.reading import MANIFEST_COLUMNS, content_hash_of, doc_id_of, read_corpus, with_status


def _status(manifest, source_suffix: str) -> str:
    rows = manifest[manifest["source"].str.endswith(source_suffix)]
    assert len(rows) == 1, rows
    return rows.iloc[0]["status"]


@pytest.fixture
def broken_corpus(tmp_path: Path) -> Path:
    (tmp_path / "sub").mkdir()
    (tmp_path / "good.txt").write_text("二甲双胍是2型糖尿病的一线用药。", encoding="utf-8")
    (tmp_path / "short_utf8.txt").write_text("糖尿病", encoding="utf-8")
    (tmp_path / "gbk.txt").write_bytes("糖尿病患者好".encode("gbk"))  # 6 characters, 12 bytes
    (tmp_path / "bom.md").write_bytes(b"\xef\xbb\xbf" + "# 胰岛素\n胰岛素降低血糖。".encode())
    (tmp_path / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blank.txt").write_text(" \n\u3000\n", encoding="utf-8")
    (tmp_path / "sub" / "brat.txt").write_text("糖尿病\n肾病。", encoding="utf-8")
    (tmp_path / "sub" / "brat.ann").write_text("T1\tDisease 0 3\t糖尿病\n", encoding="utf-8")
    (tmp_path / "lines.jsonl").write_text(
        '{"text": "高血糖损伤血管。"}\n{"text": oops}\n\n{"title": "no text"}\n[1, 2]\n', encoding="utf-8"
    )
    (tmp_path / "one.json").write_text(json.dumps({"text": "运动改善胰岛素抵抗。"}), encoding="utf-8")
    (tmp_path / "long.txt").write_text("血糖控制，" * 400_000, encoding="utf-8")  # 2M chars, one line
    return tmp_path


def test_every_input_gets_one_row_with_the_right_status(broken_corpus: Path) -> None:
    documents, manifest = read_corpus(broken_corpus)
    assert list(manifest.columns) == MANIFEST_COLUMNS
    assert len(manifest) == 14  # 10 files + 4 JSON lines (a blank line is not an input), no .ann
    expected = {
        "good.txt": "new",
        "short_utf8.txt": "new",
        "gbk.txt": "new",
        "bom.md": "new",
        "binary.txt": "failed:binary",
        "empty.txt": "failed:empty",
        "blank.txt": "failed:empty",
        "brat.txt": "new",
        "lines.jsonl#L1": "new",
        "lines.jsonl#L2": "failed:invalid-json",
        "lines.jsonl#L4": "failed:no-text",
        "lines.jsonl#L5": "failed:invalid-json",
        "one.json": "new",
        "long.txt": "new",
    }
    for suffix, status in expected.items():
        assert _status(manifest, suffix) == status, suffix
    failed = manifest[manifest["status"].str.startswith("failed:")]
    assert failed["reason"].str.len().gt(0).all()
    assert failed["doc_id"].isna().all()
    assert "lines.jsonl#L2: column" in failed.set_index("source")["reason"].filter(like="#L2").iloc[0]
    assert len(documents) == int((manifest["status"] == "new").sum())


def test_encodings_are_detected_without_guessing(broken_corpus: Path) -> None:
    documents, manifest = read_corpus(broken_corpus)
    by_source = {Path(d.source).name: d for d in documents}
    assert by_source["gbk.txt"].text == "糖尿病患者好"
    assert by_source["short_utf8.txt"].text == "糖尿病"
    assert by_source["bom.md"].text == "# 胰岛素\n胰岛素降低血糖。"
    encodings = manifest.set_index("source")["encoding"]
    assert encodings[str(broken_corpus / "gbk.txt")] == "gb18030"
    assert encodings[str(broken_corpus / "short_utf8.txt")] == "utf-8"
    assert encodings[str(broken_corpus / "bom.md")] == "utf-8-sig"


def test_two_megabyte_single_line_is_read_whole(broken_corpus: Path) -> None:
    documents, manifest = read_corpus(broken_corpus / "long.txt")
    assert manifest["n_chars"].tolist() == [2_000_000]
    assert documents[0].text.startswith("血糖控制，血糖控制")


def test_brat_text_keeps_the_map_to_annotation_offsets(broken_corpus: Path) -> None:
    (doc,) = read_corpus(broken_corpus / "sub" / "brat.txt").documents
    assert doc.text == "糖尿病肾病。"
    assert doc.norm.to_original(3, 5) == (4, 6)
    assert doc.norm.original[4:6] == "肾病"


def test_edited_file_keeps_its_id_and_changes_its_version_renamed_file_is_a_new_document(
    tmp_path: Path,
) -> None:
    (tmp_path / "a.txt").write_text("胰岛素抵抗。", encoding="utf-8")
    (first,) = read_corpus(tmp_path / "a.txt").documents
    (tmp_path / "a.txt").write_text("胰岛素抵抗加重。", encoding="utf-8")
    (edited,) = read_corpus(tmp_path / "a.txt").documents
    assert edited.doc_id == first.doc_id == doc_id_of(str(tmp_path / "a.txt"))
    assert first.content_hash == content_hash_of("胰岛素抵抗。") != edited.content_hash
    (tmp_path / "a.txt").rename(tmp_path / "renamed.txt")
    (renamed,) = read_corpus(tmp_path / "renamed.txt").documents
    assert renamed.doc_id != first.doc_id and renamed.content_hash == edited.content_hash
    # Only normalisation-level differences keep the version: full-width digits, CRLF, trailing spaces.
    (tmp_path / "renamed.txt").write_bytes("胰岛素抵抗加重。 \r\n".encode())
    assert read_corpus(tmp_path / "renamed.txt").documents[0].content_hash == edited.content_hash


def test_relative_and_absolute_corpus_paths_give_the_same_ids(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "a.txt").write_text("胰岛素抵抗。", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    relative, absolute = read_corpus("a.txt"), read_corpus(tmp_path / "a.txt")
    assert (
        relative.manifest["source"].tolist()
        == absolute.manifest["source"].tolist()
        == [str(tmp_path / "a.txt")]
    )
    assert relative.documents[0].doc_id == absolute.documents[0].doc_id


def test_json_lines_with_an_id_are_sourced_by_it_and_a_repeated_id_fails(tmp_path: Path) -> None:
    path = tmp_path / "notes.jsonl"
    path.write_text('{"id": "n1", "text": "低血糖。"}\n{"id": 7, "text": "酮症。"}\n', encoding="utf-8")
    before = {d.source: d.doc_id for d in read_corpus(path).documents}
    assert sorted(before) == [f"{path}#id=7", f"{path}#id=n1"]
    path.write_text(
        '{"text": "新的一行。"}\n{"id": "n1", "text": "低血糖加重。"}\n{"id": 7, "text": "酮症。"}\n'
        '{"id": "n1", "text": "重复。"}\n',
        encoding="utf-8",
    )
    documents, manifest = read_corpus(path)
    after = {d.source: d.doc_id for d in documents}
    assert after[f"{path}#id=n1"] == before[f"{path}#id=n1"]  # a line inserted above moves nothing
    assert after[f"{path}#id=7"] == before[f"{path}#id=7"] and f"{path}#L1" in after
    failed = manifest[manifest["status"] == "failed:duplicate-id"]
    assert failed["source"].tolist() == [f"{path}#L4"] and "first on line 2" in failed["reason"].iloc[0]


def test_duplicate_texts_are_both_read_for_the_plan_to_choose(tmp_path: Path) -> None:
    """Which copy carries the text depends on what the graph holds (pipeline.versions), not on reading."""
    (tmp_path / "a.txt").write_text("低血糖。", encoding="utf-8")
    (tmp_path / "b.txt").write_bytes("低血糖。".encode("gbk"))
    documents, manifest = read_corpus(tmp_path)
    assert len(documents) == 2
    assert manifest["status"].tolist() == ["new", "new"]
    assert manifest["content_hash"].nunique() == 1 and manifest["doc_id"].nunique() == 2


def test_json_text_field_is_configurable_and_lists_are_read(tmp_path: Path) -> None:
    from pipeline.settings import ReadSettings

    path = tmp_path / "docs.json"
    path.write_text(json.dumps([{"abstract": "糖尿病足。"}, {"abstract": 3}]), encoding="utf-8")
    documents, manifest = read_corpus(path, ReadSettings(text_field="abstract"))
    assert [d.text for d in documents] == ["糖尿病足。"]
    assert manifest["source"].tolist() == [f"{path}#[0]", f"{path}#[1]"]
    assert manifest["status"].tolist() == ["new", "failed:no-text"]


def test_dotted_text_field_collects_paragraphs(tmp_path: Path) -> None:
    from pipeline.settings import ReadSettings

    record = {"doc_id": "1", "paragraphs": [{"paragraph": "第一段。"}, {"paragraph": "第二段。"}, {"x": 1}]}
    (tmp_path / "doc.json").write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    (doc,) = read_corpus(tmp_path, ReadSettings(text_field="paragraphs.paragraph")).documents
    assert doc.text == "第一段。\n\n第二段。"


def test_diakg_documents_read_through_their_paragraphs(shared_data: Path) -> None:
    from pipeline.settings import ReadSettings

    documents, manifest = read_corpus(
        shared_data / "diakg" / "train", ReadSettings(text_field="paragraphs.paragraph")
    )
    assert len(manifest) == 33 and (manifest["status"] == "new").all()
    assert min(len(d.text) for d in documents) > 1000  # whole guidelines, not one field of them
    assert sum("糖尿病" in d.text for d in documents) >= 30


def test_json_file_that_is_really_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "lines.json"
    path.write_text('{"text": "一。"}\n{"text": "二。"}\n', encoding="utf-8")
    assert [d.source for d in read_corpus(path).documents] == [f"{path}#L1", f"{path}#L2"]


def _read_bytes(tmp_path: Path, data: bytes) -> tuple[list[str], dict]:
    path = tmp_path / "x.txt"
    path.write_bytes(data)
    documents, manifest = read_corpus(path)
    return [d.text for d in documents], manifest.iloc[0].to_dict()


def test_big5_is_not_mistaken_for_gb18030(tmp_path: Path) -> None:
    big5 = "糖尿病患者應控制血糖，並定期檢查腎功能。"
    texts, row = _read_bytes(tmp_path, big5.encode("big5"))
    assert (texts, row["encoding"]) == ([big5], "big5")
    gbk = "二甲双胍是2型糖尿病患者的一线用药，≥65岁注意肾功能（eGFR）μmol/L"
    texts, row = _read_bytes(tmp_path, gbk.encode("gbk"))
    assert (texts, row["encoding"]) == ([normalise(gbk).text], "gb18030")


def test_one_sentence_of_big5_is_read_as_big5_not_as_shift_jis(tmp_path: Path) -> None:
    """charset-normalizer took a short Big5 file for Shift JIS: a Taiwan text became half-width katakana."""
    for big5 in ("二甲雙胍是2型糖尿病患者的首選藥物。", "糖尿病腎病"):
        texts, row = _read_bytes(tmp_path, big5.encode("big5"))
        assert (texts, row["encoding"]) == ([big5], "big5")


def test_undecodable_bytes_fail_instead_of_becoming_mojibake(tmp_path: Path) -> None:
    texts, row = _read_bytes(tmp_path, bytes(range(0x80, 0x100)) * 3)
    assert texts == [] and row["status"] in {"failed:undecodable", "failed:binary"}
    texts, row = _read_bytes(tmp_path, b"\xef\xbb\xbf\xff\xfe")
    assert (row["status"], row["encoding"]) == ("failed:undecodable", "utf-8")
    assert row["reason"] == f"{tmp_path / 'x.txt'}: byte 0: not utf-8 (invalid start byte)"


def test_with_status_marks_only_new_rows(broken_corpus: Path) -> None:
    documents, manifest = read_corpus(broken_corpus)
    loaded = with_status(manifest, [documents[0].doc_id, None], "loaded")
    assert (loaded["status"] == "loaded").sum() == 1
    assert (
        loaded["status"].str.startswith("failed:").sum() == manifest["status"].str.startswith("failed:").sum()
    )
    assert (manifest["status"] == "loaded").sum() == 0  # the input is not changed


def test_unsupported_single_file_and_missing_path(tmp_path: Path) -> None:
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    manifest = read_corpus(tmp_path / "image.png").manifest
    assert manifest["status"].tolist() == ["skipped:unsupported"]
    with pytest.raises(PipelineError, match="no such file"):
        read_corpus(tmp_path / "missing")


def test_files_of_other_suffixes_in_a_folder_each_get_a_row_and_a_warning(tmp_path: Path, caplog) -> None:
    for name in ["a.csv", "b.docx", "image.png", "README"]:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "good.txt").write_text("低血糖。", encoding="utf-8")
    documents, manifest = read_corpus(tmp_path)
    assert [d.source for d in documents] == [str(tmp_path / "good.txt")]
    unsupported = manifest[manifest["status"] == "skipped:unsupported"].set_index("source")["reason"]
    assert sorted(Path(s).name for s in unsupported.index) == ["README", "a.csv", "b.docx", "image.png"]
    assert unsupported[str(tmp_path / "a.csv")].endswith("suffix .csv is not one of .txt, .md, .json, .jsonl")
    assert "4 files not read, their suffix is not one of .txt, .md, .json, .jsonl" in caplog.text


def test_discovery_is_recursive_natural_and_skips_hidden_and_brat_annotations(tmp_path: Path) -> None:
    for name in ["10.txt", "2.txt", "b/1.md", ".git/x.txt", "10.ann", "c.ann"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x", encoding="utf-8")
    found = [p.relative_to(tmp_path).as_posix() for p in discover(tmp_path)]
    assert found == ["2.txt", "10.txt", "b/1.md", "c.ann"]  # c.ann annotates no text: read, as unsupported


def test_a_link_to_a_file_of_the_corpus_is_read_once_and_a_dangling_link_fails(tmp_path: Path) -> None:
    """Sources are resolved paths, so a symlink beside its file was a second document with the same doc_id:
    its sentences twice, and the ingest stopped in dedup on a "bug". A link whose file is gone was dropped
    without a row."""
    (tmp_path / "b.txt").write_text("低血糖。", encoding="utf-8")
    (tmp_path / "a_link.txt").symlink_to(tmp_path / "b.txt")  # sorts first
    (tmp_path / "gone.txt").symlink_to(tmp_path / "moved-away.txt")
    documents, manifest = read_corpus(tmp_path)
    assert [d.source for d in documents] == [str(tmp_path / "b.txt")]
    rows = manifest.set_index("source")[["status", "reason"]]
    link = rows.loc[str(tmp_path / "a_link.txt")].tolist()
    assert link == ["skipped", f"same file as {tmp_path / 'b.txt'}"]
    assert rows.loc[str(tmp_path / "gone.txt"), "status"] == "failed:unreadable"
    assert "No such file" in rows.loc[str(tmp_path / "gone.txt"), "reason"]


def test_a_linked_folder_is_part_of_the_corpus_and_a_link_to_a_folder_above_is_not_followed(
    tmp_path: Path,
) -> None:
    """A batch linked into the corpus folder was silently left out (no row, no warning); a link back up the
    tree must not make reading endless."""
    corpus, batch = tmp_path / "corpus", tmp_path / "batch"
    (corpus / "own").mkdir(parents=True)
    batch.mkdir()
    (corpus / "own" / "a.txt").write_text("二甲双胍。", encoding="utf-8")
    (batch / "b.txt").write_text("胰岛素。", encoding="utf-8")
    (corpus / "linked").symlink_to(batch)
    (corpus / "own" / "up").symlink_to(corpus)
    assert discover(corpus) == [corpus / "linked" / "b.txt", corpus / "own" / "a.txt"]


def test_a_text_field_that_is_no_string_says_what_it_is(tmp_path: Path) -> None:
    """`{"text": 12}` failed as `no string field 'text' (fields: text)`, which reads as a contradiction."""
    path = tmp_path / "lines.jsonl"
    path.write_text('{"text": 12}\n{"body": "血糖"}\n{"text": null}\n', encoding="utf-8")
    reasons = read_corpus(path).manifest["reason"].tolist()
    assert reasons == [
        f"{path}#L1: field 'text' is a number, not a string",
        f"{path}#L2: no string field 'text' (fields: body)",
        f"{path}#L3: field 'text' is null, not a string",
    ]


def test_a_utf8_file_cut_inside_its_last_character_is_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A file cut at a byte count (`head -c`, a size-capped export) ends inside a character: it failed whole
    as `not UTF-8, GB18030 or Big5`; it is read without the broken character, named in a warning.
    """
    text = "二甲双胍是2型糖尿病的一线用药。" * 3
    cut, bom = tmp_path / "cut.txt", tmp_path / "bom.txt"
    cut.write_bytes(text.encode("utf-8")[:-1])
    bom.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8")[:-2])
    documents, manifest = read_corpus(tmp_path)
    assert manifest["status"].tolist() == ["new", "new"]
    assert [d.text for d in documents] == [text[:-1], text[:-1]]
    assert manifest["encoding"].tolist() == ["utf-8-sig", "utf-8"]
    warnings = [r.getMessage().split(":")[0] for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [str(bom), str(cut)]


def test_a_gb18030_file_whose_one_chinese_character_ends_it_is_not_taken_for_cut_utf8(tmp_path: Path) -> None:
    """Bytes whose only non-ASCII character ends them can read as UTF-8 cut inside that character (啖 in
    GB18030 is a UTF-8 lead byte and a continuation byte): without a whole multibyte UTF-8 character before
    the end there is no sign of UTF-8, and the strict decodings decide."""
    text = "HbA1c 7.0%, metformin 500mg bid 啖"
    texts, row = _read_bytes(tmp_path, text.encode("gb18030"))
    assert (texts, row["encoding"]) == ([normalise(text).text], "gb18030")
    texts, row = _read_bytes(tmp_path, b"\xef\xbb\xbf" + text.encode("utf-8")[:-1])  # a BOM says UTF-8
    assert (texts, row["encoding"]) == ([normalise(text[:-1]).text], "utf-8-sig")


def test_a_file_broken_before_its_end_is_still_undecodable(tmp_path: Path) -> None:
    """Only a cut at the very end is forgiven: a broken character inside the text is no UTF-8."""
    path = tmp_path / "broken.txt"
    data = "二甲双胍是2型糖尿病的一线用药。".encode()
    path.write_bytes(data[:4] + data[5:])
    assert read_corpus(path).manifest["status"].tolist() == ["failed:undecodable"]
