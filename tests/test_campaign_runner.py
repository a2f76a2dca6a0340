"""Light-curve and pixel campaigns run through one runner (:func:`jaxvet.campaigns.runner.run_chunks`)."""

from __future__ import annotations

import pytest

from jaxvet.campaigns import runner
from jaxvet.campaigns.config import ChunkPlan
from jaxvet.campaigns.lightcurve import run_campaign
from jaxvet.campaigns.pixel import run_pixel_campaign


class _Stop(Exception):
    pass


def test_light_curve_and_pixel_campaigns_share_the_runner(monkeypatch, tmp_path):
    seen = []

    def spy(kind, where, **kwargs):
        seen.append((kind, where))
        raise _Stop  # nothing is vetted: the test only asks which function runs the chunks

    monkeypatch.setattr(runner, "run_chunks", spy)
    with pytest.raises(_Stop):
        run_campaign(None, n_injections=4, checks="V01", out=tmp_path / "lc", progress=False)
    with pytest.raises(_Stop):
        run_pixel_campaign(4, chunk_size=2, out=tmp_path / "pix", progress=False)
    (lc, lc_dir), (pix, pix_dir) = seen
    assert type(lc).__name__ == "_LightCurveCampaign" and type(pix).__name__ == "_PixelCampaign"
    for kind in (lc, pix):
        assert isinstance(kind.config, ChunkPlan)
        for name in ("stage_seconds", "setup", "prepare", "chunk_table", "summarize", "write_outputs"):
            assert callable(getattr(kind, name)), name
    assert pix.config.n_chunks == 2 and pix.config.chunk_ids(1).tolist() == [2, 3]
    assert lc_dir.out_dir == tmp_path / "lc" and pix_dir.out_dir == tmp_path / "pix"
    assert pix_dir.resume and not pix_dir.overwrite  # a pixel campaign resumes what its directory holds
