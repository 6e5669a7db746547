"""The password gate: when `QUIRE_AUTH__PASSWORD` is set (required beyond 127.0.0.1), nothing of
the app renders until this browser session has given it; failures lock out per `rag.auth`."""

from __future__ import annotations

import streamlit as st

from rag.auth import LoginGuard
from rag.settings import Settings

SIGNED_IN = "signed_in"


def guard(settings: Settings) -> LoginGuard:
    """Failures are counted on disk, so a restart does not reset a lockout."""
    return LoginGuard(
        settings.data_dir / "ui" / "login-failures.json",
        settings.auth.password,
        max_failures=settings.auth.max_failures,
        lockout_s=settings.auth.lockout_seconds,
    )


def signed_in(settings: Settings) -> bool:
    """True when no password is set or this session gave it; otherwise shows the sign-in form."""
    if not settings.auth.password or st.session_state.get(SIGNED_IN):
        return True
    st.title("Quire")
    with st.form("sign-in"):
        given = st.text_input("Password", type="password")
        if st.form_submit_button("Sign in", type="primary"):
            result = guard(settings).attempt(given)
            if result.ok:
                st.session_state[SIGNED_IN] = True
                st.rerun()
            st.error(result.message)
    return False
