"""The `tutor` command line (imports nothing here, so `tutor --help` loads only what it needs)."""
