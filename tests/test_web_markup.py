"""The pages' markup closes every container it opens, in order: a view left open swallows the views after it
(they are shown inside it, so hidden with it), which no browser reports as an error."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from csms.web.pages import templates

# Elements that hold others and must be closed explicitly (p and li may close themselves in HTML).
CONTAINERS = {"main", "nav", "section", "div", "form", "fieldset", "table", "details", "dialog", "template", "ul"}


class _Nesting(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.open: list[tuple[str, int]] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in CONTAINERS:
            self.open.append((tag, self.getpos()[0]))

    def handle_endtag(self, tag: str) -> None:
        if tag not in CONTAINERS:
            return
        if not self.open or self.open[-1][0] != tag:
            inner = f"<{self.open[-1][0]}> of line {self.open[-1][1]}" if self.open else "nothing"
            self.problems.append(f"</{tag}> at line {self.getpos()[0]} closes {inner}")
            return
        self.open.pop()


@pytest.mark.parametrize("page", ["admin.html", "app.html"])
def test_every_container_a_page_opens_is_closed_in_order(page: str) -> None:
    nesting = _Nesting()
    nesting.feed(templates.env.get_template(page).render(version="test"))
    nesting.close()
    assert nesting.problems == []
    assert nesting.open == [], f"left open: {nesting.open}"
