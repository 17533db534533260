"""Command-line interface (`seminfo COMMAND --help`)."""
