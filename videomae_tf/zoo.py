"""The model zoo as data: every checkpoint the official zoos and the MA-52 solution name.

Each ``ZooEntry`` says where the checkpoint comes from (the zoo page and its download
link), how it was tested (frames x sampling rate x clips x crops), its label map, the
top-1/top-5 its authors report and what the converter needs to read it.
``videomae_tf.from_pretrained(name)`` downloads, verifies, converts and caches one;
``videomae-tf zoo`` prints the table, and README.md's model-zoo table is
``markdown_table()`` (a test keeps the two equal).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["BROWSER_HOSTS", "DISPLAY_NAMES", "ZOO", "ZooEntry", "markdown_table"]

#: Display names of the architectures (the table, model cards).
DISPLAY_NAMES = {"vit_s": "ViT-S/16", "vit_b": "ViT-B/16", "vit_l": "ViT-L/16",
                 "vit_h": "ViT-H/16", "vit_g": "ViT-g/14"}

#: Hosts whose links need a browser (confirmation pages, logins): fetched by hand.
BROWSER_HOSTS = ("drive.google.com", "docs.google.com", "pan.baidu.com")

_V1_PAGE = "https://github.com/MCG-NJU/VideoMAE/blob/main/MODEL_ZOO.md"
_V2_PAGE = "https://github.com/OpenGVLab/VideoMAEv2/blob/master/docs/MODEL_ZOO.md"
_MM_V1_PAGE = "https://github.com/open-mmlab/mmaction2/tree/main/configs/recognition/videomae"
_MM_V2_PAGE = "https://github.com/open-mmlab/mmaction2/tree/main/configs/recognition/videomaev2"
_V1_README = "https://github.com/MCG-NJU/VideoMAE/blob/main/README.md"
_INTERNVIDEO_PAGE = ("https://github.com/OpenGVLab/InternVideo/blob/main/InternVideo1/Pretrain/"
                     "VideoMAE/README.md")
_INTERNVIDEO_README = "https://github.com/OpenGVLab/InternVideo/blob/main/InternVideo1/README.md"
_CATMAE_PAGE = "https://github.com/minhoooo1/CatMAE/blob/master/README.md"
#: V1 checkpoints are fetched from MCG-NJU's transformers repos (the Drive originals need a
#: browser); their config.json says eps 1e-12 / 1e-5, the official code used 1e-6 everywhere.
_OFFICIAL_EPS = {"finetune": dict(overrides=dict(layer_norm_eps=1e-6, fc_norm_eps=1e-6)),
                 "pretrain": dict(overrides=dict(layer_norm_eps=1e-6, decoder_eps=1e-6))}


@dataclass(frozen=True)
class ZooEntry:
    """One released checkpoint and the facts needed to use it."""

    name: str
    family: str  # videomae | videomaev2 | mmaction2 | internvideo | catmae | hf
    arch: str  # a key of ARCHITECTURES
    task: str  # finetune | pretrain
    data: str  # pretraining data -> fine-tuning data, e.g. "K400 (1600 ep) -> K400"
    page: str  # the zoo page that lists it
    download: str | None  # direct link as the page gives it; None: on request only
    frames: int = 16
    sampling_rate: int | str = 4  # frame stride, or "segment" (SSV2's TSN-style sampling)
    clips: int | None = None
    crops: int | None = None
    img_size: int = 224
    labels: str | None = None  # a label map shipped in videomae_tf/data/labels
    top1: float | None = None
    top5: float | None = None
    sha256: str | None = None  # full digest or a published prefix
    hf_repo: str | None = None  # the same weights as a transformers repo: what is downloaded
    convert_options: dict = field(default_factory=dict)  # checkpoints_convert.convert kwargs
    note: str = ""

    def setting(self) -> str:
        """The test setting as the papers write it: frames x rate x clips x crops (the
        parts the source states; "-" for one it does not)."""
        parts = [self.frames, self.sampling_rate, self.clips, self.crops]
        while parts and parts[-1] is None:
            parts.pop()
        return "x".join("-" if p is None else str(p) for p in parts) or "-"

    def how_fetched(self) -> str:
        """How ``from_pretrained`` gets it: "hf:<repo>", "download", "by hand" (a link
        that needs a browser: pass ``checkpoint=``) or "on request"."""
        if self.hf_repo:
            return f"hf:{self.hf_repo}"
        if self.download is None:
            return "on request"
        return "by hand" if _host(self.download) in BROWSER_HOSTS else "download"

    def metrics(self) -> dict:
        """Reported accuracy (percent) with the setting it was measured in."""
        found = {"top1": self.top1, "top5": self.top5}
        found = {k: v for k, v in found.items() if v is not None}
        return dict(found, setting=self.setting()) if found else {}


_ENTRIES: list[ZooEntry] = [
    ZooEntry('videomae_vit_s_k400_pt', 'videomae', 'vit_s', 'pretrain', 'K400 1600ep', _V1_PAGE, 'https://drive.google.com/file/d/1nU-H1u3eJ-VuyCveU7v-WIOcAVxs5Hww/view?usp=sharing'),
    ZooEntry('videomae_vit_s_k400_ft', 'videomae', 'vit_s', 'finetune', 'K400 1600ep -> K400', _V1_PAGE, 'https://drive.google.com/file/d/1ygjLRm1kvs9mwGsP3lLxUExhRo6TWnrx/view?usp=sharing',
             clips=5, crops=3, labels='kinetics400', top1=79.0, top5=93.8, hf_repo='MCG-NJU/videomae-small-finetuned-kinetics',
             convert_options=_OFFICIAL_EPS['finetune']),
    ZooEntry('videomae_vit_b_k400_800e_pt', 'videomae', 'vit_b', 'pretrain', 'K400 800ep', _V1_PAGE, 'https://drive.google.com/file/d/1JfrhN144Hdg7we213H1WxwR3lGYOlmIn/view?usp=sharing',
             hf_repo='MCG-NJU/videomae-base-short',
             convert_options=_OFFICIAL_EPS['pretrain']),
    ZooEntry('videomae_vit_b_k400_800e_ft', 'videomae', 'vit_b', 'finetune', 'K400 800ep -> K400', _V1_PAGE, 'https://drive.google.com/file/d/18EEgdXY9347yK3Yb28O-GxFMbk41F6Ne/view?usp=sharing',
             clips=5, crops=3, labels='kinetics400', top1=80.0, top5=94.4, hf_repo='MCG-NJU/videomae-base-short-finetuned-kinetics',
             convert_options=_OFFICIAL_EPS['finetune']),
    ZooEntry('videomae_vit_b_k400_pt', 'videomae', 'vit_b', 'pretrain', 'K400 1600ep', _V1_PAGE, 'https://drive.google.com/file/d/1tEhLyskjb755TJ65ptsrafUG2llSwQE1/view?usp=sharing',
             hf_repo='MCG-NJU/videomae-base',
             convert_options=_OFFICIAL_EPS['pretrain']),
    ZooEntry('videomae_vit_b_k400_ft', 'videomae', 'vit_b', 'finetune', 'K400 1600ep -> K400', _V1_PAGE, 'https://drive.google.com/file/d/1MzwteHH-1yuMnFb8vRBQDvngV1Zl-d3z/view?usp=sharing',
             clips=5, crops=3, labels='kinetics400', top1=81.5, top5=95.1, hf_repo='MCG-NJU/videomae-base-finetuned-kinetics',
             convert_options=_OFFICIAL_EPS['finetune']),
    ZooEntry('videomae_vit_l_k400_pt', 'videomae', 'vit_l', 'pretrain', 'K400 1600ep', _V1_PAGE, 'https://drive.google.com/file/d/1qLOXWb_MGEvaI7tvuAe94CV7S2HXRwT3/view?usp=sharing',
             hf_repo='MCG-NJU/videomae-large',
             convert_options=_OFFICIAL_EPS['pretrain']),
    ZooEntry('videomae_vit_l_k400_ft', 'videomae', 'vit_l', 'finetune', 'K400 1600ep -> K400', _V1_PAGE, 'https://drive.google.com/file/d/1jX1CiqxSkCfc94y8FRW1YGHy-GNvHCuD/view?usp=sharing',
             clips=5, crops=3, labels='kinetics400', top1=85.2, top5=96.8, hf_repo='MCG-NJU/videomae-large-finetuned-kinetics',
             convert_options=_OFFICIAL_EPS['finetune']),
    ZooEntry('videomae_vit_h_k400_pt', 'videomae', 'vit_h', 'pretrain', 'K400 1600ep', _V1_PAGE, 'https://drive.google.com/file/d/1AJQR1Rsi2N1pDn9tLyJ8DQrUREiBA1bO/view?usp=sharing'),
    ZooEntry('videomae_vit_h_k400_ft', 'videomae', 'vit_h', 'finetune', 'K400 1600ep -> K400', _V1_PAGE, 'https://drive.google.com/file/d/104ouJZxSVPSAm0LwJXd6IzjdA_RGLqZi/view?usp=sharing',
             clips=5, crops=3, labels='kinetics400', top1=86.6, top5=97.1, hf_repo='MCG-NJU/videomae-huge-finetuned-kinetics',
             convert_options=_OFFICIAL_EPS['finetune']),
    ZooEntry('videomae_vit_s_ssv2_pt', 'videomae', 'vit_s', 'pretrain', 'SSV2 2400ep', _V1_PAGE, 'https://drive.google.com/file/d/1p_I1aaONOeUvRmRQw1UT3-L2H8XJClHu/view?usp=sharing',
             sampling_rate=2),
    ZooEntry('videomae_vit_s_ssv2_ft', 'videomae', 'vit_s', 'finetune', 'SSV2 2400ep -> SSV2', _V1_PAGE, 'https://drive.google.com/file/d/1ajlMrT06jiiM-5YjNI2X_UFyzsuYbbtZ/view?usp=sharing',
             sampling_rate='segment', clips=2, crops=3, labels='something_something_v2', top1=66.8, top5=90.3, hf_repo='MCG-NJU/videomae-small-finetuned-ssv2',
             convert_options=_OFFICIAL_EPS['finetune']),
    ZooEntry('videomae_vit_b_ssv2_800e_pt', 'videomae', 'vit_b', 'pretrain', 'SSV2 800ep', _V1_PAGE, 'https://drive.google.com/file/d/181hLvyrrPW2IOGA46fkxdJk0tNLIgdB2/view?usp=sharing',
             sampling_rate=2, hf_repo='MCG-NJU/videomae-base-short-ssv2',
             convert_options=_OFFICIAL_EPS['pretrain']),
    ZooEntry('videomae_vit_b_ssv2_800e_ft', 'videomae', 'vit_b', 'finetune', 'SSV2 800ep -> SSV2', _V1_PAGE, 'https://drive.google.com/file/d/1xZCiaPF4w7lYmLt5o1D5tIZyDdLtJAvH/view?usp=sharing',
             sampling_rate='segment', clips=2, crops=3, labels='something_something_v2', top1=69.6, top5=92.0, hf_repo='MCG-NJU/videomae-base-short-finetuned-ssv2',
             convert_options=_OFFICIAL_EPS['finetune']),
    ZooEntry('videomae_vit_b_ssv2_pt', 'videomae', 'vit_b', 'pretrain', 'SSV2 2400ep', _V1_PAGE, 'https://drive.google.com/file/d/1I18dY_7rSalGL8fPWV82c0-foRUDzJJk/view?usp=sharing',
             sampling_rate=2, hf_repo='MCG-NJU/videomae-base-ssv2',
             convert_options=_OFFICIAL_EPS['pretrain']),
    ZooEntry('videomae_vit_b_ssv2_ft', 'videomae', 'vit_b', 'finetune', 'SSV2 2400ep -> SSV2', _V1_PAGE, 'https://drive.google.com/file/d/1dt_59tBIyzdZd5Ecr22lTtzs_64MOZkT/view?usp=sharing',
             sampling_rate='segment', clips=2, crops=3, labels='something_something_v2', top1=70.8, top5=92.4, hf_repo='MCG-NJU/videomae-base-finetuned-ssv2',
             convert_options=_OFFICIAL_EPS['finetune']),
    ZooEntry('videomae_vit_l_ssv2_pt', 'videomae', 'vit_l', 'pretrain', 'SSV2', _V1_README, None,
             sampling_rate=None),
    ZooEntry('videomae_vit_l_ssv2_ft', 'videomae', 'vit_l', 'finetune', 'SSV2 -> SSV2', _V1_README, None,
             sampling_rate='segment', clips=2, crops=3, labels='something_something_v2', top1=74.3, top5=94.6),
    ZooEntry('videomae_vit_b_ucf101_pt', 'videomae', 'vit_b', 'pretrain', 'UCF101 3200ep', _V1_PAGE, 'https://drive.google.com/file/d/1BHev4meNgKM0o_8DMRbuzAsKSP3IpQ3o/view?usp=sharing'),
    ZooEntry('videomae_vit_b_ucf101_ft', 'videomae', 'vit_b', 'finetune', 'UCF101 3200ep -> UCF101', _V1_PAGE, 'https://drive.google.com/file/d/1MSyon6fPpKz7oqD6WDGPFK4k_Rbyb6fw/view?usp=sharing',
             clips=5, crops=3, labels='ucf101', top1=91.3, top5=98.5),
    ZooEntry('videomaev2_vit_s_k710_distilled_ft', 'videomaev2', 'vit_s', 'finetune', 'UnlabeledHybrid -> K710', _V2_PAGE, 'https://huggingface.co/OpenGVLab/VideoMAE2/resolve/main/distill/vit_s_k710_dl_from_giant.pth',
             clips=5, crops=3, labels='kinetics710', top1=77.6),
    ZooEntry('videomaev2_vit_b_k710_distilled_ft', 'videomaev2', 'vit_b', 'finetune', 'UnlabeledHybrid -> K710', _V2_PAGE, 'https://huggingface.co/OpenGVLab/VideoMAE2/resolve/main/distill/vit_b_k710_dl_from_giant.pth',
             clips=5, crops=3, labels='kinetics710', top1=81.5),
    ZooEntry('videomaev2_vit_s_k400_distilled_ft', 'videomaev2', 'vit_s', 'finetune', 'UnlabeledHybrid -> K710->K400', _V2_PAGE, None,
             sampling_rate=None, clips=7, crops=3, labels='kinetics400', top1=84.0),
    ZooEntry('videomaev2_vit_b_k400_distilled_ft', 'videomaev2', 'vit_b', 'finetune', 'UnlabeledHybrid -> K710->K400', _V2_PAGE, None,
             sampling_rate=None, clips=7, crops=3, labels='kinetics400', top1=87.1),
    ZooEntry('videomaev2_vit_g_hybrid_pt', 'videomaev2', 'vit_g', 'pretrain', 'UnlabeledHybrid 1200ep', _V2_PAGE, 'https://huggingface.co/OpenGVLab/VideoMAE2/resolve/main/mae-g/vit_g_hybrid_pt_1200e.pth'),
    ZooEntry('videomaev2_vit_g_k710_ft', 'videomaev2', 'vit_g', 'finetune', 'UnlabeledHybrid 1200ep -> K710', _V2_PAGE, 'https://huggingface.co/OpenGVLab/VideoMAE2/resolve/main/mae-g/vit_g_hybrid_pt_1200e_k710_ft.pth',
             clips=5, crops=3, labels='kinetics710', top1=83.8, top5=96.4),
    ZooEntry('videomaev2_vit_g_k400_ft', 'videomaev2', 'vit_g', 'finetune', 'UnlabeledHybrid 1200ep -> K400', _V2_PAGE, None,
             clips=5, crops=3, labels='kinetics400', top1=87.2, top5=97.4),
    ZooEntry('videomaev2_vit_g_k710_k400_ft', 'videomaev2', 'vit_g', 'finetune', 'UnlabeledHybrid 1200ep -> K710->K400', _V2_PAGE, None,
             clips=5, crops=3, labels='kinetics400', top1=88.4, top5=98.0),
    ZooEntry('videomaev2_vit_g_k710_k600_ft', 'videomaev2', 'vit_g', 'finetune', 'UnlabeledHybrid 1200ep -> K710->K600', _V2_PAGE, None,
             sampling_rate=None, clips=5, crops=3, labels='kinetics600', top1=88.8, top5=98.2),
    ZooEntry('videomaev2_vit_g_ssv2_ft', 'videomaev2', 'vit_g', 'finetune', 'UnlabeledHybrid 1200ep -> SSV2', _V2_PAGE, 'https://huggingface.co/OpenGVLab/VideoMAE2/resolve/main/mae-g/vit_g_hybrid_pt_1200e_ssv2_ft.pth',
             sampling_rate='segment', clips=2, crops=3, labels='something_something_v2', top1=77.0, top5=95.9),
    ZooEntry('videomaev2_vit_g_k710_ucf101_ft', 'videomaev2', 'vit_g', 'finetune', 'UnlabeledHybrid 1200ep -> K710->UCF101', _V2_PAGE, None,
             sampling_rate=None, clips=5, crops=3, labels='ucf101', top1=99.6, top5=100.0),
    ZooEntry('videomaev2_vit_g_k710_hmdb51_ft', 'videomaev2', 'vit_g', 'finetune', 'UnlabeledHybrid 1200ep -> K710->HMDB51', _V2_PAGE, None,
             sampling_rate=None, clips=5, crops=3, labels='hmdb51', top1=88.1, top5=98.5),
    ZooEntry('mmaction2_videomae_vit_b_k400', 'mmaction2', 'vit_b', 'finetune', 'K400 -> K400', _MM_V1_PAGE, 'https://download.openmmlab.com/mmaction/v1.0/recognition/videomae/vit-base-p16_videomae-k400-pre_16x4x1_kinetics-400_20221013-860a3cd3.pth',
             clips=5, crops=3, labels='kinetics400', top1=81.3, top5=95.0, sha256='860a3cd3'),
    ZooEntry('mmaction2_videomae_vit_l_k400', 'mmaction2', 'vit_l', 'finetune', 'K400 -> K400', _MM_V1_PAGE, 'https://download.openmmlab.com/mmaction/v1.0/recognition/videomae/vit-large-p16_videomae-k400-pre_16x4x1_kinetics-400_20221013-229dbb03.pth',
             clips=5, crops=3, labels='kinetics400', top1=85.3, top5=96.7, sha256='229dbb03'),
    ZooEntry('mmaction2_videomaev2_vit_s_k400', 'mmaction2', 'vit_s', 'finetune', 'UnlabeledHybrid -> K710->K400', _MM_V2_PAGE, 'https://download.openmmlab.com/mmaction/v1.0/recognition/videomaev2/vit-small-p16_videomaev2-vit-g-dist-k710-pre_16x4x1_kinetics-400/vit-small-p16_videomaev2-vit-g-dist-k710-pre_16x4x1_kinetics-400_20230510-25c748fd.pth',
             clips=5, crops=3, labels='kinetics400', top1=83.6, top5=96.3, sha256='25c748fd'),
    ZooEntry('mmaction2_videomaev2_vit_b_k400', 'mmaction2', 'vit_b', 'finetune', 'UnlabeledHybrid -> K710->K400', _MM_V2_PAGE, 'https://download.openmmlab.com/mmaction/v1.0/recognition/videomaev2/vit-base-p16_videomaev2-vit-g-dist-k710-pre_16x4x1_kinetics-400/vit-base-p16_videomaev2-vit-g-dist-k710-pre_16x4x1_kinetics-400_20230510-3e7f93b2.pth',
             clips=5, crops=3, labels='kinetics400', top1=86.6, top5=97.3, sha256='3e7f93b2be64c7c1cbe4587a1561d7c7a277eab3bad7f87dad7a4b52ec76f367'),
    ZooEntry('internvideo_videomae_vit_b_hybrid_pt', 'internvideo', 'vit_b', 'pretrain', 'UnlabeledHybrid 800ep', _INTERNVIDEO_PAGE, 'https://pjlab-gvm-data.oss-cn-shanghai.aliyuncs.com/internvideo/pretrain/videomae/vit_b_hybrid_pt_800e.pth',
             sampling_rate=None),
    ZooEntry('internvideo_videomae_vit_b_k400_ft', 'internvideo', 'vit_b', 'finetune', 'UnlabeledHybrid 800ep -> K400', _INTERNVIDEO_PAGE, 'https://pjlab-gvm-data.oss-cn-shanghai.aliyuncs.com/internvideo/pretrain/videomae/vit_b_hybrid_pt_800e_k400_ft.pth',
             clips=5, crops=3, labels='kinetics400', top1=81.52, top5=94.88),
    ZooEntry('internvideo_videomae_vit_b_k710_ft', 'internvideo', 'vit_b', 'finetune', 'UnlabeledHybrid 800ep -> K710', _INTERNVIDEO_PAGE, 'https://pjlab-gvm-data.oss-cn-shanghai.aliyuncs.com/internvideo/pretrain/videomae/vit_b_hybrid_pt_800e_k710_ft.pth',
             sampling_rate=None, clips=5, crops=3, labels='kinetics710', top1=79.33, top5=94.03),
    ZooEntry('internvideo_videomae_vit_b_ssv2_ft', 'internvideo', 'vit_b', 'finetune', 'UnlabeledHybrid 800ep -> SSV2', _INTERNVIDEO_PAGE, 'https://pjlab-gvm-data.oss-cn-shanghai.aliyuncs.com/internvideo/pretrain/videomae/vit_b_hybrid_pt_800e_ssv2_ft.pth',
             sampling_rate='segment', clips=2, crops=3, labels='something_something_v2', top1=71.22, top5=93.31),
    ZooEntry('internvideo_videomae_vit_l_hybrid_pt', 'internvideo', 'vit_l', 'pretrain', 'UnlabeledHybrid', _INTERNVIDEO_README, 'https://huggingface.co/OpenGVLab/InternVideoMAE_models/resolve/main/mae-l/pytorch_model.bin',
             sampling_rate=None),
    ZooEntry('internvideo_videomae_vit_l_k400_ft', 'internvideo', 'vit_l', 'finetune', 'UnlabeledHybrid 800ep -> K400', _INTERNVIDEO_README, 'https://pjlab-gvm-data.oss-cn-shanghai.aliyuncs.com/internvideo/pretrain/videomae/vit_l_hybrid_pt_800e_k400_ft.pth',
             clips=5, crops=3, labels='kinetics400'),
    ZooEntry('internvideo_videomae_vit_l_k700_ft', 'internvideo', 'vit_l', 'finetune', 'UnlabeledHybrid 800ep -> K700', _INTERNVIDEO_README, 'https://pjlab-gvm-data.oss-cn-shanghai.aliyuncs.com/internvideo/pretrain/videomae/vit_l_hybrid_pt_800e_k700_ft.pth',
             clips=5, crops=3, labels='kinetics700'),
    ZooEntry('internvideo_videomae_vit_l_ssv2_ft', 'internvideo', 'vit_l', 'finetune', 'UnlabeledHybrid 800ep -> SSV2', _INTERNVIDEO_README, 'https://pjlab-gvm-data.oss-cn-shanghai.aliyuncs.com/internvideo/pretrain/videomae/vit_l_hybrid_pt_800e_ssv2_ft.pth',
             sampling_rate='segment', clips=2, crops=3, labels='something_something_v2'),
    ZooEntry('internvideo_videomae_vit_h_hybrid_pt', 'internvideo', 'vit_h', 'pretrain', 'UnlabeledHybrid', _INTERNVIDEO_README, 'https://huggingface.co/OpenGVLab/InternVideoMAE_models/resolve/main/mae-h/pytorch_model.bin',
             sampling_rate=None),
    ZooEntry('internvideo_videomae_vit_h_k400_f32_384_ft', 'internvideo', 'vit_h', 'finetune', 'InternVideo -> K400', _INTERNVIDEO_README, 'https://pjlab-gvm-data.oss-cn-shanghai.aliyuncs.com/internvideo/action_recognition/K400/VideoMAE/ViT-H_f32_res384_89.54.pth',
             frames=32, sampling_rate=None, labels='kinetics400', img_size=384,
             convert_options=dict(num_frames=32, img_size=384)),
    ZooEntry('catmae_vit_s16_pt', 'catmae', 'vit_s', 'pretrain', 'K400 300ep', _CATMAE_PAGE, 'https://drive.google.com/file/d/1xWrpSxZy6d3r_XnsZmXvqM1XUReJ7v97/view?usp=drive_link',
             frames=None, sampling_rate=None,
             convert_options=dict(task='finetune', num_classes=400)),
    ZooEntry('hf_opengvlab_videomaev2_base', 'hf', 'vit_b', 'pretrain', 'UnlabeledHybrid 800ep', 'https://huggingface.co/OpenGVLab/VideoMAEv2-Base', 'https://huggingface.co/OpenGVLab/VideoMAEv2-Base/resolve/main/model.safetensors',
             sampling_rate=None),
    ZooEntry('hf_opengvlab_videomaev2_large', 'hf', 'vit_l', 'pretrain', 'UnlabeledHybrid 800ep', 'https://huggingface.co/OpenGVLab/VideoMAEv2-Large', 'https://huggingface.co/OpenGVLab/VideoMAEv2-Large/resolve/main/model.safetensors',
             sampling_rate=None, sha256='c27064402bfec2c7495e2226a5e0d8f46374b4df4b03026af1e10a57e11b2996'),
    ZooEntry('hf_opengvlab_videomaev2_huge', 'hf', 'vit_h', 'pretrain', 'UnlabeledHybrid', 'https://huggingface.co/OpenGVLab/VideoMAEv2-Huge', 'https://huggingface.co/OpenGVLab/VideoMAEv2-Huge/resolve/main/model.safetensors',
             sampling_rate=None, sha256='6a05040256a2043d05551dd3d036a1c1139edfcfb600454a338bf4b92ca70338'),
    ZooEntry('hf_opengvlab_videomaev2_giant', 'hf', 'vit_g', 'pretrain', 'UnlabeledHybrid', 'https://huggingface.co/OpenGVLab/VideoMAEv2-giant', 'https://huggingface.co/OpenGVLab/VideoMAEv2-giant/resolve/main/model.safetensors',
             sampling_rate=None, sha256='a231169cd13307aeb29bc56259a494ef273bfd9b7232f881ac4e8d7e39713add'),
]

ZOO: dict[str, ZooEntry] = {entry.name: entry for entry in _ENTRIES}


def markdown_table() -> str:
    """The README's model-zoo table, one row per entry."""
    def cell(value) -> str:
        return "-" if value is None else str(value)

    lines = ["| name | model | task | data | setting (frames x rate x clips x crops) | "
             "top-1 | top-5 | download |",
             "|---|---|---|---|---|---|---|---|"]
    for e in _ENTRIES:
        links = [f"[{_host(e.download)}]({e.download})"] if e.download else ["on request"]
        if e.hf_repo:
            links.append(f"[{e.hf_repo}](https://huggingface.co/{e.hf_repo})")
        link = ", ".join(links)
        lines.append(f"| `{e.name}` | {DISPLAY_NAMES[e.arch]} | {e.task} | {e.data} | "
                     f"{e.setting()} | {cell(e.top1)} | {cell(e.top5)} | {link} |")
    return "\n".join(lines)


def _host(url: str) -> str:
    from urllib.parse import urlparse

    return urlparse(url).netloc.removeprefix("www.") or url
