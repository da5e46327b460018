"""A sweep's report (blobs_transfer.render.sweep): it leads with its finding and its heatmaps, and a long
per-cell table folds under its title."""

from blobs_transfer.render import sweep
from blobs_transfer.rundir import sweep_dir
from blobs_transfer.sweep.grid import load_sweep


def test_sweep_report_leads_with_its_finding_and_heatmaps(small_sweep):
    import html

    page = (small_sweep / "report.html").read_text()
    alts = [html.unescape(a) for a in __import__("re").findall(r'<img alt="([^"]+)"', page)]
    # the heatmaps answer the question, so they come first, titled by arm in words; then the best arm of every
    # cell, then the benefit figures
    assert alts[:3] == [f"transfer fixed={k} against the baseline in every cell" for k in range(3)]
    assert alts[3].startswith("The best arm of every cell")
    assert alts[4:] == [
        "Each arm against the baseline, over target training rows",
        "Each arm against the baseline, over shift t away from the source",
    ]
    finding = page.index(
        '<p class="finding">Across 4 cells (target training rows x shift t away from the source, 2 source models'
    )
    assert finding < page.index("<img") and page.rindex("<img") < page.index("<table")
    assert "<details>" not in page  # 12 rows: short enough to show
    from blobs_transfer.render import report

    grid = load_sweep(small_sweep / "sweep.toml")
    _, _, summaries = sweep_dir.cell_rows(grid, small_sweep)
    blocks = sweep.sweep_sections(grid, summaries * 3, ["heatmap_transfer_fixed0.png"])  # 36 rows: folded
    table = next(b for b in blocks if b.title == "Each arm against the baseline, cell by cell")
    assert table.folded and "<details>" in report.html(blocks, "t", {})


def test_sweep_title_names_its_config_and_axes_in_words(small_sweep):
    grid = load_sweep(small_sweep / "sweep.toml")
    assert sweep.sweep_title(grid, 4, "blobs-transfer sweep --config tiny.toml --results-dir out") == (
        "tiny.toml (sweep): 4 cells over target training rows x shift t away from the source"
    )
    assert sweep.sweep_title(grid, 4, None).startswith("A sweep made from Python: 4 cells")
    assert sweep.sweep_title(grid, 1, None).startswith("A sweep made from Python: 1 cell over")
