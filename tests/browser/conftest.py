"""Browser tests: Debian's Chromium, headless, driven by Playwright (no browser download), against
the stack's Airflow UI. Screenshots go to ``<home>/reports/browser/`` as the tests' artifacts."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from core.secrets import airflow_password
from core.settings import REPO_DIR, get_settings
from tests.conftest import TEST_SERVICES


@pytest.fixture(scope="session", autouse=True)
def stack_up():
    """The stack as a user finds it: started again where something is down (the fault tests
    before this tier kill services; Airflow's scheduler exits when PostgreSQL goes away)."""
    r = subprocess.run(
        [str(REPO_DIR / "infra" / "stack.sh"), "start", *TEST_SERVICES], capture_output=True, text=True, timeout=600
    )
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]


@pytest.fixture(scope="session")
def artifacts() -> Path:
    path = get_settings().home / "reports" / "browser"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def browser():
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("Chromium is missing: infra/bootstrap.sh installs Debian's chromium package")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser) -> Page:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


def log_in(page: Page) -> None:
    s = get_settings()
    page.goto(s.airflow_url + "/")
    page.fill("input[name=username]", s.airflow_admin_user)
    page.fill("input[name=password]", airflow_password(s.airflow_admin_user))
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
