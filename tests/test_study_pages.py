"""Every number in a study page's marked prose is a number its own csv holds (analysis/page_numbers.py).

A page opts in with ``<!-- numbers: NAME.csv -->`` above a paragraph, or a script-written
``<!-- begin numbers: NAME.csv -->`` ... ``<!-- end numbers -->`` section; ``CHECKED`` lists the pages
that must have marks (so a page cannot drop out by losing them).  The checker itself is tested on
small pages here, so a mark cannot pass by checking nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis.page_numbers import check_page, marked_blocks, matches, replace_generated

STUDIES = Path(__file__).resolve().parents[1] / "docs" / "studies"
CHECKED: tuple[str, ...] = ("README.md", "beyond-the-seed.md", "centralise-or-not.md", "fedavg-vs-fedsgd.md",
                            "gaia-vs-ps.md", "consistency.md", "mdgan-vs-flgan-quality.md", "mdgan-swap.md",
                            "regime-map.md")
"""Pages whose prose numbers are marked and checked; add a page here once it carries its marks."""


@pytest.mark.parametrize("page", sorted(p.name for p in STUDIES.glob("*.md")))
def test_marked_numbers_are_in_the_pages_csv(page: str) -> None:
    path = STUDIES / page
    if page in CHECKED:
        assert marked_blocks(path.read_text(), page), f"{page} is in CHECKED but has no numbers marks"
    bad = check_page(path)
    assert not bad, "\n".join(f"{page}:{m.line}: {m.number!r} is in none of the mark's csv files: {m.context}"
                              for m in bad)


def test_checker_catches_a_number_the_csv_does_not_hold(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("run,fid,wan_MB\na,301.2,478.04\nb,265.4,571.0\n")
    page = tmp_path / "p.md"
    page.write_text("# t\n\n<!-- numbers: t.csv -->\nFID 301 at 571 MB, set by `lr: 2e-4`.\n\n"
                    "Unmarked 999 is not checked.\n")
    assert [m.number for m in check_page(page)] == []
    page.write_text("# t\n\n<!-- numbers: t.csv -->\nFID 301.0 at 571 MB; 265 at 478.1 MB and 12 seeds.\n")
    assert [m.number for m in check_page(page)] == ["301.0", "478.1", "12"]


def test_matching_rounds_to_the_decimals_shown() -> None:
    assert matches("500", [500.4]) and not matches("500", [500.6])
    assert matches("0.0039", [0.00391635]) and not matches("0.0038", [0.00391635])
    assert matches("1,438", [1438.0]) and matches("2e-4", [0.0002]) and matches("3.2", [-3.2])


def test_a_script_writes_its_section_between_the_marks(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("x\n1.5\n")
    page = tmp_path / "p.md"
    page.write_text("# t\n\nintro\n")
    replace_generated(page, "t.csv", "x is 1.5.\n")
    replace_generated(page, "t.csv", "x is still 1.5.\n")  # replaced, not appended twice
    text = page.read_text()
    assert text.count("begin numbers") == 1 and "x is still 1.5." in text and "x is 1.5." not in text
    assert check_page(page) == []
    page.write_text(text.replace("1.5.", "2.5."))
    assert [m.number for m in check_page(page)] == ["2.5"]
