"""Backprop Lab: streamlit run app.py

The entry point only lays out navigation; each page lives in pages/ and calls plain functions.
"""

import streamlit as st

st.set_page_config(page_title="Backprop Lab", page_icon="🧮", layout="wide")

PAGES = {
    "Backpropagation": [
        st.Page("pages/home.py", title="Network", icon="🕸️", default=True),
        st.Page("pages/step_through.py", title="Step through", icon="👣"),
        st.Page("pages/worksheet.py", title="Worksheet", icon="📋"),
        st.Page("pages/learning_rate.py", title="Learning rate", icon="📉"),
        st.Page("pages/checker.py", title="Check a worksheet", icon="✅"),
    ],
    "MNIST": [
        st.Page("pages/training.py", title="MNIST training", icon="🔢"),
    ],
}

st.navigation(PAGES).run()
