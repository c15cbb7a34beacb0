"""The claims as tests. Each module is one benchmark, selected by its marker."""
