"""Annotation list formats, the missing-file check and the shipped label maps."""

from pathlib import Path

import pytest

from videomae_tf.data.annotations import (LABEL_MAPS, MissingFilesError, VideoRecord,
                                          check_files, load_label_map,
                                          read_annotations, write_annotations)

LABELS = Path(__file__).resolve().parents[2] / "../shared/data/labels"


def _write(tmp_path, text, name="list.txt"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("fmt", ["videomae", "mmaction2", "ma52", "auto"])
def test_path_label_lists(tmp_path, fmt):
    path = _write(tmp_path, "a/b.mp4 3\n\n# comment\nmy clip.mp4 0\nabs.mp4 12\n")
    records = read_annotations(path, fmt, root="/data")
    assert records == [VideoRecord("/data/a/b.mp4", 3), VideoRecord("/data/my clip.mp4", 0),
                       VideoRecord("/data/abs.mp4", 12)]


def test_rawframes_list(tmp_path):
    path = _write(tmp_path, "frames/abseiling/x 300 0\nframes/y 120 399\n")
    for fmt in ("rawframes", "auto"):
        assert read_annotations(path, fmt) == [VideoRecord("frames/abseiling/x", 0, 300),
                                               VideoRecord("frames/y", 399, 120)]


def test_v2_pretraining_list(tmp_path):
    path = _write(tmp_path, "k400/a.mp4 0 -1\nssv2_frames/17 0 48\n")
    for fmt in ("v2_pretrain", "auto"):
        assert read_annotations(path, fmt, root="/r") == [
            VideoRecord("/r/k400/a.mp4", None, None), VideoRecord("/r/ssv2_frames/17", None, 48)]


def test_k400_csv_list(tmp_path):
    path = _write(tmp_path, "youtube_id, num_frames, label\n--07WQ2iBlw, 300, 6\nabc_def,250,399\n")
    for fmt in ("k400_csv", "auto"):
        records = read_annotations(path, fmt, root="/k400/val", suffix=".mp4")
        assert records == [VideoRecord("/k400/val/--07WQ2iBlw.mp4", 6, 300),
                           VideoRecord("/k400/val/abc_def.mp4", 399, 250)]


def test_pretraining_label_minus_one_means_none(tmp_path):
    path = _write(tmp_path, "x.mp4 -1\n")
    assert read_annotations(path) == [VideoRecord("x.mp4", None)]


def test_bad_line_names_file_and_line(tmp_path):
    path = _write(tmp_path, "a.mp4 1\nb.mp4 one\n")
    with pytest.raises(ValueError, match=r"list.txt, line 2: label 'one' is not an integer"):
        read_annotations(path, "videomae")
    with pytest.raises(ValueError, match="unknown annotation format"):
        read_annotations(path, "kinetics")
    with pytest.raises(ValueError, match="line 1"):
        read_annotations(_write(tmp_path, "a.mp4\n", "one.txt"), "videomae")


def test_write_then_read_round_trip(tmp_path):
    records = [VideoRecord(str(tmp_path / "v" / "a.mp4"), 1, 64),
               VideoRecord(str(tmp_path / "v" / "b c.mp4"), 0, 32)]
    for fmt in ("videomae", "rawframes"):
        out = tmp_path / f"{fmt}.txt"
        write_annotations(records, out, fmt, root=tmp_path)
        assert out.read_text().splitlines()[0].startswith("v/a.mp4")
        back = read_annotations(out, fmt, root=tmp_path)
        assert [(r.path, r.label) for r in back] == [(r.path, r.label) for r in records]
    with pytest.raises(ValueError, match="has no label"):
        write_annotations([VideoRecord("x.mp4")], tmp_path / "x.txt")


def test_missing_files_are_all_reported(tmp_path):
    (tmp_path / "here.mp4").write_bytes(b"")
    (tmp_path / "frames").mkdir()
    records = [VideoRecord(str(tmp_path / name), 0) for name in
               ("here.mp4", "gone1.mp4", "frames", "gone2.mp4")]
    assert check_files(records, raise_error=False) == [str(tmp_path / "gone1.mp4"),
                                                       str(tmp_path / "gone2.mp4")]
    with pytest.raises(MissingFilesError, match="2 of 4 files listed in 'train.txt'") as info:
        check_files(records, source="train.txt")
    assert "gone1.mp4" in str(info.value) and "gone2.mp4" in str(info.value)
    assert len(info.value.missing) == 2
    assert check_files(records[:1]) == []
    many = [VideoRecord(f"/nowhere/{i}.mp4") for i in range(30)]
    with pytest.raises(MissingFilesError, match="and 10 more") as info:
        check_files(many)
    assert len(info.value.missing) == 30


@pytest.mark.parametrize("name", sorted(LABEL_MAPS))
def test_shipped_label_maps(name):
    names = load_label_map(name)
    assert len(names) == LABEL_MAPS[name] == len(set(names))
    assert all(n and n == n.strip() and "\t" not in n for n in names)
    if (LABELS / f"{name}.txt").is_file() and name != "ma52":
        assert names == (LABELS / f"{name}.txt").read_text().splitlines()


def test_known_label_entries():
    assert load_label_map("kinetics400")[6] == "arm wrestling"
    assert load_label_map("k400") == load_label_map("kinetics400")
    ma52 = load_label_map("ma52")
    assert ma52[0] == "shaking body" and ma52[1] == "sitting straightly"
    assert ma52[9] == "nodding" and ma52[10] == "shaking head"
    assert len(load_label_map("ssv2")) == 174


def test_label_map_from_file(tmp_path):
    assert load_label_map(_write(tmp_path, "run\njump\n")) == ["run", "jump"]
    assert load_label_map(_write(tmp_path, "1\tjump\n0\trun\n", "tab.txt")) == ["run", "jump"]
    with pytest.raises(ValueError, match="indices must be 0..1"):
        load_label_map(_write(tmp_path, "0\trun\n2\tjump\n", "gap.txt"))
    with pytest.raises(ValueError, match="unknown label map 'kinetics5'"):
        load_label_map("kinetics5")




def test_a_list_on_a_gfile_url_reads_like_a_local_one(tmp_path):
    """Lists kept in a bucket (gs://) are read through tf.io.gfile; ram:// is a gfile file
    system without a network. A missing URL is a FileNotFoundError, as a missing file is."""
    import tensorflow as tf

    text = "a/b.mp4 3\n# comment\nc.mp4 1\n"
    url = "ram://videomae_tf_test_lists/train.txt"
    tf.io.gfile.makedirs("ram://videomae_tf_test_lists")
    with tf.io.gfile.GFile(url, "w") as f:
        f.write(text)
    local = _write(tmp_path, text)
    assert read_annotations(url, root="gs://bucket/videos") == [
        VideoRecord("gs://bucket/videos/a/b.mp4", 3), VideoRecord("gs://bucket/videos/c.mp4", 1)]
    assert read_annotations(url) == read_annotations(local)
    with pytest.raises(FileNotFoundError, match="ram://videomae_tf_test_lists/missing.txt"):
        read_annotations("ram://videomae_tf_test_lists/missing.txt")
