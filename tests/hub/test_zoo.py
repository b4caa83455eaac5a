"""The model zoo as data: its entries are consistent, README's table is generated from it,
and ``videomae-tf zoo`` lists and explains it."""

import json
import re
from pathlib import Path

import pytest

from videomae_tf.cli import main
from videomae_tf.data.annotations import LABEL_MAPS
from videomae_tf.models.architectures import ARCHITECTURES
from videomae_tf.zoo import ZOO, markdown_table

REPO = Path(__file__).resolve().parents[2]


def test_readme_table_is_the_generated_one():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- zoo-table:start -->\n(.*?)\n<!-- zoo-table:end -->", readme, re.S)
    assert found, "README.md lost its zoo-table markers"
    assert found.group(1) == markdown_table(), \
        "README's zoo table is stale: paste `videomae-tf zoo --markdown` between the markers"


@pytest.mark.parametrize("name", sorted(ZOO))
def test_entry_is_consistent(name):
    e = ZOO[name]
    assert re.fullmatch(r"[a-z0-9_]+", name)
    assert e.arch in ARCHITECTURES and e.task in ("finetune", "pretrain")
    assert e.page.startswith("https://")
    assert e.download is None or e.download.startswith("https://")
    assert e.labels is None or e.labels in LABEL_MAPS
    assert e.sha256 is None or re.fullmatch(r"[0-9a-f]{8}([0-9a-f]{56})?", e.sha256)
    if e.top1 is not None:
        assert 0 < e.top1 <= 100 and (e.top5 is None or e.top1 <= e.top5 <= 100)
        assert e.task == "finetune" and e.labels, "reported accuracy needs a label map"
    assert e.how_fetched() in ("download", "by hand", "on request") or \
        e.how_fetched().startswith("hf:")


def test_zoo_names_the_checkpoints_the_issue_lists():
    families = {e.family for e in ZOO.values()}
    assert families == {"videomae", "videomaev2", "mmaction2", "internvideo", "catmae", "hf"}
    for name in ("videomae_vit_s_k400_ft", "videomae_vit_h_k400_ft", "videomae_vit_b_ssv2_ft",
                 "videomae_vit_b_ucf101_ft", "videomaev2_vit_b_k710_distilled_ft",
                 "videomaev2_vit_g_k710_k400_ft", "mmaction2_videomaev2_vit_s_k400",
                 "internvideo_videomae_vit_b_k710_ft", "internvideo_videomae_vit_l_k700_ft",
                 "hf_opengvlab_videomaev2_giant"):
        assert name in ZOO
    assert ZOO["videomaev2_vit_g_k710_k400_ft"].top1 == 88.4  # SPEC 10


def test_cli_zoo_lists_shows_and_refuses(capsys):
    assert main(["zoo"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in ZOO) and "by hand" in listing
    assert main(["zoo", "--markdown"]) == 0
    assert capsys.readouterr().out.strip() == markdown_table()
    assert main(["zoo", "videomae_vit_b_k400_ft"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["top1"] == 81.5 and shown["setting"] == "16x4x5x3"
    assert main(["zoo", "videomae_vit_b_k400"]) == 2
    assert re.search(r"did you mean .*videomae_vit_b_k400_ft", capsys.readouterr().err)
