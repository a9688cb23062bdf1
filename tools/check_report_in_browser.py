"""Open an HTML report in headless Chromium: it must load with every image and no error.

Usage::

    .venv/bin/python tools/check_report_in_browser.py out/tmall/report.html --shots out/shots

Uses Debian's ``chromium`` (``apt-get install chromium``) driven by Playwright,
without Playwright's own browser download.  Prints what it found and exits 1
when an image did not load or the page logged an error.  Screenshots (the
top of the page and the whole page, at a desktop and a phone width) are saved
for a person to look at.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

#: Flags for a headless Chromium on a closed network, run as root in a container.
CHROMIUM_ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


def chromium_path() -> str | None:
    """The Chromium executable, or ``None`` if it is not installed."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class BrowserCheck:
    """What the browser saw."""

    title: str = ""
    images: int = 0
    broken_images: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    headings: list[str] = field(default_factory=list)
    screenshots: list[Path] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every image loaded and nothing went wrong."""
        return not (
            self.broken_images or self.console_errors or self.page_errors or self.failed_requests
        )


def check_report(html_path: Path, shots_dir: Path | None = None) -> BrowserCheck:
    """Load ``html_path`` in headless Chromium and report what it saw."""
    from playwright.sync_api import sync_playwright

    exe = chromium_path()
    if exe is None:
        raise RuntimeError("chromium is not installed (apt-get install chromium)")
    result = BrowserCheck()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=list(CHROMIUM_ARGS))
        try:
            for width, height, tag in ((1280, 900, "desktop"), (390, 844, "phone")):
                page = browser.new_page(viewport={"width": width, "height": height})
                if tag == "desktop":
                    page.on(
                        "console",
                        lambda m: (
                            result.console_errors.append(m.text) if m.type == "error" else None
                        ),
                    )
                    page.on("pageerror", lambda e: result.page_errors.append(str(e)))
                    page.on(
                        "requestfailed",
                        lambda r: result.failed_requests.append(r.url[:120]),
                    )
                page.goto(html_path.resolve().as_uri(), wait_until="load")
                if tag == "desktop":
                    result.title = page.title()
                    result.headings = page.locator("h1, h2").all_inner_texts()
                    imgs = page.eval_on_selector_all(
                        "img",
                        "els => els.map(e => [e.alt || e.src.slice(0, 40),"
                        " e.complete && e.naturalWidth > 0])",
                    )
                    result.images = len(imgs)
                    result.broken_images = [alt for alt, fine in imgs if not fine]
                if shots_dir is not None:
                    shots_dir.mkdir(parents=True, exist_ok=True)
                    top = shots_dir / f"{html_path.stem}-{tag}-top.png"
                    page.screenshot(path=str(top))
                    full = shots_dir / f"{html_path.stem}-{tag}-full.png"
                    page.screenshot(path=str(full), full_page=True)
                    result.screenshots += [top, full]
                page.close()
        finally:
            browser.close()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("--shots", type=Path, default=None, help="folder for screenshots")
    args = parser.parse_args(argv)
    res = check_report(args.report, args.shots)
    print(f"title: {res.title}")
    print(f"images: {res.images} ({len(res.broken_images)} broken)")
    for label, items in (
        ("broken image", res.broken_images),
        ("console error", res.console_errors),
        ("page error", res.page_errors),
        ("failed request", res.failed_requests),
    ):
        for item in items:
            print(f"{label}: {item}")
    for shot in res.screenshots:
        print(f"screenshot: {shot}")
    print("OK" if res.ok else "PROBLEMS FOUND")
    return 0 if res.ok else 1


if __name__ == "__main__":
    sys.exit(main())
