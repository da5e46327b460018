def test_the_report_glossary_shows_no_markup_of_the_docs():
    """docs/glossary.md marks some numbers for the docs' checks (<!-- not a committed result -->); a reader of
    the report sees the words only."""
    from blobs_transfer.render import glossary

    section = glossary.html_section()
    assert "<!--" not in section and "&lt;!--" not in section
    assert "about 0.018 near 0.8" in section
