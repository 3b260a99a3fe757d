"""Unlabelled texts, read one way for extraction and pretraining."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import pytest

from extractor.texts import read_texts
from nrskg.errors import DataFormatError
from pipeline.reading import decode_text, json_texts


def test_lines_and_json_records_named_as_ingest_names_its_sources(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(" 糖尿病 \n\n血糖\n", encoding="utf-8")
    a = tmp_path.resolve() / "a.txt"
    assert read_texts(a) == [(f"{a}#L1", " 糖尿病"), (f"{a}#L3", "血糖")]  # offsets index the line as written
    records = [{"id": "x", "text": "胰岛素"}, {"text": "二甲双胍"}]
    (tmp_path / "b.jsonl").write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
    b = tmp_path.resolve() / "b.jsonl"
    assert read_texts(b, decode_text, json_texts) == [(f"{b}#id=x", "胰岛素"), (f"{b}#L2", "二甲双胍")]
    with pytest.raises(DataFormatError, match=r"b.jsonl: expected a .txt, .md file"):
        read_texts(b)  # without ingest's reader JSON is not read


def test_segmented_words_and_folders(tmp_path: Path) -> None:
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "b.jsonl").write_text(json.dumps({"words": ["糖尿", "病"]}) + "\n", encoding="utf-8")
    b = tmp_path.resolve() / "w" / "b.jsonl"
    segmented = partial(json_texts, words=True)
    assert read_texts(tmp_path / "w", decode_text, segmented) == [(f"{b}#L1", ["糖尿", "病"])]
    (tmp_path / "w" / "a.txt").write_text("血糖\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match="mixes raw 'text' and segmented 'words'"):
        read_texts(tmp_path / "w", decode_text, segmented)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("c.jsonl", '{"oops": 1}\n', r"c.jsonl#L1: no string field 'text' \(fields: oops\)"),
        ("d.jsonl", "{not json\n{bad\n", r"d.jsonl#L1: column 2: invalid JSON .* \(and 1 more\)"),
        ("e.csv", "a,b\n", "expected a .txt, .md, .jsonl, .json file"),
    ],
)
def test_bad_input_names_the_file_and_line(tmp_path: Path, name: str, content: str, message: str) -> None:
    (tmp_path / name).write_text(content, encoding="utf-8")
    with pytest.raises(DataFormatError, match=message):
        read_texts(tmp_path / name, decode_text, json_texts)


def test_files_decode_as_ingest_decodes_them_where_its_decoder_is_given(tmp_path: Path) -> None:
    (tmp_path / "gb.md").write_bytes("糖尿病肾病\n\n二甲双胍\n".encode("gb18030"))
    with pytest.raises(DataFormatError, match="gb.md: cannot read as UTF-8 text"):
        read_texts(tmp_path / "gb.md")
    gb = tmp_path.resolve() / "gb.md"
    assert read_texts(gb, decode_text) == [(f"{gb}#L1", "糖尿病肾病"), (f"{gb}#L3", "二甲双胍")]
    (tmp_path / "bin.txt").write_bytes(b"ab\x00\x01")
    with pytest.raises(DataFormatError, match="bin.txt: NUL byte at offset 2"):
        read_texts(tmp_path / "bin.txt", decode_text)


def test_lines_end_at_newlines_alone_as_ingest_reads_them(tmp_path: Path) -> None:
    """JSON may hold U+2028 raw (`ensure_ascii=False`), and a page break is no line break: ids stay the file's
    line numbers, and no record is cut in two."""
    record = {"id": "p1", "text": "二甲双胍治疗2型糖尿病。\u2028第二段。"}
    (tmp_path / "a.jsonl").write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    a, b = tmp_path.resolve() / "a.jsonl", tmp_path.resolve() / "b.txt"
    assert read_texts(a, decode_text, json_texts) == [(f"{a}#id=p1", record["text"])]
    b.write_text("第一页\x0c第二页\n血糖\n", encoding="utf-8")
    assert read_texts(b) == [(f"{b}#L1", "第一页\x0c第二页"), (f"{b}#L2", "血糖")]


def test_a_folder_is_read_as_ingest_finds_its_files(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Any case of suffix is read, hidden copies are not, a brat .ann belongs to its .txt, and what is not
    read is named, not dropped."""
    (tmp_path / "a.txt").write_text("二甲双胍\n", encoding="utf-8")
    (tmp_path / "a.ann").write_text("T1\tDrug 0 4\t二甲双胍\n", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "B.TXT").write_text("胰岛素\n", encoding="utf-8")
    (tmp_path / ".ipynb_checkpoints").mkdir()
    (tmp_path / ".ipynb_checkpoints" / "a-checkpoint.txt").write_text("二甲双胍\n", encoding="utf-8")
    (tmp_path / "c.json").write_text(json.dumps({"text": "血糖"}), encoding="utf-8")
    root = tmp_path.resolve()
    assert read_texts(tmp_path) == [(f"{root}/a.txt#L1", "二甲双胍"), (f"{root}/sub/B.TXT#L1", "胰岛素")]
    assert "1 files not read, their suffix is not one of .txt, .md: c.json" in caplog.text


def test_each_json_record_gets_an_id_of_its_own(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Ids are read as ingest reads them (null or true is no id: the line number stands in), and one that
    comes again would leave output rows that name two texts."""
    lines = ['{"id": null, "text": "a"}', '{"id": true, "text": "b"}', '{"id": 7, "text": "c"}']
    (tmp_path / "a.jsonl").write_text("\n".join(lines), encoding="utf-8")
    a = tmp_path.resolve() / "a.jsonl"
    assert read_texts(a, decode_text, json_texts) == [(f"{a}#L1", "a"), (f"{a}#L2", "b"), (f"{a}#id=7", "c")]
    (tmp_path / "b.jsonl").write_text('{"id": "2", "text": "a"}\n{"id": 2, "text": "b"}\n', encoding="utf-8")
    b = tmp_path.resolve() / "b.jsonl"
    assert read_texts(b, decode_text, json_texts) == [(f"{b}#id=2", "a")]
    assert f"{b}#L2: id '2' again (first on line 1)" in caplog.text


def test_a_file_of_a_folder_that_cannot_be_read_is_named_and_the_others_are_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """As ingest goes on past a bad input, so does a folder's reading; a file named alone stays an error."""
    (tmp_path / "a.txt").write_text("二甲双胍\n", encoding="utf-8")
    (tmp_path / "b.jsonl").write_text("{not json\n", encoding="utf-8")
    (tmp_path / "c.txt").write_bytes(b"ab\x00\x01")
    a = tmp_path.resolve() / "a.txt"
    assert read_texts(tmp_path, decode_text, json_texts) == [(f"{a}#L1", "二甲双胍")]
    assert "b.jsonl#L1: column 2: invalid JSON" in caplog.text
    assert "c.txt: NUL byte at offset 2" in caplog.text
    with pytest.raises(DataFormatError, match="c.txt: NUL byte at offset 2"):
        read_texts(tmp_path / "c.txt", decode_text)


def test_a_link_to_a_file_of_the_folder_is_read_once_as_ingest_reads_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Each text was extracted twice, under the file's name and the link's; a link to a file outside the
    folder is that file's only path there, so it is read."""
    (tmp_path / "a.txt").write_text("二甲双胍\n", encoding="utf-8")
    (tmp_path / "latest.txt").symlink_to("a.txt")
    outside = tmp_path.parent / f"{tmp_path.name}-outside.txt"
    outside.write_text("胰岛素\n", encoding="utf-8")
    (tmp_path / "b.txt").symlink_to(outside)
    a = (tmp_path / "a.txt").resolve()
    assert read_texts(tmp_path) == [(f"{a}#L1", "二甲双胍"), (f"{outside.resolve()}#L1", "胰岛素")]
    assert (
        f"1 files not read, links to files read as themselves: latest.txt (same file as {tmp_path / 'a.txt'})"
        in caplog.text
    )


def test_a_json_document_is_read_as_ingest_reads_it_where_its_reader_is_given(tmp_path: Path) -> None:
    """Named as ingest sources it (a file of one object by its path); a file ingest fails is an error."""
    (tmp_path / "a.json").write_text(json.dumps({"text": "二甲双胍"}, ensure_ascii=False), encoding="utf-8")
    a, b = tmp_path.resolve() / "a.json", tmp_path.resolve() / "b.json"
    assert read_texts(a, decode_text, json_texts) == [(str(a), "二甲双胍")]
    b.write_text('{"id": 7, "text": "血糖"}\n{"text": "胰岛素"}\n', encoding="utf-8")
    assert read_texts(tmp_path, decode_text, json_texts) == [
        (str(a), "二甲双胍"), (f"{b}#id=7", "血糖"), (f"{b}#L2", "胰岛素")
    ]  # fmt: skip
    (tmp_path / "c.json").write_text('{"title": "no text"}', encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"c.json: no string field 'text' \(fields: title\)"):
        read_texts(tmp_path / "c.json", decode_text, json_texts)


def test_a_record_with_text_and_words_is_its_text_for_extract_and_its_words_for_pretrain(
    tmp_path: Path,
) -> None:
    both = tmp_path / "both.jsonl"
    both.write_text(json.dumps({"text": "糖尿病", "words": ["糖尿", "病"]}) + "\n", encoding="utf-8")
    source = f"{both.resolve()}#L1"
    assert read_texts(both, decode_text, json_texts) == [(source, "糖尿病")]
    assert read_texts(both, decode_text, partial(json_texts, words=True)) == [(source, ["糖尿", "病"])]
