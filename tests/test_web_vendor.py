"""The vendored browser libraries are the versions package-lock.json pins (make vendor copies them)."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).parent.parent
VENDOR = ROOT / "src" / "csms" / "web" / "static" / "vendor"


def test_the_vendored_qr_decoder_is_the_locked_zxing_wasm_with_its_licence() -> None:
    lock = json.loads((ROOT / "package-lock.json").read_text())
    locked = lock["packages"]["node_modules/zxing-wasm"]["version"]
    assert json.loads((ROOT / "package.json").read_text())["dependencies"]["zxing-wasm"] == locked
    folder = VENDOR / "zxing-wasm"
    assert (folder / "VERSION").read_text().strip() == locked
    assert f'"{locked}"' in (folder / "share.js").read_text()  # the build names its own version
    assert (folder / "reader" / "zxing_reader.wasm").read_bytes()[:4] == b"\0asm"
    assert "MIT License" in (folder / "LICENSE").read_text()


def test_the_vendored_i18n_library_is_the_locked_i18next_with_its_licence() -> None:
    lock = json.loads((ROOT / "package-lock.json").read_text())
    locked = lock["packages"]["node_modules/i18next"]["version"]
    assert json.loads((ROOT / "package.json").read_text())["dependencies"]["i18next"] == locked
    folder = VENDOR / "i18next"
    assert (folder / "VERSION").read_text().strip() == locked
    build = (folder / "i18next.js").read_text()
    assert "export {" in build and "changeLanguage" in build  # the ES module build, not the UMD one
    assert not re.search(r"^import ", build, re.MULTILINE)  # it loads as it is: no bare imports to resolve
    assert "MIT License" in (folder / "LICENSE").read_text()
