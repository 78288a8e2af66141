"""The desktop app (PySide6). Widgets stay thin: state lives in `panel_state`, `run_record` and
`controller`; all model work runs on the one worker thread in `worker`."""
