"""Backprop Lab: streamlit run app.py

The entry point only lays out navigation. Each page lives in app_pages/ and calls plain functions.
(Not pages/: a folder of that name beside app.py switches on Streamlit's older folder-based navigation,
which a fresh server uses for a deep link before app.py has ever run.)
"""

from pathlib import Path

import streamlit as st

from lab import auth

# The tab's icon is a file served by this server: a :material/…: page icon makes every visitor's browser
# fetch it from fonts.gstatic.com, which a class server should not make its students do.
FAVICON = Path(__file__).parent / "lab" / "favicon.png"
st.set_page_config(page_title="Backprop Lab", page_icon=str(FAVICON), layout="wide")
auth.gate()  # with login configured (secrets.toml [auth]), nothing below runs until the visitor logs in

PAGES = {
    "Backpropagation": [
        st.Page("app_pages/home.py", title="Network", icon=":material/hub:", default=True),
        st.Page("app_pages/step_through.py", title="Step through", icon=":material/footprint:"),
        st.Page("app_pages/worksheet.py", title="Worksheet", icon=":material/table:"),
        st.Page("app_pages/learning_rate.py", title="Learning rate", icon=":material/trending_down:"),
        st.Page("app_pages/checker.py", title="Check a worksheet", icon=":material/fact_check:"),
    ],
    "MNIST": [
        st.Page("app_pages/training.py", title="MNIST training", icon=":material/neurology:"),
    ],
}

st.navigation(PAGES).run()
