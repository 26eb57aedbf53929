"""MkDocs hooks: each language's site holds its own pages, and links between
languages lead to the page in its own language.

mkdocs-static-i18n builds the English site, then the French and Dutch ones,
each from the pages of its folder (docs/fr/, docs/nl/) and, for every page that
language lacks, a copy of the English page (its fallback, which also brings the
pictures the French and Dutch pages show). Such a copy would be English text
under a French or Dutch interface and a second address for the same text, and
a link from one language's page to another's (the English home page to
fr/index.md, the French page to ../import.md) would find no target.

So, in each language's build: the copies are dropped; every other page of
docs/ is known to the build as excluded (not written, not in the navigation or
the search index) at its own language's address, so that links to it resolve
there; and the header's language switcher and the sitemap name a page's
translation only where there is one, else the other language's home page.

Each language's build writes the theme's page for a missing address,
404.html, at the top of the site, where the server sends every missing
address: only the English build writes it, so that it stays English.

The toc extension writes the title of the headings' permanent links, in one
language for the whole site: each build takes it from the theme's words of its
language (partials/languages/kpi-*.html), as the theme's own search plugin
does for its settings.
"""

from __future__ import annotations

from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files, InclusionLevel, get_files


def _i18n(config: MkDocsConfig) -> Any:
    return config.plugins["i18n"]


@event_priority(-110)  # after mkdocs-static-i18n has set up the language's build (-100)
def on_config(config: MkDocsConfig) -> MkDocsConfig:
    i18n = _i18n(config)
    if i18n.current_language == i18n.default_language:
        config.theme.static_templates.add("404.html")
    else:
        config.theme.static_templates.discard("404.html")
    return config


@event_priority(-110)  # after mkdocs-static-i18n has chosen each language's files (-100)
def on_files(files: Files, config: MkDocsConfig) -> Files:
    i18n = _i18n(config)
    language = i18n.current_language
    for file in list(files.documentation_pages()):
        if file.locale != language:
            files.remove(file)
        else:
            file.alternates = {
                lang: other for lang, other in file.alternates.items() if other.locale == lang
            }
    built = {file.src_uri for file in files.documentation_pages()}
    for page in get_files(config).documentation_pages():
        if page.src_uri in built or page.inclusion.is_excluded():
            continue
        # At the address mkdocs gives it, which is its own language's build's.
        files.append(
            File(
                page.src_path,
                config.docs_dir,
                config.site_dir,
                config.use_directory_urls,
                inclusion=InclusionLevel.EXCLUDED,
            )
        )
    # Before the pages are rendered (the theme's template environment is made later).
    words = config.theme.get_env().get_template("partials/language.html", None, {"config": config})
    config.mdx_configs["toc"]["permalink_title"] = words.module.t("toc.permalink")
    i18n.i18n_files_per_language[language] = [
        file for file in files.documentation_pages() if file.inclusion.is_included()
    ]
    return files
