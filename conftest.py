# Repo-local settings only: the plugin itself is registered through the `pytest11` entry point.
pytest_plugins = ["pytester"]
