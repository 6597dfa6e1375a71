"""The "Download .xlsx" buttons: the live worksheet from exports.xlsx, for the setup on screen.

Building a workbook takes seconds (6 learning rates x 1,000 rows is about 4 s), so it is built only
when asked for, then offered for download and cached for the next student with the same setup.
"""

from __future__ import annotations

import streamlit as st

from backprop_core import Config

from . import compute
from .format import show_lrs, show_number

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@st.cache_data(max_entries=8, show_spinner="Writing the workbook…")
def _workbook(config: dict, lrs: tuple[float, ...], steps: int) -> bytes:
    # Imported here: the Learning rate page needs openpyxl only once a student asks for a workbook.
    from exports.xlsx import workbook_bytes

    return workbook_bytes(Config.from_dict(config), list(lrs), steps)


def xlsx_button(config: Config, lrs: tuple[float, ...], steps: int, key: str = "xlsx") -> None:
    """A "Prepare" button, then a "Download .xlsx" button; a setup the export refuses gets its message."""
    from exports.xlsx import MAX_EXPORT_STEPS

    signature = (compute.key(config), tuple(lrs), int(steps))
    ready_key = f"{key}_ready"
    st.markdown(
        f"**Live worksheet (.xlsx)**: one sheet per learning rate ({show_lrs(lrs)}), {steps:,} steps, "
        f"every cell a formula that Excel or LibreOffice recalculates. At most {MAX_EXPORT_STEPS:,} steps: "
        "for a longer run use the CSV."
    )
    if st.button("Prepare the .xlsx worksheet", key=f"{key}_prepare"):
        try:
            st.session_state[ready_key] = (signature, _workbook(*signature))
        except ValueError as error:  # ConfigError is a ValueError: a one-line message for the student
            st.session_state.pop(ready_key, None)
            st.error(f"Cannot export this setup: {error}", icon=":material/warning:")
    ready = st.session_state.get(ready_key)
    if ready and ready[0] == signature:
        st.download_button(
            "Download .xlsx",
            data=ready[1],
            file_name=f"backprop-{config.activation}-lr-{'_'.join(show_number(lr) for lr in lrs)}-{steps}-steps.xlsx",
            mime=XLSX_MIME,
            key=f"{key}_download",
            icon=":material/download:",
        )
