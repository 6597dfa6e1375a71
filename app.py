"""Backprop Lab: streamlit run app.py

The entry point only lays out navigation; each page lives in pages/ and calls plain functions.
"""

import streamlit as st

st.set_page_config(page_title="Backprop Lab", page_icon=":material/hub:", layout="wide")

PAGES = {
    "Backpropagation": [
        st.Page("pages/home.py", title="Network", icon=":material/hub:", default=True),
        st.Page("pages/step_through.py", title="Step through", icon=":material/footprint:"),
        st.Page("pages/worksheet.py", title="Worksheet", icon=":material/table:"),
        st.Page("pages/learning_rate.py", title="Learning rate", icon=":material/trending_down:"),
        st.Page("pages/checker.py", title="Check a worksheet", icon=":material/fact_check:"),
    ],
    "MNIST": [
        st.Page("pages/training.py", title="MNIST training", icon=":material/neurology:"),
    ],
}

st.navigation(PAGES).run()
