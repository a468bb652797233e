"""Great Expectations' context, checkpoints and Data Docs, made to render with no network.

GX's pages load Bootstrap, jQuery, bootstrap-table, Font Awesome and friends from CDNs. The same
files come from Maven Central as WebJars (``infra/jvm/webjars``, fetched with the stack's jars);
:func:`make_offline` copies them beside the site and points every page at the local copies.
Assets with no WebJar (Vega, only for profiling charts; a dark-mode stylesheet) are dropped.
"""

from __future__ import annotations

import os
import posixpath
import re
import shutil
import zipfile
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from core.settings import get_settings

SITE_NAME = "lakehouse_quality"
VENDOR_DIR = "static/vendor"
# CDN address -> path inside the webjars (META-INF/resources/webjars/...), or None to drop it.
CDN_ASSETS = {
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "bootstrap/4.3.1/css/bootstrap.min.css",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "bootstrap/4.3.1/js/bootstrap.min.js",
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery/3.7.1/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": "popper.js/1.12.9/dist/umd/popper.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": "font-awesome/6.6.0/css/all.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": "bootstrap-table/1.19.1/dist/bootstrap-table.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": "bootstrap-table/1.19.1/dist/bootstrap-table.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js": "bootstrap-table/1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css": "bootstrap-table/1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css": "bootstrap-table/1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css": "bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js": "bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js",
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css": None,
    "https://cdn.jsdelivr.net/npm/vega@5": None,
    "https://cdn.jsdelivr.net/npm/vega-lite@5": None,
    "https://cdn.jsdelivr.net/npm/vega-embed@6": None,
}
_TAG = re.compile(r"""<(link|script)\b[^>]*?(?:href|src)=["'](https?://[^"']+)["'][^>]*>(?:\s*</script>)?""", re.I)
_WEBJAR_ROOT = "META-INF/resources/webjars/"
_CSS_URL = re.compile(r"""url\(\s*["']?(?!data:|https?:|//)([^"')?#]+)""")
_STATIC_REF = re.compile(r"""((?:href|src)=["'])(?:\.\./)*static/""")
# GX's logo comes from its S3 bucket (with the context id appended); the site holds a copy.
_GX_IMAGE = re.compile(r"https://great-expectations-web-assets\.s3\.[a-z0-9-]+\.amazonaws\.com/([\w.-]+)(\?[^\"']*)?")


class OfflineAssetsMissing(RuntimeError):
    pass


def gx_root() -> Path:
    return get_settings().gx_root


def docs_dir() -> Path:
    return get_settings().data_docs_dir


def docs_index() -> Path:
    return docs_dir() / "index.html"


def get_context():
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="file", project_root_dir=str(gx_root()))
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    if SITE_NAME not in context.get_site_names():
        context.add_data_docs_site(
            site_name=SITE_NAME,
            site_config={
                "class_name": "SiteBuilder",
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir())},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
    return context


def _data_source(context, engine: str):
    """The engine's data source, with the assets it has: ``add_or_update`` would replace it by one
    without them, and every stored validation definition but the last would no longer load."""
    name = f"lakehouse_{engine}"
    try:
        return context.data_sources.get(name)
    except KeyError:
        if engine == "pandas":  # a small table fetched whole (validate.local_frame)
            return context.data_sources.add_pandas(name=name)
        # GX would cache the frame: filling a cache costs more than the two or three scans its
        # bundled metrics make (10M app events: 58 s cached, 23 s not)
        return context.data_sources.add_spark(name=name, persist=False)


def engine_of(df) -> str:
    """The GX engine a frame is validated on: pandas for a table fetched whole, else Spark."""
    return "pandas" if type(df).__module__.startswith("pandas") else "spark"


def run_checkpoint(context, layer: str, table: str, expectations: list, df, run_id: str | None = None):
    """One suite and one checkpoint per table, on a Spark or a pandas frame (a checkpoint's batch
    parameters apply to all its validations). Returns the stored result's key and the result;
    its Data Docs page is written by :func:`build_pages`, once for a whole layer (each build
    re-renders the site's index)."""
    import great_expectations as gx

    name = f"{layer}__{table.replace('.', '__')}"
    engine = engine_of(df)
    source = _data_source(context, engine)
    try:
        asset = source.get_asset(name)
    except LookupError:
        asset = source.add_dataframe_asset(name=name)
    try:
        batch = asset.get_batch_definition("current_rows")
    except KeyError:
        batch = asset.add_batch_definition_whole_dataframe("current_rows")
    suite = context.suites.add_or_update(gx.ExpectationSuite(name=f"{name}__suite", expectations=expectations))
    # one definition per engine: each refers to its own data source's asset
    vd = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=f"{name}__{engine}__validation", data=batch, suite=suite)
    )
    checkpoint = context.checkpoints.add_or_update(
        gx.Checkpoint(
            name=f"{name}__{engine}__checkpoint",
            validation_definitions=[vd],
            actions=[],
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": 0},
        )
    )
    from great_expectations.core.run_identifier import RunIdentifier

    result = checkpoint.run(
        batch_parameters={"dataframe": df}, run_id=RunIdentifier(run_name=run_id) if run_id else None
    )
    return next(iter(result.run_results.items()))


def build_pages(context, result_keys: list) -> None:
    """Render the Data Docs pages of these stored validation results and of their suites, and
    the site's index, in one build."""
    ids = [
        *result_keys,
        *{k.expectation_suite_identifier.name: k.expectation_suite_identifier for k in result_keys}.values(),
    ]
    if ids:
        context.build_data_docs(site_names=[SITE_NAME], resource_identifiers=ids)


def history_roots() -> list[Path]:
    """Where validations pile up: GX's result store and the site's pages of them."""
    return [gx_root() / "gx" / "uncommitted" / "validations", docs_dir() / "validations"]


def _validated_at(ts: Path) -> datetime:
    """A stored validation's time: GX names its folder by it (``20261129T174950.072399Z``)."""
    for fmt in ("%Y%m%dT%H%M%S.%fZ", "%Y%m%dT%H%M%SZ"):
        try:
            return datetime.strptime(ts.name, fmt).replace(tzinfo=UTC)
        except ValueError:
            pass
    return datetime.fromtimestamp(ts.stat().st_mtime, UTC)


def prune_history(keep: int = 30, roots: list[Path] | None = None, older_than: datetime | None = None) -> int:
    """Keep each suite's newest ``keep`` validations in GX's store and in the site (the site's
    index reads every stored result, so it would slow down run after run; the full history is
    the results table's); with ``older_than``, of the rest only those validated before it go.
    Returns the number removed."""
    roots = roots or history_roots()
    removed = 0
    for root in roots:
        for suite in (d for d in root.glob("*") if d.is_dir()) if root.exists() else ():
            runs = sorted(
                (ts for run in suite.iterdir() if run.is_dir() for ts in run.iterdir() if ts.is_dir()),
                key=lambda ts: ts.name,
            )
            for old in runs[:-keep] if keep else runs:
                if older_than is not None and _validated_at(old) >= older_than:
                    continue
                shutil.rmtree(old)
                removed += 1
                if not any(old.parent.iterdir()):
                    old.parent.rmdir()
    return removed


def webjars() -> list[Path]:
    return sorted((get_settings().jars_dir / "webjars").glob("*.jar"))


@lru_cache(maxsize=1)
def _webjar_index() -> dict[str, tuple[Path, str]]:
    """asset path (after META-INF/resources/webjars/) -> (jar, member)."""
    index = {}
    for jar in webjars():
        with zipfile.ZipFile(jar) as z:
            for member in z.namelist():
                if member.startswith(_WEBJAR_ROOT) and not member.endswith("/"):
                    index[member[len(_WEBJAR_ROOT) :]] = (jar, member)
    return index


def _referenced_by_css(css: str, css_path: str, index: dict) -> set[str]:
    """Webjar paths a stylesheet loads through ``url(...)`` (Font Awesome's fonts)."""
    refs = set()
    for ref in _CSS_URL.findall(css):
        target = posixpath.normpath(posixpath.join(posixpath.dirname(css_path), ref))
        if target in index:
            refs.add(target)
    return refs


def _vendor(site: Path) -> None:
    """Unpack the assets the site's pages load, and the files their stylesheets load, once each
    (a whole webjar folder would be thousands of files: Font Awesome alone ships 2,000 SVGs)."""
    index = _webjar_index()
    wanted = {p for p in CDN_ASSETS.values() if p}
    missing = sorted(p for p in wanted if p not in index)
    if missing:
        raise OfflineAssetsMissing(
            f"web assets missing from {get_settings().jars_dir / 'webjars'}: {missing}; run infra/fetch_jars.sh"
        )
    if all((site / VENDOR_DIR / p).exists() for p in wanted):
        return
    by_jar: dict[Path, list[str]] = {}
    for path in wanted:
        by_jar.setdefault(index[path][0], []).append(path)
    for jar, paths in by_jar.items():
        with zipfile.ZipFile(jar) as z:
            needed = set(paths)
            for path in paths:
                if path.endswith(".css"):
                    needed |= _referenced_by_css(z.read(index[path][1]).decode("utf-8", "replace"), path, index)
            for path in needed:
                target = site / VENDOR_DIR / path
                target.parent.mkdir(parents=True, exist_ok=True)
                with z.open(index[path][1]) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)


def offline_html(html: str, page: Path, site: Path) -> str:
    """The page with every CDN asset pointed at the site's copy (relative to the page), or dropped.
    An asset this table does not know is an error, not a silent online dependency."""

    def swap(m: re.Match) -> str:
        tag, url = m.group(0), m.group(2)
        if url not in CDN_ASSETS:
            raise OfflineAssetsMissing(f"{page}: no local copy of {url}; add it to docs.CDN_ASSETS")
        local = CDN_ASSETS[url]
        if local is None:
            return ""
        rel = os.path.relpath(site / VENDOR_DIR / local, page.parent)
        return (
            tag.replace(url, rel)
            .replace(' integrity="', ' data-integrity="')
            .replace(' crossorigin="', ' data-crossorigin="')
        )

    html = _TAG.sub(swap, html)
    static = os.path.relpath(site / "static", page.parent)
    html = _GX_IMAGE.sub(lambda m: f"{static}/images/{m.group(1)}", html)
    # GX counts a page's depth from the suite name's dots, which misses our folder depth: re-aim
    # every relative static/ reference at the site's own folder.
    return _STATIC_REF.sub(lambda m: f"{m.group(1)}{static}/", html)


def make_offline(site: Path | None = None) -> int:
    """Rewrite every page of the site; returns the number of pages. Idempotent."""
    site = site or docs_dir()
    if not site.exists():
        return 0
    _vendor(site)
    pages = list(site.rglob("*.html"))
    for page in pages:
        html = page.read_text(encoding="utf-8")
        new = offline_html(html, page, site)
        if new != html:
            page.write_text(new, encoding="utf-8")
    return len(pages)
