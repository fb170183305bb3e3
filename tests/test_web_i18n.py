"""The message catalogs (static/locales/*.json) and the pages agree: every key the templates and scripts use is
in every catalog, no catalog has a key nothing uses, the languages carry the same placeholders, and the English
written in the templates (shown before the script runs, or without it) is the English catalog's."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

from csms.web.pages import templates

WEB = Path(__file__).parent.parent / "src" / "csms" / "web"
LOCALES = WEB / "static" / "locales"
SCRIPTS = WEB / "static" / "js"
PAGES = ("app.html", "admin.html")
ATTRIBUTES = ("data-i18n", "data-i18n-placeholder", "data-i18n-aria-label", "data-i18n-title", "data-product")

# t("key"...), el.dataset.i18n = "key", and a route's title: "key" (ui.js translates route titles).
SCRIPT_KEY = re.compile(r"""(?:\bt\(|dataset\.i18n = |\btitle: )["']([a-z][\w]*(?:\.[\w]+)+)["']""")
# t(`status.${value}`): every key under the prefix may be used.
SCRIPT_PREFIX = re.compile(r"""\bt\(`([a-z][\w.]*\.)\$\{""")
PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def flatten(tree: dict[str, object], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for name, value in tree.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{key}."))
        else:
            assert isinstance(value, str), f"{key} is not a text"
            flat[key] = value
    return flat


def catalogs() -> dict[str, dict[str, str]]:
    return {path.stem: flatten(json.loads(path.read_text())) for path in sorted(LOCALES.glob("*.json"))}


class _Keys(HTMLParser):
    """The keys a rendered page carries, and the text inside each element with a data-i18n of its own."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: set[str] = set()
        self.texts: list[tuple[str, str]] = []
        self._open: str | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._close()
        found = dict(attrs)
        self.keys.update(value for name, value in attrs if name in ATTRIBUTES and value)
        if found.get("data-i18n"):
            self._open = found["data-i18n"]

    def handle_data(self, data: str) -> None:
        if self._open:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        self._close()

    def _close(self) -> None:
        if self._open and self._text.strip():
            self.texts.append((self._open, " ".join(self._text.split())))
        self._open, self._text = None, ""


def rendered_pages() -> _Keys:
    parser = _Keys()
    for page in PAGES:
        parser.feed(templates.env.get_template(page).render(version="test"))
    return parser


def used_in_scripts() -> tuple[set[str], set[str]]:
    keys: set[str] = set()
    prefixes: set[str] = set()
    for script in SCRIPTS.rglob("*.js"):
        source = script.read_text()
        keys.update(SCRIPT_KEY.findall(source))
        prefixes.update(SCRIPT_PREFIX.findall(source))
    return keys, prefixes


def test_every_catalog_has_every_key_the_pages_and_scripts_use() -> None:
    used = rendered_pages().keys | used_in_scripts()[0]
    assert len(used) > 100  # the parsers found the keys (a broken regex would pass the rest vacuously)
    for language, catalog in catalogs().items():
        assert sorted(used - catalog.keys()) == [], f"keys missing from {language}.json"


def test_the_catalogs_have_the_same_keys_and_none_that_nothing_uses() -> None:
    found = catalogs()
    assert {"en", "ja"} <= found.keys()
    english = found["en"]
    for language, catalog in found.items():
        assert sorted(english.keys() - catalog.keys()) == [], f"keys {language}.json lacks"
        assert sorted(catalog.keys() - english.keys()) == [], f"keys only {language}.json has"
    keys, prefixes = used_in_scripts()
    used = rendered_pages().keys | keys
    unused = [key for key in english if key not in used and not key.startswith(tuple(prefixes))]
    assert unused == [], "catalog keys no template or script uses"


def test_every_translation_fills_the_placeholders_its_english_has() -> None:
    found = catalogs()
    for language, catalog in found.items():
        for key, english in found["en"].items():
            assert set(PLACEHOLDER.findall(catalog[key])) == set(PLACEHOLDER.findall(english)), f"{language}: {key}"
            assert catalog[key].strip(), f"{language}: {key} is empty"


def test_the_english_written_in_the_templates_is_the_english_catalogs() -> None:
    english = catalogs()["en"]
    texts = rendered_pages().texts
    assert len(texts) > 50
    assert [(key, text) for key, text in texts if english.get(key) != text] == []
