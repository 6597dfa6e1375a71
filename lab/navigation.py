"""A guard against a Streamlit start-up quirk with a folder named pages/ beside app.py.

When the very first visitor of a freshly started server opens a deep link (/step_through?...), Streamlit
has not run app.py yet, so it still assumes the old "pages/ folder" layout: it runs the page file on its
own and shows a sidebar of file names (app, checker, home …) in the narrow layout. Running app.py once
(st.navigation) switches it for good. A backprop page that finds itself run that way asks for one rerun,
which goes through app.py; this is checked once per process. (AppTest resets the flag on every run
and so always runs pages the old way; it needs no rerun and gets at most one.) (Upstream: streamlit/runtime/pages_manager.py, PagesManager.uses_pages_directory.)
"""

from __future__ import annotations

import streamlit as st

_checked = False  # once per process: the quirk only exists before app.py's first run


def ensure_app_navigation() -> None:
    global _checked
    if _checked:
        return
    _checked = True
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a Streamlit without this module has no such quirk to work around
        return
    if getattr(PagesManager, "uses_pages_directory", False):
        PagesManager.uses_pages_directory = False  # what st.navigation itself sets on its first call
        st.rerun()
