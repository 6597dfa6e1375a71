"""The app's pages, each run by st.navigation in app.py (a package so that an install finds them)."""
