//! See the package description: everything is in `tests/`.
