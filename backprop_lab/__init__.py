"""The `backprop-lab` command: starts the Streamlit app from wherever the package is installed."""
